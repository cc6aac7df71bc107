"""The HTML report in headless Chromium, opened from ``file://``: it plays, seeks, hovers, stays offline.

Every test collects the page's requests (Playwright's ``request`` event) and its console errors and
page errors, and asserts none is an http(s) request or an error. The lane geometry comes from the
component's data attributes (``data-plot-left``, ``data-plot-width``, ``data-duration-s``: the time
axis as drawn); the expected times, windows and scores come from the timeline itself.
"""

from __future__ import annotations

import time

import pytest

from actionrec.export import write_report
from tests.support.timelines import synthetic_timeline
from tests.support.videos import make_video
from tests.ui.conftest import screenshot

pytestmark = pytest.mark.timeout(120)

SHOTS = "report"
RENDER_BOUND_S = (
    5.0  # loose: the target (benchmarks/timeline_render.py) is 1 s; a loaded 2-core machine stays far below
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """10.5 s, 25 fps, 320x240 H.264: as long as the 20-window timeline."""
    return make_video(tmp_path_factory.mktemp("report") / "clip.mp4", fps=25, duration_s=10.5, size_wh=(320, 240))


class PageLog:
    """Requests, console errors and page errors of one page."""

    def __init__(self, page) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def assert_offline_and_clean(self) -> None:
        network = [u for u in self.requests if u.startswith(("http:", "https:"))]
        assert network == [], f"the report made http(s) requests: {network}"
        assert self.errors == [], f"console errors: {self.errors}"


def _open(page, report):
    log = PageLog(page)
    page.goto(report.as_uri())
    page.locator(".ar-tl-lanes canvas").first.wait_for()
    return log


def _x_of(page, t: float) -> tuple[float, float]:
    """Page coordinates of time ``t`` on the first lane, from the axis geometry the page reports."""
    root = page.locator("#ar-timeline")
    geo = root.evaluate("r => ({left: +r.dataset.plotLeft, width: +r.dataset.plotWidth, dur: +r.dataset.durationS})")
    box = page.locator(".ar-tl-cursor").bounding_box()
    x = box["x"] + geo["left"] + t / geo["dur"] * geo["width"]
    y = box["y"] + 20 + 13  # the axis is 20 px high; the first lane 26 px: its middle
    return x, y


def _video_state(page) -> dict:
    return page.evaluate(
        "() => { const v = document.getElementById('ar-video');"
        " return {ready: v.readyState, t: v.currentTime, paused: v.paused}; }"
    )


def test_report_plays_and_a_click_on_a_lane_seeks(page, tmp_path, clip):
    timeline = synthetic_timeline(20, source=str(clip))
    (tmp_path / clip.name).write_bytes(clip.read_bytes())  # beside the report: a relative reference
    report = write_report(timeline, tmp_path / "clip.html", video=tmp_path / clip.name, threshold=0.3)
    log = _open(page, report)

    page.locator(".ar-tl-play").click()
    page.wait_for_function("() => document.getElementById('ar-video').currentTime > 0.5", timeout=10_000)
    assert _video_state(page)["ready"] >= 3
    page.locator(".ar-tl-play").click()  # pause, so the seek below is not moved on by playback

    segment = timeline.segments(threshold=0.3)[2]
    target_s = (segment.start_s + segment.end_s) / 2 + 0.13
    page.mouse.click(*_x_of(page, target_s))
    page.wait_for_function("() => !document.getElementById('ar-video').seeking")
    got = _video_state(page)["t"]
    print(f"clicked at {target_s:.3f} s, video at {got:.3f} s")
    assert abs(got - target_s) <= 0.1, (got, target_s)

    # a drag ends where the pointer is let go
    x0, y = _x_of(page, 1.0)
    x1, _ = _x_of(page, 7.3)
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y, steps=3)
    page.mouse.move(x1, y, steps=3)
    page.mouse.up()
    page.wait_for_function("() => !document.getElementById('ar-video').seeking")
    assert abs(_video_state(page)["t"] - 7.3) <= 0.1
    screenshot(page, f"{SHOTS}-seeked")
    log.assert_offline_and_clean()


