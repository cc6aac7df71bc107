"""The sources behind :func:`actionrec.video.open_video`: files, image folders, iterables, cameras.

Files decode with OpenCV: per frame only ``read()`` and ``CAP_PROP_POS_MSEC`` plus a timestamp
check, no copies (this loop is on the benchmark's hot path). PyAV (:mod:`actionrec.video_pyav`)
takes over only when OpenCV cannot open a file or stops well before the container's end. Image
folders and arrays get timestamps index / fps; cameras, streams and live iterables get wall-clock
seconds since opening (``clock`` is injected in tests).

A live source cannot wait for its consumer: with ``newest_only`` (the default) a thread reads the
capture continuously and keeps only the newest frame, so a slow consumer (inference on a small CPU)
skips frames, counted in :attr:`~actionrec.video.VideoStats.frames_dropped`, instead of building a
queue and falling seconds behind. Frame indices count every frame the device delivered, so skipped
frames show as gaps.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import VideoDecodeError, VideoOpenError
from .video import (
    BEFORE_START_S,
    DEFAULT_IMAGE_FPS,
    IMAGE_SUFFIXES,
    MAX_TIMESTAMP_S,
    Frame,
    TimestampGuard,
    VideoInfo,
    VideoSource,
    VideoStats,
    chain,
)
from .video_pyav import MAX_FPS, DecodeReport, continue_after, decode, no_frames_error, open_container, plausible, probe


def open_file(path: Path, display: str, *, fps: float | None, factory=None) -> VideoSource:
    """Open a video file: OpenCV when it can, PyAV when it cannot (see the module docstring).

    Args:
        path: an existing file.
        display: the name to show (path, URL, "upload (N bytes)").
        fps: rate to assume when the file states none.
        factory: ``factory(path_str) -> cv2.VideoCapture``-like (tests); default OpenCV's FFmpeg backend.

    Raises:
        VideoOpenError: empty, unreadable or not a video (the message says what it holds).
        VideoDecodeError: it opens but no frame decodes.
    """
    import cv2

    if not os.access(path, os.R_OK):
        raise VideoOpenError(f"cannot read {display}: permission denied; check the file's permissions (chmod +r)")
    if path.stat().st_size == 0:
        raise VideoOpenError(
            f"{display} is empty (0 bytes): the download, copy or recording did not complete; get the file again"
        )
    cap = _capture(path, factory)
    ok, first = cap.read() if cap is not None and cap.isOpened() else (False, None)
    facts = probe(path)
    if not ok or first is None:
        why = "open" if cap is None or not cap.isOpened() else "decode the first frame of"
        if cap is not None:
            cap.release()
        return _open_with_pyav(path, display, fps=fps, facts=facts, why=why)
    try:
        cv_fps = cap.get(cv2.CAP_PROP_FPS)
        if facts is None:
            nominal, count, duration = (cv_fps if plausible(cv_fps, MAX_FPS) else None), None, None
        else:
            nominal, count, duration = facts.trusted(cv_fps)
        rotation = round((cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) / 90) * 90 % 360
    except BaseException:
        cap.release()
        raise
    stats = VideoStats()
    guard = TimestampGuard(stats, 1.0 / (nominal or fps or 30.0), display)
    info = VideoInfo(display, (first.shape[1], first.shape[0]), nominal or fps, count, duration, False, rotation)
    source = VideoSource(info, stats, iter(()), on_close=cap.release)
    source._frames = _opencv_frames(cap, first, path, info, facts, stats, guard, source)
    return source


def _capture(path: Path, factory):
    import cv2

    if factory is not None:
        return factory(str(path))
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)  # a failed open logs a WARN line; our error explains it
    try:
        return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    finally:
        logging.setLogLevel(level)


def _opencv_frames(cap, first, path, info: VideoInfo, facts, stats: VideoStats, guard: TimestampGuard, owner):
    """The hot loop: read, timestamp, check, yield; then PyAV if OpenCV stopped early.

    When ``owner.keep`` is set, frames are grabbed (decoded) and converted to BGR only when
    ``keep(prev_s, t_s)`` wants them: the conversion is a third of a 720p frame's decode time.
    """
    import cv2

    read, get, pos_msec, fix = cap.read, cap.get, cv2.CAP_PROP_POS_MSEC, guard.fix
    grab, retrieve = getattr(cap, "grab", None), getattr(cap, "retrieve", None)
    ok, image, index, prev = True, first, 0, -1e-9
    try:
        while ok:
            t = get(pos_msec) * 0.001
            if not prev < t < MAX_TIMESTAMP_S:  # e.g. the last frame of an XVID AVI reads 0.0
                t = fix(prev, index, t)
            stats.frames_decoded += 1
            stats.last_timestamp_s = t
            if image is None and owner.keep(prev, t):
                converted, image = retrieve()
                image = image if converted else None
            prev = t
            if image is not None:
                yield Frame(image, index, t)
            else:
                stats.frames_skipped += 1
            index += 1
            if owner.keep is None or grab is None:
                ok, image = read()
            else:
                ok, image = grab(), None
        if facts is None or _reached_end(prev, index, info, guard.step_s):
            return
        cap.release()
        pairs, report = continue_after(path, prev)
        yield from guard.frames(pairs, first_index=index, prev_s=prev)
    finally:
        cap.release()
    more = stats.frames_decoded - index
    stats.frames_corrupt += report.corrupt
    stats.truncated = report.truncated(facts, guard.step_s)
    if more or report.corrupt:
        stats.warnings.append(
            f"{info.source}: OpenCV stopped after {index} frames at {prev:.2f} s; PyAV decoded {more} more"
            + (f" and skipped {report.corrupt} undecodable packet(s)" if report.corrupt else "")
        )
    _warn_truncated(info.source, facts, report, stats)


def _reached_end(last_s: float, n: int, info: VideoInfo, step_s: float) -> bool:
    """Did OpenCV's last frame reach the declared end? Unknown length: no, let PyAV look (cheap)."""
    if info.duration_s is None and info.frame_count is None:
        return False
    if info.duration_s is not None and last_s + step_s < info.duration_s - max(2.0 * step_s, 0.25):
        return False
    return info.frame_count is None or n >= info.frame_count - max(2.0, 0.02 * info.frame_count)


