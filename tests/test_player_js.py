"""``player.js`` on its own in headless Chromium: what it draws and what it acknowledges.

The page imports the real ES module (served from a 127.0.0.1 folder) and hands it a fake widget
model that records every message the page sends to the kernel. Frames are real JPEGs, each of
its own colour, so a test knows which one is on the canvas. The page's timers run on Playwright's
fake clock (``page.clock``), paused: the delayed acknowledgement comes when the test moves time
on, never by waiting, however slow the machine. Never runs ``playwright install``: the browser is
Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from actionrec.notebook.player import ACK_EVERY, MAX_UNACKED, view
from tests.support.chromium import CHROMIUM, LAUNCH_ARGS, NO_CHROMIUM, serve_dir

pytestmark = [pytest.mark.ui, pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)]

PAGE = """<!doctype html><html><body><script type="module">
import player from "./player.js";
window.made = {};
window.makePlayer = (id, ackEvery, withView) => {
  const handlers = [];
  const sent = [];
  const attrs = { _player_id: id, width_px: 64, ack_every: ackEvery };
  const model = {
    get: (k) => attrs[k],
    on: (ev, cb) => { if (ev === "msg:custom") handlers.push(cb); },
    off: () => {},
    send: (msg) => sent.push(msg),
  };
  player.initialize({ model });
  let canvas = null;
  if (withView) {
    const el = document.createElement("div");
    document.body.append(el);
    player.render({ model, el });
    canvas = el.querySelector("canvas");
  }
  window.made[id] = {
    sent,
    canvas,
    frame: (seq, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      for (const h of handlers) h({ type: "frame", seq }, [bytes.buffer]);
    },
  };
};
window.pageReady = true;
</script></body></html>
"""

START_MS = 1_700_000_000_000  # the fake clock's epoch milliseconds
COLOURS_BGR = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255), (255, 0, 255), (255, 255, 0)]


def _jpeg_b64(bgr: tuple[int, int, int]) -> str:
    ok, jpeg = cv2.imencode(".jpg", np.full((36, 64, 3), bgr, np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return base64.b64encode(jpeg.tobytes()).decode()


@pytest.fixture(scope="module")
def served_player(tmp_path_factory):
    root = tmp_path_factory.mktemp("player_js")
    shutil.copyfile(Path(view.__file__).with_name("player.js"), root / "player.js")
    (root / "index.html").write_text(PAGE)
    with serve_dir(root) as url:
        yield url


@pytest.fixture
def player_page(served_player):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS), headless=True)
        try:
            page = browser.new_page()
            page.clock.install(time=START_MS)  # the page's setTimeout runs on the test's clock
            page.goto(f"{served_player}/index.html")
            page.wait_for_function("window.pageReady === true")
            page.clock.pause_at(START_MS + 1000)  # and it stands still until the test moves it
            yield page
        finally:
            browser.close()


def _canvas_colour_bgr(page, player_id: str) -> tuple[int, int, int]:
    r, g, b = page.evaluate(
        "(id) => Array.from(window.made[id].canvas.getContext('2d').getImageData(32, 18, 1, 1).data.slice(0, 3))",
        player_id,
    )
    return b, g, r


def _wait_drawn(page, player_id: str, bgr: tuple[int, int, int]) -> None:
    """Until the canvas shows ``bgr`` (a loose guard for a stuck page, not a timing check)."""
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        if max(abs(a - b) for a, b in zip(_canvas_colour_bgr(page, player_id), bgr, strict=True)) <= 12:
            return
        time.sleep(0.005)
    raise AssertionError(f"the canvas never showed {bgr}: it shows {_canvas_colour_bgr(page, player_id)}")


def _sent(page, player_id: str) -> list[dict]:
    """The acknowledgements the page sent (its view messages apart: :func:`_views`)."""
    return [m for m in _all_sent(page, player_id) if m["type"] == "ack"]


def _views(page, player_id: str) -> list[bool]:
    """What the page said of being on screen, in order (each with the same page id)."""
    views = [m for m in _all_sent(page, player_id) if m["type"] == "view"]
    assert len({m["page"] for m in views}) <= 1 and all(m["page"] for m in views)
    return [m["in_view"] for m in views]


def _all_sent(page, player_id: str) -> list[dict]:
    return page.evaluate("(id) => window.made[id].sent", player_id)


@pytest.mark.timeout(120)
def test_the_page_acknowledges_every_second_frame_drawn_and_the_last_one_when_time_moves_on(player_page):
    page = player_page
    assert ACK_EVERY == 2 and MAX_UNACKED >= ACK_EVERY  # else the kernel would wait for an ack never sent
    page.evaluate("window.makePlayer('a', 2, true)")
    for seq in range(5):
        page.evaluate("([seq, b64]) => window.made.a.frame(seq, b64)", [seq, _jpeg_b64(COLOURS_BGR[seq])])
        _wait_drawn(page, "a", COLOURS_BGR[seq])
    # frames 0..4 drawn in turn: one acknowledgement per two, each covering the frame before it
    assert _sent(page, "a") == [{"type": "ack", "seq": 1, "shown": True}, {"type": "ack", "seq": 3, "shown": True}]
    page.clock.run_for(50)  # less than the delay: frame 4 is still un-acknowledged
    assert len(_sent(page, "a")) == 2
    page.clock.run_for(100)  # no frame followed frame 4: it is acknowledged on its own
    assert _sent(page, "a")[2:] == [{"type": "ack", "seq": 4, "shown": True}]


@pytest.mark.timeout(120)
def test_with_ack_every_one_each_frame_drawn_is_acknowledged_at_once(player_page):
    page = player_page
    page.evaluate("window.makePlayer('b', 1, true)")
    for seq in range(3):
        page.evaluate("([seq, b64]) => window.made.b.frame(seq, b64)", [seq, _jpeg_b64(COLOURS_BGR[seq])])
        _wait_drawn(page, "b", COLOURS_BGR[seq])
    assert [m["seq"] for m in _sent(page, "b")] == [0, 1, 2]


@pytest.mark.timeout(120)
def test_a_frame_the_page_cannot_draw_is_acknowledged_at_once_as_not_shown(player_page):
    page = player_page
    page.evaluate("window.makePlayer('c', 2, true)")
    page.evaluate("([seq, b64]) => window.made.c.frame(seq, b64)", [0, base64.b64encode(b"not a jpeg").decode()])
    page.wait_for_function("window.made.c.sent.filter((m) => m.type === 'ack').length === 1")
    (ack,) = _sent(page, "c")
    assert ack["seq"] == 0 and ack["shown"] is False and ack["error"]  # the decoder's error, for the kernel
    page.evaluate("([seq, b64]) => window.made.c.frame(seq, b64)", [1, _jpeg_b64(COLOURS_BGR[1])])
    _wait_drawn(page, "c", COLOURS_BGR[1])
    page.clock.run_for(150)
    assert _sent(page, "c")[1:] == [{"type": "ack", "seq": 1, "shown": True}]  # counted afresh after the error


@pytest.mark.timeout(120)
def test_without_a_view_every_frame_is_acknowledged_at_once_as_not_shown(player_page):
    page = player_page
    page.evaluate("window.makePlayer('d', 2, false)")  # the widget's output was never displayed
    for seq in range(2):
        page.evaluate("([seq, b64]) => window.made.d.frame(seq, b64)", [seq, _jpeg_b64(COLOURS_BGR[seq])])
        page.wait_for_function(f"window.made.d.sent.filter((m) => m.type === 'ack').length === {seq + 1}")
    assert _sent(page, "d") == [{"type": "ack", "seq": s, "shown": False} for s in range(2)]


@pytest.mark.timeout(120)
def test_a_frame_replaced_while_the_page_decodes_is_acknowledged_as_not_shown(player_page):
    page = player_page
    page.evaluate("window.makePlayer('e', 2, true)")
    b64 = [_jpeg_b64(c) for c in COLOURS_BGR[:3]]
    # three frames in one go: 0 is decoding, 1 waits in the slot, 2 replaces it
    page.evaluate("(b64) => { for (let s = 0; s < 3; s++) window.made.e.frame(s, b64[s]); }", b64)
    _wait_drawn(page, "e", COLOURS_BGR[2])
    assert _sent(page, "e") == [{"type": "ack", "seq": 1, "shown": False}, {"type": "ack", "seq": 2, "shown": True}]


@pytest.mark.timeout(120)
def test_the_page_tells_the_kernel_when_no_view_of_the_player_can_be_seen_and_when_one_can_again(player_page):
    page = player_page
    page.evaluate("window.makePlayer('v', 2, true)")
    spacer = "() => { const s = document.createElement('div'); s.style.height = '20000px'; document.body.append(s); }"
    page.evaluate(spacer)
    # on screen: said once it is known
    page.wait_for_function("window.made.v.sent.filter((m) => m.type === 'view').length === 1")
    page.evaluate("window.scrollTo(0, 15000)")  # scrolled away from the player
    page.wait_for_function("window.made.v.sent.filter((m) => m.type === 'view').length === 2")
    page.evaluate("window.scrollTo(0, 0)")  # and back
    page.wait_for_function("window.made.v.sent.filter((m) => m.type === 'view').length === 3")
    hidden = """(state) => {
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    page.evaluate(hidden, "hidden")  # the browser tab went to the background
    page.evaluate(hidden, "visible")
    assert _views(page, "v") == [True, False, True, False, True]
    # frames drawn meanwhile are acknowledged as before: the view messages are apart from the acks
    page.evaluate("([seq, b64]) => window.made.v.frame(seq, b64)", [0, _jpeg_b64(COLOURS_BGR[0])])
    _wait_drawn(page, "v", COLOURS_BGR[0])
    page.clock.run_for(150)
    assert _sent(page, "v") == [{"type": "ack", "seq": 0, "shown": True}]


@pytest.mark.timeout(120)
def test_a_player_never_displayed_says_nothing_of_being_on_screen(player_page):
    page = player_page
    page.evaluate("window.makePlayer('n', 2, false)")
    page.evaluate("([seq, b64]) => window.made.n.frame(seq, b64)", [0, _jpeg_b64(COLOURS_BGR[0])])
    page.wait_for_function("window.made.n.sent.filter((m) => m.type === 'ack').length === 1")
    assert _all_sent(page, "n") == [{"type": "ack", "seq": 0, "shown": False}]