def test_report_cursor_follows_playback_within_one_window(page, tmp_path, clip):
    timeline = synthetic_timeline(20, source=str(clip))
    report = write_report(timeline, tmp_path / "r.html", video=clip, threshold=0.3)  # embedded (data: URI)
    log = _open(page, report)
    page.locator(".ar-tl-play").click()
    page.wait_for_function("() => document.getElementById('ar-video').currentTime > 0.3", timeout=10_000)
    gaps = []
    for _ in range(10):
        pair = page.evaluate(
            "() => [+document.getElementById('ar-timeline').dataset.cursorS,"
            " document.getElementById('ar-video').currentTime]"
        )
        gaps.append(abs(pair[0] - pair[1]))
        page.wait_for_timeout(150)
    print("cursor - currentTime gaps (s):", [round(g, 3) for g in gaps])
    assert not _video_state(page)["paused"]
    assert max(gaps) <= timeline.window_s, gaps
    assert _video_state(page)["t"] > 1.0  # it really played meanwhile
    log.assert_offline_and_clean()


def test_report_hover_shows_that_windows_top5(page, tmp_path, clip):
    timeline = synthetic_timeline(20, source=str(clip), top_k=5)
    report = write_report(timeline, tmp_path / "r.html", video=clip, threshold=0.3)
    log = _open(page, report)
    for i in (3, 11, 19):
        p = timeline.predictions[i]
        page.mouse.move(*_x_of(page, p.start_s + 0.2))  # window i owns [start_i, start_i+1)
        tip = page.locator(".ar-tl-tip")
        tip.wait_for(state="visible")
        assert tip.get_attribute("data-window") == str(i)
        rows = tip.locator(".ar-tl-tip-row")
        labels = rows.locator(".ar-tl-tip-label").all_text_contents()
        shown = rows.locator(".ar-tl-tip-score").all_text_contents()
        scores = [float(s) for s in rows.evaluate_all("rs => rs.map(r => r.dataset.score)")]
        assert labels == list(p.labels), (i, labels, p.labels)
        assert len(labels) == 5
        assert shown == [f"{s * 100:.1f}%" for s in p.scores]
        assert scores == pytest.approx(p.scores, abs=1e-12)
    screenshot(page, f"{SHOTS}-hover")
    log.assert_offline_and_clean()


def test_report_keys_and_subtitles(page, tmp_path, clip):
    timeline = synthetic_timeline(20, source=str(clip))
    report = write_report(timeline, tmp_path / "r.html", video=clip, threshold=0.3)
    log = _open(page, report)
    page.locator(".ar-tl-lanes").focus()
    for expected in (0.5, 1.0, 1.5):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => Math.abs(document.getElementById('ar-video').currentTime - {expected}) < 1e-3")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => Math.abs(document.getElementById('ar-video').currentTime - 1.0) < 1e-3")
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.getElementById('ar-video').paused")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('ar-video').paused")

    subs = page.locator(".ar-tl-subs")
    subs.click()
    assert subs.get_attribute("aria-pressed") == "true"
    cues = page.evaluate(
        "() => { const t = document.getElementById('ar-video').textTracks[0];"
        " return [t.mode, [...t.cues].map(c => [c.startTime, c.endTime, c.text])]; }"
    )
    from actionrec.export import vtt_cues

    assert cues[0] == "showing"
    assert [tuple(c) for c in cues[1]] == vtt_cues(timeline, threshold=0.3)  # the WebVTT export's captions
    subs.click()
    assert page.evaluate("() => document.getElementById('ar-video').textTracks[0].mode") == "hidden"
    log.assert_offline_and_clean()


def test_report_of_one_hour_renders(page, tmp_path):
    timeline = synthetic_timeline(7200, stride_s=0.5, run=7, source="one-hour.mp4")
    report = write_report(timeline, tmp_path / "hour.html", threshold=0.3)
    started = time.perf_counter()
    log = _open(page, report)
    page.wait_for_function("() => document.getElementById('ar-timeline').dataset.renderMs !== undefined")
    wall_s = time.perf_counter() - started
    render_ms = float(page.locator("#ar-timeline").get_attribute("data-render-ms"))
    drawn_ms = float(page.locator("#ar-timeline").get_attribute("data-drawn-at-ms"))
    print(
        f"1-hour timeline (7200 windows, {report.stat().st_size / 1e6:.1f} MB): "
        f"component {render_ms:.0f} ms, drawn {drawn_ms:.0f} ms after navigation, page loaded in {wall_s:.2f} s"
    )
    assert render_ms / 1000 < RENDER_BOUND_S
    assert drawn_ms / 1000 < RENDER_BOUND_S
    assert wall_s < RENDER_BOUND_S
    page.mouse.move(*_x_of(page, 1800.2))
    assert page.locator(".ar-tl-tip").get_attribute("data-window") == "3600"
    screenshot(page, f"{SHOTS}-one-hour")
    log.assert_offline_and_clean()
