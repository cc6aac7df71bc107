"""The sources behind :func:`actionrec.video.open_video`: files, image folders, iterables, cameras.

Files decode with OpenCV: per frame only ``read()`` and ``CAP_PROP_POS_MSEC`` plus a timestamp
check, no copies (this loop is on the benchmark's hot path). PyAV (:mod:`actionrec.video.pyav`)
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
from pathlib import Path

from ..errors import VideoOpenError
from .core import (
    MAX_TIMESTAMP_S,
    Frame,
    TimestampGuard,
    VideoInfo,
    VideoSource,
    VideoStats,
    chain,
)
from .pyav import MAX_FPS, DecodeReport, continue_after, decode, no_frames_error, open_container, plausible, probe


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
