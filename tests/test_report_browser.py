"""The Snakemake report of the tiny default, opened in headless Chromium as a reviewer would.

`snakemake --report report.html` (one self-contained file) and `--report report.zip` (the workflow
catalog's convention; unzipped) are each opened from disk. The test clicks through the report's
own menu: every result of the Tables and Figures categories is shown with its view button, every
figure must be a decoded, non-blank image on screen, and every HTML table must render the cells
of the table file the workflow wrote (the main table: every method's label visible). Screenshots
land in `results/report_screenshots/` of the run and of this checkout (`report_screenshot.png`:
the main table) for a person to look at; the test prints where.

Chromium comes from Debian's package (`make test` installs it when run as root). Without it the
test skips, unless W2S_REQUIRE_BROWSER=1 (CI's `.ci/run`), where it fails instead.
"""

from __future__ import annotations

import csv
import html.parser
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.browser import BrowserError, Chromium, find_chromium
from tests.conftest import ROOT, run_snakemake

CATEGORIES = ("Tables", "Figures")
MAIN_TABLE = "results/tables/toy.html"
SCREENSHOTS = Path(os.environ.get("W2S_SCREENSHOT_DIR", ROOT / "results")) / "report_screenshots"

# In the page: click the menu entry (or breadcrumb) whose text is exactly `text`.
CLICK_LINK = """(text => {
  const a = [...document.querySelectorAll('nav a')].find(e => e.innerText.trim() === text);
  if (!a) return false; a.click(); return true; })(%s)"""
# The view buttons of the results listed in the menu (download links of CSVs left out).
VIEW_BUTTONS = "[...document.querySelectorAll('nav table tbody tr a[iconname=eye]:not([download])')]"
SHOWN = """(() => {
  const s = app.state; if (!s.resultPath || (s.content !== 'img' && s.content !== 'html')) return null;
  const tag = s.content === 'img' ? 'img' : 'iframe';
  const el = [...document.querySelectorAll(tag)].find(e => e.getAttribute('src') === s.contentPath);
  if (!el) return null;
  if (tag === 'img' && !(el.complete && el.naturalWidth > 0)) return null;
  const r = el.getBoundingClientRect();
  return {path: s.resultPath, kind: s.content, url: el.src, width: el.naturalWidth || 0, height: el.naturalHeight || 0,
          box: {x: r.x, y: r.y, width: r.width, height: r.height}};
})()"""
CELLS = "[...document.querySelectorAll('th, td')].map(c => c.textContent.replace(/\\s+/g, ' ').trim())"


def require_chromium() -> str:
    exe = find_chromium()
    if exe:
        return exe
    reason = ("Chromium not found: install Debian's package (apt-get install --no-install-recommends chromium; "
              "`make test` does it when run as root)")
    if os.environ.get("W2S_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + "; W2S_REQUIRE_BROWSER=1 makes this a failure")
    pytest.skip(reason)


class _Cells(html.parser.HTMLParser):
    """The th/td texts of an HTML file, whitespace collapsed (what the browser's textContent gives)."""

    def __init__(self):
        super().__init__()
        self.cells: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("th", "td"):
            self._open = []

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._open is not None:
            self.cells.append(re.sub(r"\s+", " ", "".join(self._open)).strip())
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open.append(data)


def table_cells(path: Path) -> list[str]:
    parser = _Cells()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.cells


def distinct_colours(png: bytes) -> int:
    from PIL import Image

    colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours or [])


def show_every_result(browser: Chromium, url: str, category: str) -> dict[str, dict]:
    """Open the report, go to `category` in its menu and press every view button; per result path
    what was on screen: kind, the element's box, a screenshot of it, and (HTML) the frame's cells."""
    browser.open(url, ready="typeof app !== 'undefined' && document.querySelector('nav') !== null")
    assert browser.eval(CLICK_LINK % json.dumps(category)), f"no menu entry {category!r} in {url}"
    subcategories = browser.eval(f"Object.keys(categories[{json.dumps(category)}])")
    seen = {}
    for sub in subcategories:
        if len(subcategories) > 1:
            assert browser.eval(CLICK_LINK % json.dumps(sub)), f"no menu entry {sub!r} under {category!r}"
        count = browser.wait_for(f"{VIEW_BUTTONS}.length")
        for i in range(count):
            browser.eval("app.setView({content: 'text', contentText: ' '}), true")  # blank between results
            browser.eval(f"{VIEW_BUTTONS}[{i}].click(), true")
            shown = browser.wait_for(SHOWN)
            if shown["kind"] == "html":
                frame = browser.wait_for_frame(shown["url"])
                browser.frame_eval(frame["id"], "document.readyState === 'complete' && !!document.querySelector('table')",
                                   wait=True)
                shown["cells"] = browser.frame_eval(frame["id"], CELLS)
                shown["text"] = browser.frame_eval(frame["id"], "document.body.innerText")
            box = shown["box"]
            assert box["width"] > 50 and box["height"] > 50, (shown["path"], box)
            clip = {"x": box["x"], "y": box["y"], "width": min(box["width"], browser.width - box["x"]),
                    "height": min(box["height"], browser.height - box["y"])}
            shown["element_png"] = browser.screenshot(clip)
            shown["page_png"] = browser.screenshot()
            seen[shown["path"]] = shown
        if len(subcategories) > 1:
            browser.eval(CLICK_LINK % json.dumps(category))
    return seen


