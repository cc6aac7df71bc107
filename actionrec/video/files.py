"""Video files behind :func:`actionrec.video.open_video`: OpenCV first, PyAV when it cannot.

Files decode with OpenCV: per frame only ``read()`` and ``CAP_PROP_POS_MSEC`` plus a timestamp
check, no copies (this loop is on the benchmark's hot path). PyAV (:mod:`actionrec.video.pyav`)
takes over only when OpenCV cannot open a file or stops well before the container's end.

A consumer that needs only some frames (the analysis pipeline: frames that can be nearest to a
sampling grid point) passes a ``frame_filter`` at open time; OpenCV then grabs every frame
but converts to BGR (``retrieve()``, a third of a 720p frame's decode time) and yields only the
frames the filter wants. Cameras, folders and iterables live in :mod:`~actionrec.video.live` and
:mod:`~actionrec.video.frames`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import VideoOpenError
from .core import (
    MAX_TIMESTAMP_S,
    Capture,
    CaptureFactory,
    Frame,
    FrameFilter,
    TimestampGuard,
    VideoInfo,
    VideoSource,
    VideoStats,
    chain,
)
from .pyav import (
    MAX_FPS,
    ContainerFacts,
    DecodeReport,
    continue_after,
    decode,
    no_frames_error,
    open_container,
    plausible,
    probe,
)


def open_file(
    path: Path,
    display: str,
    *,
    fps: float | None,
    factory: CaptureFactory | None = None,
    frame_filter: FrameFilter | None = None,
) -> VideoSource:
    """Open a video file: OpenCV when it can, PyAV when it cannot (see the module docstring).

    Args:
        path: an existing file.
        display: the name to show (path, URL, "upload (N bytes)").
        fps: rate to assume when the file states none.
        factory: ``factory(path_str) -> cv2.VideoCapture``-like (tests); default OpenCV's FFmpeg backend.
        frame_filter: ``frame_filter(prev_timestamp_s, timestamp_s) -> bool``; with OpenCV, frames
            it rejects are decoded but neither converted nor yielded (counted in
            ``stats.frames_decoded`` and ``stats.frames_skipped``). The first frame is always
            yielded; PyAV yields every frame.

    Returns:
        The opened source (its first frame already decoded).

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
    if cap is None or not ok or first is None:
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
    info = VideoInfo(
        display, (first.shape[1], first.shape[0]), nominal or fps, count, duration, False, rotation, decoder="opencv"
    )
    frames = _opencv_frames(cap, first, path, info, facts, stats, guard, frame_filter)
    return VideoSource(info, stats, frames, on_close=cap.release)


def _capture(path: Path, factory: CaptureFactory | None) -> Capture | None:
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


def _opencv_frames(
    cap: Capture,
    first: np.ndarray,
    path: Path,
    info: VideoInfo,
    facts: ContainerFacts | None,
    stats: VideoStats,
    guard: TimestampGuard,
    keep: FrameFilter | None,
) -> Iterator[Frame]:
    """The hot loop: read, timestamp, check, yield; then PyAV if OpenCV stopped early.

    With ``keep`` (the ``frame_filter``), frames are grabbed (decoded) and converted to BGR only
    when ``keep(prev_s, t_s)`` wants them: the conversion is a third of a 720p frame's decode time.
    """
    import cv2

    read, get, pos_msec, fix = cap.read, cap.get, cv2.CAP_PROP_POS_MSEC, guard.fix
    grab, retrieve = getattr(cap, "grab", None), getattr(cap, "retrieve", None)
    grabbing = keep is not None and grab is not None and retrieve is not None
    ok, image, index, prev = True, first, 0, -1e-9
    try:
        while ok:
            t = get(pos_msec) * 0.001
            if not prev < t < MAX_TIMESTAMP_S:  # e.g. the last frame of an XVID AVI reads 0.0
                t = fix(prev, index, t)
            stats.frames_decoded += 1
            stats.last_timestamp_s = t
            if image is None and grabbing and keep(prev, t):
                converted, image = retrieve()
                image = image if converted else None
            prev = t
            if image is not None:
                yield Frame(image, index, t)
            else:
                stats.frames_skipped += 1
            index += 1
            if grabbing:
                ok, image = grab(), None
            else:
                ok, image = read()
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
    warn_truncated(info.source, facts, report, stats)


def _reached_end(last_s: float, n: int, info: VideoInfo, step_s: float) -> bool:
    """Did OpenCV's last frame reach the declared end? Unknown length: no, let PyAV look (cheap)."""
    if info.duration_s is None and info.frame_count is None:
        return False
    if info.duration_s is not None and last_s + step_s < info.duration_s - max(2.0 * step_s, 0.25):
        return False
    return info.frame_count is None or n >= info.frame_count - max(2.0, 0.02 * info.frame_count)


def warn_truncated(display: str, facts: ContainerFacts | None, report: DecodeReport, stats: VideoStats) -> None:
    """Add the "truncated" warning to ``stats`` when ``stats.truncated`` is set (shared by every PyAV decode)."""
    if stats.truncated:
        declared = facts.duration_s if facts is not None else None
        says = f"the container says {declared:.2f} s" if declared else "the container breaks off inside a packet"
        stats.warnings.append(
            f"{display} is truncated: its packets end at {report.video_end_s:.2f} s but {says} (an interrupted "
            f"download, copy or recording); {stats.frames_decoded} frames decoded and analysed. Get the complete "
            "file for the rest"
        )


def _open_with_pyav(
    path: Path, display: str, *, fps: float | None, facts: ContainerFacts | None, why: str
) -> VideoSource:
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
    info = VideoInfo(display, size_wh, nominal or fps, count, duration, False, report.rotation_deg, decoder="pyav")

    def frames() -> Iterator[Frame]:
        try:
            yield from guard.frames(chain(first, pairs))
        finally:
            container.close()
        stats.frames_corrupt += report.corrupt
        stats.truncated = report.truncated(facts, guard.step_s)
        warn_truncated(display, facts, report, stats)

    return VideoSource(info, stats, frames(), on_close=container.close)
