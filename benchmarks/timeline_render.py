#!/usr/bin/env python3
"""How fast the interactive timeline draws an hour of windows, in the HTML report in Chromium.

Target (issue 14): a 1-hour timeline (7,200 windows at the default 0.5 s stride, top-5 each)
renders in **under 1 s**. Figures printed, each the median of ``--repeats`` page loads:

- ``component``: the timeline component's own time (``data-render-ms``: lanes prepared, the
  canvas drawn column by column, the legend), from the page;
- ``drawn``: from navigation start to the timeline on screen (file read, the page parsed up to
  the timeline, its JSON data parsed, the component): ``data-drawn-at-ms``, from the page; the
  **target figure**;
- ``loaded``: navigation to the load event as Playwright sees it (the tables below parsed too), wall time;
- ``redraw``: one full redraw of the lanes (what a resize costs), from the page.

A synthetic timeline (labels change every 7 windows, one run in five uncertain) is written with
:func:`actionrec.export.write_report` (no video: the video's decoding is not the timeline's cost).

Usage:
    python benchmarks/timeline_render.py [--hours 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actionrec.export import write_report
from tests.support.chromium import CHROMIUM, LAUNCH_ARGS
from tests.support.timelines import synthetic_timeline

TARGET_S = 1.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    windows = round(args.hours * 3600 / 0.5)
    with tempfile.TemporaryDirectory() as tmp:
        report = write_report(
            synthetic_timeline(windows, run=7, source="hour.mp4"), Path(tmp) / "hour.html", threshold=0.3
        )
        size_mb = report.stat().st_size / 1e6
        component, drawn, page_s, redraw = [], [], [], []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                for _ in range(args.repeats):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    started = time.perf_counter()
                    page.goto(report.as_uri())
                    page.wait_for_function("() => document.getElementById('ar-timeline').dataset.renderMs")
                    page_s.append(time.perf_counter() - started)
                    component.append(float(page.locator("#ar-timeline").get_attribute("data-render-ms")))
                    drawn.append(float(page.locator("#ar-timeline").get_attribute("data-drawn-at-ms")))
                    redraw.append(
                        page.evaluate(
                            "() => { const t = performance.now();"
                            " document.getElementById('ar-timeline').actionrecTimeline.redraw();"
                            " return performance.now() - t; }"
                        )
                    )
                    page.close()
            finally:
                browser.close()
    med = statistics.median
    print(f"{windows} windows ({args.hours:g} h), report {size_mb:.1f} MB, Chromium {CHROMIUM}")
    print(f"component  {med(component):7.1f} ms   (min {min(component):.1f}, max {max(component):.1f})")
    print(f"drawn      {med(drawn):7.1f} ms   (min {min(drawn):.1f}, max {max(drawn):.1f})")
    print(f"loaded     {med(page_s) * 1000:7.1f} ms   (min {min(page_s) * 1000:.1f}, max {max(page_s) * 1000:.1f})")
    print(f"redraw     {med(redraw):7.1f} ms")
    verdict = "met" if med(drawn) < TARGET_S * 1000 else "MISSED"
    print(f"target: the timeline drawn in < {TARGET_S:g} s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
