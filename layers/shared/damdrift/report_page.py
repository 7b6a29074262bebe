"""What every HTML page dam-drift stores shares: its content type, its one script (sorting a table by a
column) and the Content-Security-Policy that allows only that script, by its hash.

Its own module, below the report's rendering, because the report viewer sends the same policy as a
header (:mod:`damdrift.viewer.serve`) and has no use for the renderer.
"""

from __future__ import annotations

import base64
import hashlib

HTML_CONTENT_TYPE = "text/html; charset=utf-8"

SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.title = "Sort by this column";
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var up = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[th.cellIndex].textContent, y = b.cells[th.cellIndex].textContent;
      var nx = Number(x), ny = Number(y);
      var order = (x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return up ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()
#: The pages' policy, in each page's ``<meta>`` and sent as a header by the report viewer.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"
)
