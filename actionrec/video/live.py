"""Live sources: cameras and ``rtsp://`` streams through OpenCV, with wall-clock timestamps.

A live source cannot wait for its consumer: with ``newest_only`` (the default) a thread reads the
capture continuously and keeps only the newest frame, so a slow consumer (inference on a small CPU)
skips frames, counted in :attr:`~actionrec.video.VideoStats.frames_dropped`, instead of building a
queue and falling seconds behind. Frame indices count every frame the device delivered, so skipped
frames show as gaps. ``clock`` is injected in tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from ..errors import VideoDecodeError, VideoOpenError
from .core import (
    BEFORE_START_S,
    MAX_TIMESTAMP_S,
    Capture,
    CaptureFactory,
    Frame,
    TimestampGuard,
    VideoInfo,
    VideoSource,
    VideoStats,
)

_LIVE_MAX_FAILED_READS = 10  # in a row: the device is gone
_LIVE_RETRY_S = 0.02
_LIVE_JOIN_S = 2.0
LIVE_STALL_S = 10.0  # newest-only: no frame for this long is an error, not an endless wait


def open_live(
    spec: int | str,
    display: str,
    *,
    newest_only: bool,
    fps: float | None,
    factory: CaptureFactory | None,
    clock: Callable[[], float],
) -> VideoSource:
    """Open a camera index or stream URL; the first frame is read here (so a dead device fails now).

    Args:
        spec: the camera index, or the stream URL.
        display: the name to show (``"camera 0"``, the URL without credentials).
        newest_only: a thread keeps only the newest frame (see the module docstring).
        fps: the rate to request from the device.
        factory: ``factory(spec) -> cv2.VideoCapture``-like (tests); default OpenCV.
        clock: wall clock in seconds; timestamps are seconds since opening.

    Returns:
        The opened source (``info.is_live``); closing it stops the thread and releases the device.

    Raises:
        VideoOpenError: it does not open or delivers no frame (the message says how to fix it).
    """
    import cv2

    if factory is None:
        factory = cv2.VideoCapture if isinstance(spec, int) else (lambda url: cv2.VideoCapture(url, cv2.CAP_FFMPEG))
    cap = factory(spec)
    try:
        if cap is None or not cap.isOpened():
            raise VideoOpenError(_live_help(spec, display, "could not be opened"))
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)
        t0 = clock()
        ok, first = cap.read()
        t_first = clock() - t0
        if not ok or first is None:
            raise VideoOpenError(_live_help(spec, display, "opened but delivered no frame"))
        reported = cap.get(cv2.CAP_PROP_FPS)
    except BaseException:
        if cap is not None:
            cap.release()
        raise
    rate = reported if 0 < reported < 1000 else fps
    stats = VideoStats()
    info = VideoInfo(display, (first.shape[1], first.shape[0]), rate, None, None, is_live=True)
    reader = _LiveReader(cap, clock, t0, stats, display, step_s=1.0 / (rate or 30.0))
    return VideoSource(info, stats, reader.frames((0, first, t_first), newest_only=newest_only), on_close=reader.stop)


def _live_help(spec: int | str, display: str, what: str) -> str:
    if isinstance(spec, str):
        return (
            f"{display} {what}; check the URL, the credentials and that the stream plays elsewhere "
            "(e.g. ffplay URL), or record it to a file and pass the file"
        )
    return (
        f"{display} {what}. Check the index (0 is the first camera, 1 the next), that no other program "
        f"(a video call, another notebook) is using it, and that this user may use it (Linux: /dev/video{spec} "
        "and the 'video' group; macOS/Windows: the camera privacy settings). In a remote kernel (JupyterLab on a "
        "server, Colab, Binder) the server has no camera: use the browser camera instead"
    )


class _LiveReader:
    """Reads a live capture, on demand or (newest-only) in a thread that keeps only the newest frame."""

    def __init__(
        self, cap: Capture, clock: Callable[[], float], t0: float, stats: VideoStats, display: str, *, step_s: float
    ) -> None:
        self._cap, self._clock, self._t0, self._stats, self._display = cap, clock, t0, stats, display
        self._guard = TimestampGuard(stats, step_s, display)
        self._cond = threading.Condition()
        self._slot: tuple[int, np.ndarray, float] | None = None
        self._seq = 1
        self._done = False
        self._error: Exception | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> tuple[int, np.ndarray, float] | None:
        failures = 0
        while not self._stop.is_set():
            ok, image = self._cap.read()
            if ok and image is not None:
                self._seq += 1
                return self._seq - 1, image, self._clock() - self._t0
            failures += 1
            if failures >= _LIVE_MAX_FAILED_READS:
                self._stats.warnings.append(
                    f"{self._display} stopped delivering frames ({failures} failed reads in a row after frame "
                    f"{self._seq - 1}): it was disconnected or taken by another program"
                )
                return None
            self._stop.wait(_LIVE_RETRY_S)
        return None

    def _grab(self) -> None:
        try:
            while (item := self._read()) is not None:
                with self._cond:
                    if self._slot is not None:
                        self._stats.frames_dropped += 1
                    self._slot = item
                    self._cond.notify()
        except Exception as exc:  # handed to the consumer, which raises it
            self._error = exc
        finally:
            self._cap.release()
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _newest(self) -> tuple[int, np.ndarray, float] | None:
        deadline = time.monotonic() + LIVE_STALL_S
        with self._cond:
            while self._slot is None and not self._done:
                if not self._cond.wait(min(0.5, LIVE_STALL_S)) and time.monotonic() > deadline:
                    raise VideoDecodeError(
                        f"{self._display} delivered no frame for {LIVE_STALL_S:g} s; check that it is still "
                        "connected and not used by another program, then open it again"
                    )
            item, self._slot = self._slot, None
        if item is None and self._error is not None:
            raise VideoDecodeError(f"{self._display}: reading frames failed: {self._error}") from self._error
        return item

    def frames(self, first: tuple[int, np.ndarray, float], *, newest_only: bool) -> Iterator[Frame]:
        """The frames, starting with ``first`` (read at opening); with ``newest_only`` from the thread."""
        if newest_only:
            self._slot = first
            self._thread = threading.Thread(target=self._grab, name=f"actionrec grab {self._display}", daemon=True)
            self._thread.start()
        prev_s = BEFORE_START_S
        item: tuple[int, np.ndarray, float] | None = None if newest_only else first
        while True:
            if newest_only:
                item = self._newest()
            if item is None:
                return
            index, image, t = item
            if not prev_s < t < MAX_TIMESTAMP_S:
                t = self._guard.fix(prev_s, index, t)
            prev_s = t
            self._stats.frames_decoded += 1
            yield Frame(image, index, t)
            if not newest_only:
                try:
                    item = self._read()
                except Exception as exc:
                    raise VideoDecodeError(f"{self._display}: reading frames failed: {exc}") from exc

    def stop(self) -> None:
        """Stop the grab thread (it releases the capture) or release the capture directly."""
        self._stop.set()
        if self._thread is None:
            self._cap.release()
            return
        self._thread.join(_LIVE_JOIN_S)  # a read blocked in the driver releases when it returns