def _warn_truncated(display: str, facts, report: DecodeReport, stats: VideoStats) -> None:
    if stats.truncated:
        stats.warnings.append(
            f"{display} is truncated: its packets end at {report.video_end_s:.2f} s but the container says "
            f"{facts.duration_s:.2f} s (an interrupted download, copy or recording); {stats.frames_decoded} frames "
            "decoded and analysed. Get the complete file for the rest"
        )


def _open_with_pyav(path: Path, display: str, *, fps, facts, why: str) -> VideoSource:
    container = open_container(path, display)
    report = DecodeReport()
    pairs = decode(container, after_s=None, report=report)
    try:
        first = next(pairs, None)
    except BaseException:
        container.close()
        raise
    if first is None:
        container.close()
        raise no_frames_error(display, facts, report)
    nominal, count, duration = facts.trusted(None) if facts else (None, None, None)
    stats = VideoStats(warnings=[f"OpenCV cannot {why} {display}; decoding it with PyAV instead (slower)"])
    guard = TimestampGuard(stats, 1.0 / (nominal or fps or 30.0), display)
    size_wh = (first[0].shape[1], first[0].shape[0])
    info = VideoInfo(display, size_wh, nominal or fps, count, duration, False, report.rotation_deg)

    def frames():
        try:
            yield from guard.frames(chain(first, pairs))
        finally:
            container.close()
        stats.frames_corrupt += report.corrupt
        stats.truncated = report.truncated(facts, guard.step_s)
        _warn_truncated(display, facts, report, stats)

    return VideoSource(info, stats, frames(), on_close=container.close)


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _read_image(path: Path) -> np.ndarray | None:
    import cv2

    # imdecode(np.fromfile) instead of imread: works with non-ASCII paths on every OS
    data = np.fromfile(path, dtype=np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def open_folder(folder: Path, *, fps: float | None) -> VideoSource:
    """Images of ``folder`` in natural name order (img_2 before img_10), timestamps index / fps.

    Raises:
        VideoOpenError: no image files. VideoDecodeError: none can be read.
    """
    entries = sorted(folder.iterdir(), key=_natural_key)
    files = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        found = (", ".join(p.name for p in entries[:5]) + (", ..." if len(entries) > 5 else "")) or "nothing"
        raise VideoOpenError(
            f"folder {folder} holds no images (found: {found}); an image folder needs {', '.join(IMAGE_SUFFIXES)} "
            "files (name order = frame order). To analyse a video, pass the video file itself"
        )
    first = next((img for p in files if (img := _read_image(p)) is not None), None)
    if first is None:
        raise VideoDecodeError(f"none of the {len(files)} images in {folder} can be read; they are damaged or empty")
    fps = fps or DEFAULT_IMAGE_FPS
    stats = VideoStats()

    def pairs() -> Iterator[tuple[np.ndarray, float]]:
        for k, p in enumerate(files):
            if (img := _read_image(p)) is None:
                stats.frames_corrupt += 1
                stats.warnings.append(f"{p} cannot be read as an image; skipped")
            else:
                yield img, k / fps  # a skipped image leaves a gap in time, not in index

    info = VideoInfo(str(folder), (first.shape[1], first.shape[0]), fps, len(files), len(files) / fps, is_live=False)
    return VideoSource(info, stats, TimestampGuard(stats, 1.0 / fps, str(folder)).frames(pairs()))


def open_iterable(items: Iterable[Any], *, fps: float | None, live: bool, clock: Callable[[], float]) -> VideoSource:
    """Frames from an iterable of :class:`Frame` (kept as given) or of BGR arrays (numbered here).

    Arrays get timestamps index / ``fps`` (default 30), or ``clock()`` since opening when ``live``.

    Raises:
        VideoOpenError: empty, or items of another type. VideoDecodeError: a bad item later on.
    """
    it = iter(items)
    t0 = clock()
    first = next(it, None)
    if first is None:
        raise VideoOpenError("the iterable of frames is empty; it must yield Frame objects or HxWx3 uint8 BGR arrays")
    rate = fps if (fps or live) else DEFAULT_IMAGE_FPS
    stats = VideoStats()
    guard = TimestampGuard(stats, 1.0 / (rate or DEFAULT_IMAGE_FPS), "frames")

    def frames() -> Iterator[Frame]:
        prev_s, prev_index = BEFORE_START_S, -1
        for k, item in enumerate(chain(first, it)):
            if isinstance(item, Frame):
                if item.index <= prev_index:
                    raise VideoDecodeError(
                        f"item {k} of the frame iterable has index {item.index} after {prev_index}; "
                        "Frame indices must increase (renumber them, or yield arrays and let open_video number them)"
                    )
                t = item.timestamp_s
                if not prev_s < t < MAX_TIMESTAMP_S:
                    item = Frame(item.image_bgr, item.index, guard.fix(prev_s, item.index, t))
            else:
                t = clock() - t0 if live else k / rate
                if not prev_s < t < MAX_TIMESTAMP_S:
                    t = guard.fix(prev_s, k, t)
                try:
                    item = Frame(item, k, t)
                except ValueError as exc:
                    raise VideoDecodeError(f"item {k} of the frame iterable: {exc}") from None
            prev_s, prev_index = item.timestamp_s, item.index
            stats.frames_decoded += 1
            yield item

    image = first.image_bgr if isinstance(first, Frame) else first
    if not isinstance(image, np.ndarray) or image.ndim != 3:
        raise VideoOpenError(
            f"the iterable yields {type(first).__name__} items; it must yield Frame objects or HxWx3 uint8 BGR arrays"
        )
    count = len(items) if hasattr(items, "__len__") and not live else None
    duration = count / rate if count and rate and not isinstance(first, Frame) else None
    info = VideoInfo("frames", (image.shape[1], image.shape[0]), rate, count or None, duration, is_live=live)
    return VideoSource(info, stats, frames(), on_close=getattr(it, "close", None))


_LIVE_MAX_FAILED_READS = 10  # in a row: the device is gone
_LIVE_RETRY_S = 0.02
_LIVE_JOIN_S = 2.0
LIVE_STALL_S = 10.0  # newest-only: no frame for this long is an error, not an endless wait


def open_live(
    spec: int | str, display: str, *, newest_only: bool, fps: float | None, factory: Callable | None, clock: Callable
) -> VideoSource:
    """Open a camera index or stream URL; the first frame is read here (so a dead device fails now).

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

    def __init__(self, cap: Any, clock: Callable[[], float], t0: float, stats: VideoStats, display: str, *, step_s):
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
