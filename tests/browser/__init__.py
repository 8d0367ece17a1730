"""Headless Chromium for the UI tests, driven from Python through its command line only.

``find_chromium()`` is the browser's path or None; ``dump_dom(url, ...)`` the DOM after the
page's scripts ran (``--virtual-time-budget``: timers such as the live page's 2 s polling run
fast, and real network fetches are waited for); ``screenshot(url, png)`` writes a PNG.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    browser = find_chromium()
    if browser is None:
        raise RuntimeError("no chromium on PATH")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=True)


def dump_dom(url: str, budget_ms: int = 3000, timeout: float = 60) -> str:
    return _run([f"--virtual-time-budget={budget_ms}", "--dump-dom", url], timeout).stdout


def screenshot(url: str, png, size: str = "1280,1600", budget_ms: int = 3000, timeout: float = 60) -> None:
    _run([f"--virtual-time-budget={budget_ms}", f"--screenshot={png}", f"--window-size={size}", url], timeout)


SHOTS = "/work/notes/screenshots"  # where the lead looks at them, when that folder's parent exists


def keep_screenshot(url: str, png, size: str = "1400,2400", budget_ms: int = 3000) -> None:
    """``screenshot`` to ``png``, checked to be a real picture, and copied to :data:`SHOTS`."""
    from pathlib import Path

    screenshot(url, png, size=size, budget_ms=budget_ms)
    png = Path(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    shots = Path(SHOTS)
    if shots.parent.is_dir():
        shots.mkdir(exist_ok=True)
        shutil.copy(png, shots / png.name)


# Measured in the page: for each chart its x-axis ticks, and whether its legend box meets any
# data mark (a series' path, a point) or the plot area; the decisions drawn on the chosen
# architecture; the points of the scatters; the runs whose curves a comparison draws.
MEASURE_JS = r"""
(() => {
  const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const charts = [...document.querySelectorAll("svg.chart")].map(svg => {
    const legend = svg.querySelector("g.legend"), area = svg.querySelector("rect.plot-area");
    const marks = [...svg.querySelectorAll("path.series, path.pareto, circle.point, circle.rank-point, circle.trial-point")];
    const box = legend && legend.getBoundingClientRect();
    return {id: svg.getAttribute("data-chart"), xaxis: svg.getAttribute("data-xaxis"),
            section: svg.closest("section") ? svg.closest("section").id : null,
            xticks: [...svg.querySelectorAll("text.xtick")].map(t => t.textContent),
            legend: legend ? [...legend.querySelectorAll("text")].map(t => t.textContent) : [],
            marks: marks.length,
            hits: legend ? marks.filter(m => meets(box, m.getBoundingClientRect())).length : 0,
            over_plot: !!(legend && area && meets(box, area.getBoundingClientRect())),
            runs: [...new Set([...svg.querySelectorAll("path.series[data-run]")].map(p => p.getAttribute("data-run")))]};
  });
  const chosen = [...document.querySelectorAll("svg.graph[data-mode=chosen]")];
  const drawn = chosen.flatMap(g => [...g.querySelectorAll("text[data-label]")]);
  return {charts: charts, sections: [...document.querySelectorAll("section")].map(x => x.id),
          titles: [...document.querySelectorAll("section > h2")].map(x => x.textContent),
          chosen_labels: [...new Set(drawn.flatMap(t => t.getAttribute("data-label").split(" ")))],
          chosen_texts: drawn.map(t => t.firstChild.textContent),  // without a <title> of the whole line
          rank_points: document.querySelectorAll("#rank-scatter circle.rank-point").length,
          run_columns: [...document.querySelectorAll(".run-arch")].map(c => ({run: c.getAttribute("data-run"),
                         graphs: c.querySelectorAll("svg.graph[data-mode=chosen]").length,
                         differs: [...new Set([...c.querySelectorAll(".differs")].map(e => e.getAttribute("data-label")))]})),
          header: document.getElementById("meta").textContent};
})()
"""


def measure(html_file, out_file, script: str = MEASURE_JS, budget_ms: int = 3000) -> dict:
    """Run ``script`` (an expression) in the rendered page of ``html_file`` and return its value
    (JSON): a copy of the page at ``out_file`` gets a last script that writes the value into
    the DOM, which ``dump_dom`` then reads back."""
    import html
    import json
    import re
    from pathlib import Path

    page = Path(html_file).read_text(encoding="utf-8")
    probe = ("<script>document.body.appendChild(Object.assign(document.createElement('pre'), "
             "{id: 'measured', textContent: JSON.stringify(" + script.strip() + ")}));</script>")
    at = page.rindex("</body>")
    Path(out_file).write_text(page[:at] + probe + page[at:], encoding="utf-8")
    dom = dump_dom(Path(out_file).resolve().as_uri(), budget_ms=budget_ms)
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    if found is None:
        raise AssertionError("the page did not run the measuring script:\n" + dom[-2000:])
    return json.loads(html.unescape(found.group(1)))
