// A "select all" box in a table's head ticks or clears every box of its table's body.
document.querySelectorAll("[data-select-all]").forEach((all) => {
  const table = all.closest("table");
  all.addEventListener("change", () => {
    table.querySelectorAll("tbody input[type=checkbox]").forEach((box) => {
      box.checked = all.checked;
    });
  });
});
