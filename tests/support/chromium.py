"""Headless Debian Chromium helpers: serve a folder on 127.0.0.1 and probe ``<video>`` playback.

Never runs ``playwright install``: the browser is Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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
NO_CHROMIUM = "needs Debian's /usr/bin/chromium (apt-get install chromium)"

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


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve_dir(root: Path) -> Iterator[str]:
    """Serve ``root`` (with an empty ``index.html``) at ``http://127.0.0.1:PORT``."""
    index = root / "index.html"
    if not index.exists():
        index.write_text("<!doctype html><html><body></body></html>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def probe_videos(base_url: str, names: list[str]) -> dict[str, dict]:
    """Load each served video in a ``<video>`` element; readyState, size, duration, play progress."""
    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base_url}/index.html")
            for name in names:
                results[name] = page.evaluate(PROBE_JS, f"{base_url}/{name}")
        finally:
            browser.close()
    return results
