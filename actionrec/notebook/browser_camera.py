"""The browser's camera as a frame source for a (possibly remote) kernel.

:class:`BrowserCamera` is an anywidget: once displayed, the page asks for the camera
(``getUserMedia``), draws each camera frame to a canvas and sends it to the kernel as a JPEG. The
kernel keeps only the newest frame and acknowledges each one; the page keeps at most two frames
un-acknowledged, so a busy kernel makes it skip camera frames instead of queueing them.

Drive a live loop from an ``async`` cell (``async for frame in camera.aframes(): ...``): the
kernel then receives frames between iterations, with or without JupyterLab's kernel subshells.
Headless runs (nbclient, nbconvert) have no front end: :meth:`BrowserCamera.wait_ready` says so
("no-front-end") within ``timeout_s`` and :meth:`BrowserCamera.frames` raises
:class:`~actionrec.errors.VideoOpenError`.

Not split: the widget, its kernel-side frame queue and its status are one protocol with
``browser_camera.js``; the pieces only make sense together.

Example (three cells)::

    camera = BrowserCamera(width=640, height=360, fps=30)
    camera                                  # shows the preview and a status line

    await camera.await_ready()              # "streaming", or "denied" / "insecure" / ... with camera.error

    async for frame in camera.aframes(max_seconds=10):
        ...                                 # frame.image_bgr, frame.index, frame.timestamp_s
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ..errors import VideoDecodeError, VideoOpenError

if TYPE_CHECKING:
    from ..doctor.report import BrowserStatus
    from ..video.core import Frame

STATES = ("idle", "starting", "streaming", "denied", "no-camera", "insecure", "no-front-end", "error")
POLL_S = 0.005  # async polling period: far below a camera frame interval

TUNNEL_FIX = (
    "open JupyterLab over HTTPS or via an SSH tunnel to localhost: "
    "ssh -L 8888:localhost:8888 user@host, then http://localhost:8888"
)


def _message(
    state: str, *, name: str = "", detail: str = "", origin: str = "", secure: bool = False, timeout_s: float = 0.0
) -> str:
    """The user-facing explanation and fix for a non-streaming ``state`` (``secure``: the page said so)."""
    found = f" ({name}: {detail})" if name or detail else ""
    if state == "denied":
        return (
            f"the browser denied camera access{found}: allow the camera for this page (camera icon in the "
            "address bar, or the site settings), then re-run the cell that displays the camera"
        )
    if state == "no-camera":
        return (
            f"the browser found no usable camera{found}: connect a camera (or enable it in the system settings), "
            "then re-run the cell that displays the camera; or use a video file instead"
        )
    if state == "insecure" and secure:  # the page is secure: the browser itself lacks the camera API
        return (
            f"{origin or 'this page'} is a secure context, but this browser has no navigator.mediaDevices (no "
            "camera API): use a current Chromium, Chrome, Edge or Firefox, or a video file instead"
        )
    if state == "insecure":
        page = origin or "this page"
        return (
            f"{page} is not a secure context, so the browser hides the camera (navigator.mediaDevices is "
            f"undefined): {TUNNEL_FIX}"
        )
    if state == "no-front-end":
        return (
            f"no browser front end answered within {timeout_s:g} s: the camera widget was not displayed, or this "
            "is a headless run (nbclient, nbconvert, papermill) that has no browser. Display it first (put "
            "`camera` on the last line of a cell) in JupyterLab or Jupyter Notebook 7 with anywidget installed; "
            "headless runs should use a video file instead"
        )
    if state == "idle":
        return "the camera is stopped: call camera.start() or re-run the cell that displays the camera"
    if state == "starting":
        return "the browser is still asking for the camera: answer its permission prompt, then run this cell again"
    if state == "error":
        return (
            f"the camera could not be started{found}: close other apps using the camera, then re-run the cell "
            "that displays the camera"
        )
    return ""


class BrowserCamera(anywidget.AnyWidget):
    """The browser's camera, streamed to the kernel as JPEG frames with acknowledgements.

    Args (traits, keyword-only):
        width, height: requested capture size in pixels (the browser may pick a close one).
        fps: requested camera frame rate.
        jpeg_quality: JPEG quality of the frames sent, 1..100.
        preview: show a small local preview above the status line.

    Args (not a trait):
        clock: seconds, for how long :meth:`wait_ready` and the frame loops wait for the page
            (default ``time.monotonic``; injected in tests).

    Read-only traits, reported by the page: ``state`` (one of :data:`STATES`), ``error`` (what
    went wrong and the fix, empty while fine), ``secure_context``, ``has_media_devices``,
    ``camera_permission`` (``None`` until the page has reported them).
    """

    _esm = Path(__file__).with_name("browser_camera.js")
    _css = Path(__file__).with_name("browser_camera.css")

    width = traitlets.Int(640).tag(sync=True)
    height = traitlets.Int(360).tag(sync=True)
    fps = traitlets.Int(30).tag(sync=True)
    jpeg_quality = traitlets.Int(80).tag(sync=True)
    preview = traitlets.Bool(True).tag(sync=True)

    state = traitlets.Enum(STATES, default_value="idle").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    secure_context = traitlets.Bool(None, allow_none=True).tag(sync=True)
    has_media_devices = traitlets.Bool(None, allow_none=True).tag(sync=True)
    camera_permission = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    _camera_id = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        super().__init__(_camera_id=uuid.uuid4().hex, **kwargs)
        self._clock = clock  # seconds, for waiting: the page's answer, a stalled stream
        self._validate_options()
        # Comm handlers may run on a kernel subshell thread, concurrently with the cell: the
        # handler only stores the newest frame under this condition's lock and acks.
        self._cond = threading.Condition()
        self._latest: tuple[int, bytes] | None = None
        self._front_end = False
        self._page_state = "idle"
        self._browser_error: str | None = None
        self._stop_requested = False
        self._readers = 0
        self.frames_received = 0
        self.dropped_frames = 0
        self.on_msg(self._on_page_msg)

    def _validate_options(self) -> None:
        checks = (
            ("width", self.width, 16, 4096),
            ("height", self.height, 16, 4096),
            ("fps", self.fps, 1, 120),
            ("jpeg_quality", self.jpeg_quality, 1, 100),
        )
        for name, value, low, high in checks:
            if not low <= value <= high:
                raise ValueError(f"BrowserCamera {name}={value} is out of range; valid: {low}..{high}")

    # -- messages from the page (maybe on a subshell thread: keep tiny) --------------------------

    def _on_page_msg(self, _widget: Any, content: dict, buffers: list) -> None:
        kind = content.get("type")
        if kind == "frame" and buffers:
            seq = int(content.get("seq", 0))
            with self._cond:
                self._latest = (seq, bytes(buffers[0]))
                self.frames_received += 1
                self._cond.notify_all()
            self.send({"type": "ack", "seq": seq})
        elif kind == "status":
            self._on_status(content)

    def _on_status(self, content: dict) -> None:
        state = content.get("state")
        if state not in STATES:
            return  # a newer front end: ignore what this kernel does not know
        name, detail = str(content.get("error_name") or ""), str(content.get("error_message") or "")
        permission = content.get("camera_permission")
        # Traits change under the lock too, so a waiter never sees a state the page has not sent.
        with self._cond, self.hold_sync():
            self._front_end = True
            self._page_state = state
            self._browser_error = f"{name}: {detail}" if name or detail else None
            self.secure_context = content.get("secure_context")
            self.has_media_devices = content.get("has_media_devices")
            self.camera_permission = permission if permission in ("granted", "denied", "prompt") else None
            origin = str(content.get("origin") or "")
            failed = state in ("denied", "no-camera", "insecure", "error")  # idle/starting/streaming: no error
            secure = content.get("secure_context") is True
            self.error = _message(state, name=name, detail=detail, origin=origin, secure=secure) if failed else ""
            self.state = state
            self._cond.notify_all()

    # -- readiness ----------------------------------------------------------------------------

    def _settle(self, timeout_s: float) -> str:
        """Called when waiting ends: no answer at all means no front end."""
        with self._cond:
            if not self._front_end:
                self.error = _message("no-front-end", timeout_s=timeout_s)
                self.state = "no-front-end"
            return self.state

    def _wait_left_s(self, start: float, timeout_s: float, prompt_timeout_s: float) -> float:
        """Seconds still to wait for a final state (0: stop waiting). Call with the lock held."""
        if self._front_end and self._page_state not in ("starting",):
            return 0.0  # streaming, a failure, or idle after stop(): the page has decided
        limit = prompt_timeout_s if self._front_end else timeout_s
        return max(0.0, start + limit - self._clock())

    def wait_ready(self, timeout_s: float = 2.0, *, prompt_timeout_s: float = 60.0) -> str:
        """Wait until the page has started the camera or said why not; returns :attr:`state`.

        In a JupyterLab without kernel subshells a running (non-async) cell blocks the messages
        this waits for: prefer ``await camera.await_ready()`` in the notebook.

        Args:
            timeout_s: how long to wait for the page to answer at all; no answer → ``"no-front-end"``.
            prompt_timeout_s: once the page answered, how long to wait while the browser asks the
                user for the camera (state ``"starting"``).

        Returns:
            ``"streaming"``, or the reason it is not (``"denied"``, ``"no-camera"``, ``"insecure"``,
            ``"no-front-end"``, ``"error"``, ``"starting"`` after ``prompt_timeout_s``, ``"idle"``
            after :meth:`stop`), with the fix in :attr:`error`.
        """
        start = self._clock()
        with self._cond:
            while (left := self._wait_left_s(start, timeout_s, prompt_timeout_s)) > 0:
                self._cond.wait(left)
        return self._settle(timeout_s)

    async def await_ready(self, timeout_s: float = 2.0, *, prompt_timeout_s: float = 60.0) -> str:
        """:meth:`wait_ready` for ``async`` cells: awaits, so the kernel can receive the page's answer."""
        start = self._clock()
        while True:
            with self._cond:
                left = self._wait_left_s(start, timeout_s, prompt_timeout_s)
            if left <= 0:
                return self._settle(timeout_s)
            await asyncio.sleep(min(left, POLL_S * 4))

    def status(self) -> BrowserStatus:
        """What the page reported, for ``actionrec.doctor`` (``front_end=False`` if it never answered)."""
        from ..doctor.report import BrowserStatus

        with self._cond:
            return BrowserStatus(
                front_end=self._front_end,
                secure_context=self.secure_context,
                has_media_devices=self.has_media_devices,
                camera_permission=self.camera_permission,
                error=self._browser_error,
            )

    # -- control ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the camera in the browser (its light goes off) and end running frame loops."""
        with self._cond, self.hold_sync():
            self._stop_requested = True
            self._latest = None
            if self._front_end:
                self._page_state = "idle"
                self.error = ""
                self.state = "idle"
            self._cond.notify_all()
        self.send({"type": "stop"})

    def start(self) -> None:
        """Start the camera again after :meth:`stop` (the widget must be displayed)."""
        with self._cond, self.hold_sync():
            self._stop_requested = False
            if self._front_end and self._page_state not in ("starting", "streaming"):
                self._page_state = "starting"  # so wait_ready() waits for the page's answer
                self.error = ""
                self.state = "starting"
        self.send({"type": "start"})

    # -- frames -------------------------------------------------------------------------------

    def _begin(self, state: str) -> None:
        if state != "streaming":
            raise VideoOpenError(f"browser camera is not streaming (state {state!r}): {self.error or _message(state)}")
        with self._cond:
            self._stop_requested = False
            self._latest = None  # start with a fresh frame, not one that waited since the last loop
            self.dropped_frames = 0
            self._readers += 1
        self.send({"type": "pull", "on": True})

    def _end(self) -> None:
        # The page sends frames only while a loop reads them: no JPEG traffic between loops.
        with self._cond:
            self._readers -= 1
            last = self._readers == 0
        if last:
            self.send({"type": "pull", "on": False})

    def _stalled(self, waited_s: float) -> VideoOpenError:
        return VideoOpenError(
            f"browser camera sent no frame for {waited_s:.1f} s (state {self.state!r}): the browser tab may be "
            "hidden or closed, or the kernel was busy. Drive live loops from an async cell "
            "(`async for frame in camera.aframes(): ...`) and keep the notebook tab visible"
        )

    def frames(
        self, *, timeout_s: float = 2.0, max_seconds: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> Iterator[Frame]:
        """Yield the newest camera frame each time one arrives (frames in between are dropped).

        Blocking: in JupyterLab without kernel subshells no new frame arrives while a normal cell
        runs; use :meth:`aframes` from an ``async`` cell there.

        Args:
            timeout_s: wait this long for the page to answer, and at most this long for each frame.
            max_seconds: stop after this many seconds (``None``: until :meth:`stop`).
            clock: seconds, for ``timestamp_s`` and ``max_seconds`` (injected in tests).

        Yields:
            ``Frame(image_bgr, index, timestamp_s)``: a BGR ``uint8`` image; ``index`` counts camera
            frames since the loop started (gaps are frames skipped by the page or dropped here,
            counted in :attr:`dropped_frames`); ``timestamp_s`` is ``clock()`` seconds since the start.

        Raises:
            VideoOpenError: the camera is not streaming (message says why and the fix), or no
                frame came for ``timeout_s``.
            VideoDecodeError: the page sent bytes that are not a JPEG.
        """
        loop = _Loop(self, clock=clock, max_seconds=max_seconds)
        self._begin(self.wait_ready(timeout_s))
        loop.start = clock()  # max_seconds counts from the first frame request, not from waiting
        try:
            waiting_since = self._clock()  # no frame for timeout_s = stalled; consumer time not counted
            while True:
                with self._cond:
                    while self._latest is None and not self._stop_requested:
                        wait_s = min(waiting_since + timeout_s - self._clock(), loop.remaining_s())
                        if wait_s <= 0:
                            break
                        self._cond.wait(wait_s)
                    item, self._latest = self._latest, None
                frame = self._next_frame(loop, item, waiting_since, timeout_s)
                if frame is None:
                    return
                yield frame
                waiting_since = self._clock()
        finally:
            self._end()

    async def aframes(
        self, *, timeout_s: float = 2.0, max_seconds: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> AsyncIterator[Frame]:
        """:meth:`frames` for ``async`` cells: ``async for frame in camera.aframes(max_seconds=10): ...``.

        Awaits between polls, so the kernel keeps receiving frames and sending acks.
        """
        loop = _Loop(self, clock=clock, max_seconds=max_seconds)
        self._begin(await self.await_ready(timeout_s))
        loop.start = clock()  # max_seconds counts from the first frame request, not from waiting
        try:
            waiting_since = self._clock()
            while True:
                with self._cond:
                    item, self._latest = self._latest, None
                if item is None and not self._stop_requested and not loop.done():
                    if (waited_s := self._clock() - waiting_since) >= timeout_s:
                        raise self._stalled(waited_s)
                    await asyncio.sleep(POLL_S)
                    continue
                frame = self._next_frame(loop, item, waiting_since, timeout_s)
                if frame is None:
                    return
                yield frame
                waiting_since = self._clock()
        finally:
            self._end()

    def _next_frame(self, loop: _Loop, item: tuple[int, bytes] | None, waiting_since: float, timeout_s: float):
        """The frame to yield, or ``None`` when the loop ends (stop(), max_seconds)."""
        if self._stop_requested:
            return None
        if item is None:
            waited_s = self._clock() - waiting_since
            if waited_s >= timeout_s or loop.yielded == 0:  # a loop that got no frame at all failed too
                raise self._stalled(waited_s)
            return None  # max_seconds reached while waiting
        return loop.frame(*item)


class _Loop:
    """Bookkeeping of one frame loop: time limit, indices and decoding."""

    def __init__(self, camera: BrowserCamera, *, clock: Callable[[], float], max_seconds: float | None) -> None:
        if max_seconds is not None and max_seconds <= 0:
            raise ValueError(f"max_seconds={max_seconds} must be positive (or None for no limit)")
        self.camera, self.clock, self.max_seconds = camera, clock, max_seconds
        # Import the decoder now, not on the first frame: that would stall the kernel for a moment.
        import cv2
        import numpy as np

        from ..video.core import Frame

        self.cv2, self.np, self.frame_type = cv2, np, Frame
        self.start = clock()
        self.seq_base: int | None = None
        self.index_base = 0
        self.last_index = -1
        self.yielded = 0

    def remaining_s(self) -> float:
        return float("inf") if self.max_seconds is None else self.max_seconds - (self.clock() - self.start)

    def done(self) -> bool:
        return self.remaining_s() <= 0

    def frame(self, seq: int, jpeg: bytes) -> Frame | None:
        """The decoded frame stamped now, or ``None`` when ``max_seconds`` has passed."""
        elapsed_s = self.clock() - self.start
        if self.max_seconds is not None and elapsed_s >= self.max_seconds:
            return None
        if self.seq_base is None or seq - self.seq_base + self.index_base <= self.last_index:
            # First frame, or the page restarted its counter (camera stopped and started again).
            self.seq_base, self.index_base = seq, self.last_index + 1
        index = self.index_base + seq - self.seq_base
        image = self.cv2.imdecode(self.np.frombuffer(jpeg, self.np.uint8), self.cv2.IMREAD_COLOR)
        if image is None:
            raise VideoDecodeError(
                f"browser camera frame {index} ({len(jpeg)} bytes) is not a decodable JPEG; "
                "re-run the cell that displays the camera"
            )
        self.last_index = index
        self.yielded += 1
        self.camera.dropped_frames = index + 1 - self.yielded
        return self.frame_type(image_bgr=image, index=index, timestamp_s=elapsed_s)
