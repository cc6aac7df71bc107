"""BrowserCamera without a browser: headless reporting, and the kernel side fed simulated page messages."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import cv2
import numpy as np
import pytest

from actionrec.errors import VideoOpenError
from actionrec.notebook.browser_camera import BrowserCamera
from tests.support.fake_time import FakeTime, ScriptedClock

pytestmark = pytest.mark.timeout(30)

SECURE_PAGE = {"secure_context": True, "has_media_devices": True, "camera_permission": "granted"}


def page_says(camera: BrowserCamera, content: dict, buffers: list | None = None) -> None:
    """Deliver a message as the page would: through ipywidgets' comm message path."""
    camera._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": buffers or []})


def run_async(coro):
    """``asyncio.run`` in a fresh thread: the main thread may hold a running loop (Playwright's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=20)


def jpeg(bgr: tuple[int, int, int], size_wh: tuple[int, int] = (64, 48)) -> bytes:
    image = np.full((size_wh[1], size_wh[0], 3), bgr, np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        self.now_s += 0.1
        return self.now_s


def test_no_front_end_is_reported_after_two_seconds_of_clock_time():
    # At 1.99 and 1.999 s it still waits; at 2.0 s it gives up and reads the clock no more (109.0 is never read).
    clock = ScriptedClock(100.0, 101.99, 101.999, 102.0, 109.0)
    camera = BrowserCamera(clock=clock)
    assert camera.wait_ready() == "no-front-end"
    assert clock.taken[-1] == 102.0 and 101.999 in clock.taken
    assert camera.state == "no-front-end"
    assert "no browser front end answered within 2 s" in camera.error
    assert "headless run (nbclient, nbconvert, papermill)" in camera.error
    assert camera.status().front_end is False


def test_frames_without_front_end_raise_clearly():
    clock = ScriptedClock(0.0, 0.299, 0.3, 9.0)
    with pytest.raises(VideoOpenError, match=r"not streaming \(state 'no-front-end'\).*use a video file instead"):
        next(BrowserCamera(clock=clock).frames(timeout_s=0.3))
    assert clock.taken[-1] == 0.3  # it gave up after its own 0.3 s, not the default 2 s
    clock = ScriptedClock(0.0, 0.299, 0.3, 9.0)
    with pytest.raises(VideoOpenError, match=r"no browser front end answered within 0\.3 s"):
        run_async(anext(BrowserCamera(clock=clock).aframes(timeout_s=0.3)))
    assert clock.taken[-1] == 0.3


def test_frames_are_decoded_bgr_with_indices_and_clock_timestamps(monkeypatch):
    camera = BrowserCamera()
    sent: list[dict] = []
    monkeypatch.setattr(camera, "send", lambda content, buffers=None: sent.append(content))
    page_says(camera, {"type": "status", "state": "streaming", **SECURE_PAGE})
    assert camera.wait_ready(timeout_s=0.1) == "streaming"
    clock = FakeClock()
    frames = camera.frames(timeout_s=1.0, clock=clock)

    def page_streams() -> None:
        time.sleep(0.05)
        page_says(camera, {"type": "frame", "seq": 7}, [jpeg((255, 0, 0))])

    threading.Thread(target=page_streams).start()
    first = next(frames)  # waits for the page's frame
    page_says(camera, {"type": "frame", "seq": 8}, [jpeg((0, 0, 255))])
    page_says(camera, {"type": "frame", "seq": 9}, [jpeg((0, 255, 0))])  # newest wins: 8 is dropped
    second = next(frames)
    assert first.index == 0 and second.index == 2
    assert first.image_bgr.shape == (48, 64, 3) and first.image_bgr.dtype == np.uint8
    assert first.image_bgr[0, 0, 0] > 200 and first.image_bgr[0, 0, 2] < 50  # blue stays in channel 0 (BGR)
    assert second.image_bgr[0, 0, 1] > 200  # the newest frame (green)
    assert 0 < first.timestamp_s < second.timestamp_s
    assert camera.dropped_frames == 1 and camera.frames_received == 3
    camera.stop()
    assert list(frames) == []  # stop() ends the loop
    assert camera.state == "idle"
    with pytest.raises(VideoOpenError, match=r"state 'idle'\): the camera is stopped: call camera\.start\(\)"):
        next(camera.frames(timeout_s=0.1))
    camera.start()
    assert camera.state == "starting"
    # The page sends frames only while a loop reads them; each is acked on arrival (its flow
    # control); stop() reaches the page.
    acks = [{"type": "ack", "seq": seq} for seq in (7, 8, 9)]
    pull_on, pull_off = {"type": "pull", "on": True}, {"type": "pull", "on": False}
    assert sent == [pull_on, *acks, {"type": "stop"}, pull_off, {"type": "start"}]


def test_async_frames_stop_after_max_seconds(monkeypatch):
    camera = BrowserCamera()
    page_says(camera, {"type": "status", "state": "streaming", **SECURE_PAGE})
    fake = FakeTime(start_s=64.0)  # the frames' clock; the page's next frame comes 1/16 s of it later

    def to_page(content: dict, buffers=None) -> None:
        if content == {"type": "pull", "on": True}:  # the loop asks for frames: the page sends its first
            page_says(camera, {"type": "frame", "seq": 0}, [jpeg((0, 0, 255))])

    monkeypatch.setattr(camera, "send", to_page)

    async def run() -> list:
        frames = []
        async for frame in camera.aframes(max_seconds=6 / 16, clock=fake):
            frames.append(frame)
            fake.now_s += 1 / 16  # binary fractions: the sums are exact
            page_says(camera, {"type": "frame", "seq": len(frames)}, [jpeg((0, 0, 255))])
        return frames

    frames = run_async(run())
    # Frames at 0, 1/16, ..., 5/16 s; the one at 6/16 s is at max_seconds and ends the loop.
    assert [f.index for f in frames] == list(range(6))
    assert [f.timestamp_s for f in frames] == [i / 16 for i in range(6)]


def test_stalled_stream_raises_with_the_async_advice():
    # Each reading of these clocks is 0.1 s after the last: the stream stalls in clock time.
    camera = BrowserCamera(clock=FakeClock())
    page_says(camera, {"type": "status", "state": "streaming", **SECURE_PAGE})
    advice = r"sent no frame for 0\.[2-4] s .*async for frame in camera\.aframes"
    with pytest.raises(VideoOpenError, match=advice):
        next(camera.frames(timeout_s=0.2))
    with pytest.raises(VideoOpenError, match=advice):
        run_async(anext(camera.aframes(timeout_s=0.2)))
    # A loop that ends by max_seconds without a single frame failed too (the notebook would show nothing).
    with pytest.raises(VideoOpenError, match=r"sent no frame for 0\.[1-3] s"):
        list(camera.frames(timeout_s=5.0, max_seconds=0.15, clock=FakeClock()))


@pytest.mark.parametrize(
    ("state", "error", "fix"),
    [
        ("denied", ("NotAllowedError", "Permission denied"), "allow the camera for this page"),
        ("no-camera", ("NotFoundError", "Requested device not found"), "connect a camera"),
        ("error", ("NotReadableError", "Could not start video source"), "close other apps using the camera"),
        (
            "insecure",
            ("InsecureContext", "navigator.mediaDevices is undefined on this page"),
            "ssh -L 8888:localhost:8888 user@host, then http://localhost:8888",
        ),
    ],
)
def test_page_failures_become_states_with_fixes(state, error, fix):
    camera = BrowserCamera()
    secure = state != "insecure"
    page_says(
        camera,
        {
            "type": "status",
            "state": state,
            "error_name": error[0],
            "error_message": error[1],
            "secure_context": secure,
            "has_media_devices": secure,
            "camera_permission": "denied" if state in ("denied", "insecure") else "granted",
            "origin": "http://cam.test:8888",
        },
    )
    assert camera.wait_ready(timeout_s=0.1) == state
    assert fix in camera.error
    status = camera.status()
    assert status.front_end is True and status.secure_context is secure
    assert status.error == f"{error[0]}: {error[1]}"
    with pytest.raises(VideoOpenError, match=f"not streaming \\(state '{state}'\\)"):
        next(camera.frames(timeout_s=0.1))


def test_insecure_message_names_the_page():
    camera = BrowserCamera()
    page_says(camera, {"type": "status", "state": "insecure", "secure_context": False, "origin": "http://gpu-box:8888"})
    assert camera.error.startswith("http://gpu-box:8888 is not a secure context")


def test_secure_page_without_media_devices_blames_the_browser_not_the_origin():
    camera = BrowserCamera()
    page_says(
        camera,
        {
            "type": "status",
            "state": "insecure",
            "secure_context": True,
            "has_media_devices": False,
            "origin": "https://lab.example",
        },
    )
    assert camera.error == (
        "https://lab.example is a secure context, but this browser has no navigator.mediaDevices (no camera API): "
        "use a current Chromium, Chrome, Edge or Firefox, or a video file instead"
    )
    assert "ssh -L" not in camera.error


@pytest.mark.parametrize(("option", "value"), [("fps", 0), ("jpeg_quality", 101), ("width", 8)])
def test_options_are_validated(option, value):
    with pytest.raises(ValueError, match=f"BrowserCamera {option}={value} is out of range; valid: "):
        BrowserCamera(**{option: value})