def check_report(url: str, workdir: Path, label: str, exe: str) -> dict[str, Path]:
    """Every HTML table and figure of the report renders; returns the screenshots written."""
    with Chromium(exe) as browser:
        browser.open(url, ready="typeof app !== 'undefined' && typeof categories !== 'undefined'")
        listed = browser.eval("categories")
        mime = browser.eval("Object.fromEntries(Object.entries(results).map(([p, r]) => [p, r.mime_type]))")
        seen = {}
        for category in CATEGORIES:
            assert category in listed, f"the report has no {category!r} category: {sorted(listed)}"
            seen.update(show_every_result(browser, url, category))
    expected = {p for c in CATEGORIES for paths in listed[c].values() for p in paths
                if mime[p] in ("text/html", "image/png", "image/svg+xml")}
    assert MAIN_TABLE in expected and any(m == "image/png" for m in mime.values())
    assert set(seen) == expected, f"shown {sorted(seen)}, listed {sorted(expected)}"

    shots = {}
    out_dirs = [workdir / "results" / "report_screenshots" / label, SCREENSHOTS / label]
    for path, shown in sorted(seen.items()):
        if mime[path].startswith("image/"):
            assert shown["kind"] == "img" and shown["width"] > 100 and shown["height"] > 100, shown["path"]
            assert distinct_colours(shown["element_png"]) > 20, f"{path}: the figure on screen is blank"
        else:
            assert shown["kind"] == "html"
            assert shown["cells"] == table_cells(workdir / path), f"{path}: the cells on screen differ from the file"
            assert distinct_colours(shown["element_png"]) > 2, f"{path}: the table on screen is blank"
        name = path.removeprefix("results/").replace("/", "_").rsplit(".", 1)[0]  # tables_toy.passk
        for folder in out_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.png").write_bytes(shown["page_png"])
        shots[path] = out_dirs[-1] / f"{name}.png"

    with open(workdir / "results/tables/toy.csv", newline="") as f:
        labels = [row["method"] for row in csv.DictReader(f)]  # the rows' display labels
    assert labels and all(lab in seen[MAIN_TABLE]["text"] for lab in labels), labels
    return shots


@pytest.fixture(scope="module")
def reports(e2e_run) -> dict[str, str]:
    """report.html and the unzipped report.zip of the end-to-end run, as file:// URLs."""
    out = {}
    for name in ("report.html", "report.zip"):
        res = run_snakemake(e2e_run, "--report", name, timeout=600)
        assert res.returncode == 0 and (e2e_run / name).stat().st_size > 0, res.stderr[-3000:]
    unzipped = e2e_run / "report_zip"
    shutil.rmtree(unzipped, ignore_errors=True)
    with zipfile.ZipFile(e2e_run / "report.zip") as z:
        z.extractall(unzipped)
    (inner,) = unzipped.glob("*/report.html")
    out["html"] = (e2e_run / "report.html").as_uri()
    out["zip"] = inner.as_uri()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["html", "zip"])
def test_report_shows_the_main_table_and_every_figure(reports, e2e_run, kind):
    exe = require_chromium()
    try:
        shots = check_report(reports[kind], e2e_run, kind, exe)
    except BrowserError as e:
        pytest.fail(f"the browser failed: {e}")
    main = shots[MAIN_TABLE]
    if kind == "html":
        shutil.copyfile(main, SCREENSHOTS.parent / "report_screenshot.png")
        shutil.copyfile(main, e2e_run / "results" / "report_screenshot.png")
    print(f"\nreport screenshots ({kind}): {SCREENSHOTS / kind} and {e2e_run / 'results/report_screenshots' / kind}; "
          f"main table: {SCREENSHOTS.parent / 'report_screenshot.png'}")
