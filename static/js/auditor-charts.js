// Draws the auditor dashboard's charts with Chart.js from the JSON block the page carries.
// Loaded as a file because the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  var source = document.getElementById("auditor-chart-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var figures = JSON.parse(source.textContent);
  // Bootstrap's palette, so the charts match the rest of the portal.
  var COLOURS = ["#0d6efd", "#dc3545", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#d63384",
    "#0dcaf0", "#6c757d"];
  var STACKED = { anomalies: true };

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var key = canvas.getAttribute("data-chart");
    var figure = figures[key];
    if (!figure) {
      return;
    }
    var type = canvas.getAttribute("data-chart-type") || "bar";
    var datasets = figure.datasets.map(function (dataset, index) {
      var colour = COLOURS[index % COLOURS.length];
      return {
        label: dataset.label,
        data: dataset.data,
        borderColor: colour,
        backgroundColor: type === "line" ? colour : colour + "cc",
        borderWidth: type === "line" ? 2 : 1,
        pointRadius: type === "line" ? 2 : 0,
        tension: 0
      };
    });
    new window.Chart(canvas, {
      type: type,
      data: { labels: figure.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: true,
        aspectRatio: key === "offline_sales" ? 3 : 2,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
        scales: {
          x: { stacked: !!STACKED[key] },
          y: { stacked: !!STACKED[key], beginAtZero: true, ticks: { precision: 0 } }
        }
      }
    });
  });
})();
