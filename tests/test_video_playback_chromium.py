"""The annotated exports play in a real browser: a ``<video>`` in headless Debian Chromium.

Uses Playwright's sync API directly (no pytest-playwright fixtures, so nothing here clashes with
the JupyterLab UI tests' browser fixtures). Never runs ``playwright install``: the browser is
Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

from actionrec.export import write_annotated_video
from actionrec.results import Prediction, Timeline
from tests.support.chromium import CHROMIUM, LAUNCH_ARGS, NO_CHROMIUM, PROBE_JS, serve_dir

pytestmark = [pytest.mark.ui, pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)]


Frame = namedtuple("Frame", "image_bgr index timestamp_s")


def _frames(n: int, *, fps: float, size_wh: tuple[int, int]) -> list[Frame]:
    w, h = size_wh
    return [Frame(np.full((h, w, 3), (40 + 5 * i) % 256, np.uint8), i, i / fps) for i in range(n)]


def _timeline() -> Timeline:
    labels = ("arm wrestling", "yawning")
    preds = tuple(
        Prediction.from_logits(
            np.array([2.0, 0.0]), labels=labels, top_k=2, window_index=i, start_s=0.5 * i, end_s=0.5 * i + 1.0
        )
        for i in range(5)
    )
    return Timeline(
        source="synthetic",
        labels=labels,
        predictions=preds,
        window_s=1.0,
        stride_s=0.5,
        step_s=0.0625,
        clip_len=16,
        top_k=2,
    )


@pytest.fixture
def served_videos(tmp_path):
    """An MP4 and a WebM export of a 3 s clip, served from a 127.0.0.1 HTTP server."""
    frames = _frames(75, fps=25, size_wh=(321, 241))  # odd size on purpose
    tl = _timeline()
    write_annotated_video(frames, tl, tmp_path / "clip.mp4", crop_fn=lambda img: (40, 0, 240, 240))
    write_annotated_video(frames, tl, tmp_path / "clip.webm", crop_fn=lambda img: (40, 0, 240, 240))
    (tmp_path / "not_a_video.mp4").write_bytes(bytes(range(256)) * 64)  # the probe must be able to fail
    with serve_dir(tmp_path) as url:
        yield url


@pytest.mark.timeout(120)
def test_exported_mp4_and_webm_play_in_chromium(served_videos):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    results = {}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{served_videos}/index.html")
            for name in ("clip.mp4", "clip.webm"):
                results[name] = page.evaluate(PROBE_JS, f"{served_videos}/{name}")
            with pytest.raises(sync_api.Error, match="media error"):
                page.evaluate(PROBE_JS, f"{served_videos}/not_a_video.mp4")
        finally:
            browser.close()
    for name, r in results.items():
        assert r["readyState"] >= 2, (name, r)
        assert (r["width"], r["height"]) == (320, 240), (name, r)
        assert abs(r["duration"] - 3.0) < 0.1, (name, r)
        assert r["t1"] > r["t0"] + 0.2, f"{name}: play() did not advance currentTime: {r}"
