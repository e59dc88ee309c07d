// A click on a column header of a sortable table sorts its rows by that column (numbers as numbers,
// from each cell's data-sort, else its text); a second click on the same header reverses the order.
function sortRows(header) {
  var table = header.closest("table");
  var body = table.tBodies[0];
  var column = Array.prototype.indexOf.call(header.parentNode.cells, header);
  var numeric = header.dataset.type === "number";
  var ascending = header.getAttribute("aria-sort") !== "ascending";
  var key = function (row) {
    var cell = row.cells[column];
    var value = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
    return numeric ? parseFloat(value) : value.toLowerCase();
  };
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = key(a), y = key(b);
    var order = x < y ? -1 : x > y ? 1 : 0;
    return ascending ? order : -order;
  });
  rows.forEach(function (row) { body.appendChild(row); });
  Array.prototype.forEach.call(header.parentNode.cells, function (cell) { cell.removeAttribute("aria-sort"); });
  header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
}
window.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("table.sortable thead th").forEach(function (header) {
    header.querySelector("button").addEventListener("click", function () { sortRows(header); });
  });
});
