"""The live page: one self-contained HTML document (the HTML report's CSS and bar
patterns, a small script, nothing from a network) that shows the latest frame at once
and then replaces its fragments with each frame pushed over server-sent events."""

from __future__ import annotations

from typing import Any

from ..report.html import _CSS as REPORT_CSS
from ..report.html import _PATTERNS as BAR_PATTERNS
from ..report.html import SORT_ROWS_JS, esc

_LIVE_CSS = """
.status { font-weight: 650; padding: 8px 12px; border-radius: 6px; border: 2px solid var(--line); margin: 8px 0; }
.status.running { border-color: var(--s0); } .status.running::before { content: "● "; color: var(--c0); }
.status.done { border-color: var(--c0); } .status.done::before { content: "■ "; }
#link { color: var(--muted); font-size: .85rem; }
tr.ok td:last-child { color: var(--c0); }
"""

# Frames replace the fragments; the endpoint table's sort is kept across frames (the
# report's own script binds to one table, gone at the next frame: clicks are delegated).
_SCRIPT = """
(function () {
  var sorted = null;
  var frames = 0;
  function sortTable(column, ascending) {
    var table = document.querySelector('#endpoints table');
    if (table) sortRows(table, column, ascending);
  }
  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('#endpoints th button');
    if (!button) return;
    var th = button.parentNode;
    var column = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.getAttribute('aria-sort') !== 'ascending';
    sorted = [column, ascending];
    sortTable(column, ascending);
  });
  function show(frame) {
    Object.keys(frame.html).forEach(function (id) {
      var node = document.getElementById(id);
      if (node) node.innerHTML = frame.html[id];
    });
    if (sorted) sortTable(sorted[0], sorted[1]);
    frames += 1;
    document.body.dataset.frames = String(frames);
    document.body.dataset.done = frame.done ? 'yes' : 'no';
  }
  if (!window.EventSource) return;
  var link = document.getElementById('link');
  var source = new EventSource('events');
  source.onopen = function () { link.textContent = 'live: a frame every second'; };
  source.onmessage = function (event) {
    var frame = JSON.parse(event.data);
    show(frame);
    if (frame.done) {  // the last frame: the page keeps it, the server is going away
      source.close();
      link.textContent = 'the run has ended: this page keeps its final state';
    }
  };
  source.onerror = function () {
    if (document.body.dataset.done === 'yes') return;
    // A stream refused (503: too many pages open) is closed for good; else the browser
    // tries again by itself.
    link.textContent = source.readyState === EventSource.CLOSED
      ? 'not connected: the dashboard refused this page (too many open?); reload to try again'
      : 'reconnecting…';
  };
})();
"""


def render_page(frame: dict[str, Any], source: str, target: str) -> str:
    """The whole page, showing `frame` until the next one arrives."""
    html = frame["html"]
    sections = f"""
<header>
  <h1>yamlload live</h1>
  <p class="meta"><strong>{esc(source)}</strong> → {esc(target)} · <span id="link">connecting…</span></p>
</header>
<div id="status">{html["status"]}</div>
<section aria-label="key numbers" id="tiles">{html["tiles"]}</section>
<section><h2>Checks</h2><div id="checks">{html["checks"]}</div></section>
<section><h2>Over time</h2><div id="charts">{html["charts"]}</div></section>
<section><h2>Endpoints</h2><p class="hint">Click a column to sort.</p><div id="endpoint-rows">{html["endpoint-rows"]}</div></section>
"""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
        f"<title>yamlload live: {esc(source)}</title><style>{REPORT_CSS}{_LIVE_CSS}</style></head><body>"
        f'<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>{BAR_PATTERNS}</defs></svg>'
        f"{sections}<script>{SORT_ROWS_JS}{_SCRIPT}</script></body></html>\n"
    )
