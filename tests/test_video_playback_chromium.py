"""The annotated exports play in a real browser: a ``<video>`` in headless Debian Chromium.

Uses Playwright's sync API directly (no pytest-playwright fixtures, so nothing here clashes with
the JupyterLab UI tests' browser fixtures). Never runs ``playwright install``: the browser is
Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import functools
import threading
from collections import namedtuple
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from actionrec.export import write_annotated_video
from actionrec.results import Prediction, Timeline

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.ui,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium (apt-get install chromium)"),
]

PROBE_JS = """
async (src) => {
  const v = document.createElement("video");
  v.muted = true;
  v.preload = "auto";
  document.body.appendChild(v);
  const loaded = new Promise((resolve, reject) => {
    v.addEventListener("loadeddata", resolve, { once: true });
    v.addEventListener("error", () => {
      reject(new Error(`media error ${v.error && v.error.code}: ${v.error && v.error.message}`));
    });
    setTimeout(() => reject(new Error(`timeout, readyState=${v.readyState}`)), 15000);
  });
  v.src = src;
  await loaded;
  const readyState = v.readyState;
  await v.play();
  const t0 = v.currentTime;
  const deadline = performance.now() + 5000;
  while (v.currentTime <= t0 + 0.2 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return { readyState, t0, t1: v.currentTime, duration: v.duration, width: v.videoWidth, height: v.videoHeight };
}
"""


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
    (tmp_path / "index.html").write_text("<!doctype html><html><body></body></html>")
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


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
