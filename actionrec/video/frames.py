"""Sources that are not video files: image folders and iterables of frames or BGR arrays.

Image folders and arrays get timestamps index / fps; live iterables of arrays get wall-clock
seconds since opening (``clock`` is injected in tests); :class:`~actionrec.video.Frame` objects
keep their own timestamps (a :class:`~actionrec.video.LiveFrameSource` stamps them itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from ..errors import VideoDecodeError, VideoOpenError
from .core import (
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


def _natural_key(path: Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _read_image(path: Path) -> np.ndarray | None:
    import cv2

    # imdecode(np.fromfile) instead of imread: works with non-ASCII paths on every OS
    data = np.fromfile(path, dtype=np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def open_folder(folder: Path, *, fps: float | None) -> VideoSource:
    """Images of ``folder`` in natural name order (img_2 before img_10), timestamps index / fps.

    Args:
        folder: an existing folder.
        fps: the rate the timestamps follow (default :data:`~actionrec.video.DEFAULT_IMAGE_FPS`).

    Returns:
        The opened source; unreadable images are skipped (``stats.frames_corrupt``, a warning).

    Raises:
        VideoOpenError: no image files.
        VideoDecodeError: none can be read.
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


def open_iterable(
    items: Iterable[Frame | np.ndarray],
    *,
    fps: float | None,
    live: bool,
    clock: Callable[[], float],
    display: str = "frames",
) -> VideoSource:
    """Frames from an iterable of :class:`Frame` (kept as given) or of BGR arrays (numbered here).

    The first item is taken here, so an empty or wrong iterable (or a live source that cannot
    start) fails at opening.

    Args:
        items: :class:`Frame` objects (indices must increase) or HxWx3 uint8 BGR arrays.
        fps: the rate array timestamps follow (default 30; live: none).
        live: array timestamps are ``clock()`` seconds since opening; no frame count.
        clock: wall clock (seconds) for live arrays.
        display: the name in :attr:`VideoInfo.source`.

    Returns:
        The opened source; closing it closes the iterator when it has a ``close()``.

    Raises:
        VideoOpenError: empty, or items of another type.
        VideoDecodeError: a bad item later on.
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
    info = VideoInfo(display, (image.shape[1], image.shape[0]), rate, count or None, duration, is_live=live)
    return VideoSource(info, stats, frames(), on_close=getattr(it, "close", None))
