// Follows a distribution run on its page: polls the run's progress JSON and updates the bar and
// the counts until the run is finished (done, failed or canceled), then reloads the page once to show the final
// sessions. Loaded as a file because the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  var POLL_MS = 2000;
  var COLOURS = {
    waiting: "secondary",
    running: "info",
    done: "success",
    failed: "danger",
    canceled: "warning",
  };

  var box = document.getElementById("run-progress");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var holder = box.querySelector("[data-progress-bar]");
  var bar = holder ? holder.querySelector(".progress-bar") : null;

  function showPercent(percent) {
    if (!bar) {
      return;
    }
    // Setting the style from a script is allowed by the CSP; a style attribute would not be.
    bar.style.width = percent + "%";
    holder.setAttribute("aria-valuenow", String(percent));
  }

  function show(progress) {
    showPercent(progress.percent);
    box.querySelectorAll("[data-field]").forEach(function (field) {
      var name = field.getAttribute("data-field");
      if (Object.prototype.hasOwnProperty.call(progress, name)) {
        field.textContent = String(progress[name]);
      }
    });
    if (progress.sessions_failed > 0 && bar) {
      bar.classList.add("bg-danger");
    }
    if (progress.status !== "waiting") {
      box.querySelectorAll("[data-waiting]").forEach(function (note) {
        note.hidden = true;
      });
    }
    document.querySelectorAll("[data-run-status]").forEach(function (badge) {
      badge.textContent = progress.status_label;
      badge.setAttribute("data-run-status", progress.status);
      badge.className = "badge text-bg-" + (COLOURS[progress.status] || "secondary");
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        // A signed-out session is sent to the sign-in page: stop rather than parse HTML.
        if (!response.ok || response.redirected) {
          throw new Error("progress unavailable: " + response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (progress.finished) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, POLL_MS);
      })
      .catch(function () {
        if (bar) {
          bar.classList.remove("progress-bar-animated");
        }
      });
  }

  showPercent(Number(bar ? bar.getAttribute("data-percent") : 0) || 0);
  if (box.getAttribute("data-finished") !== "true") {
    window.setTimeout(poll, POLL_MS);
  }
})();
