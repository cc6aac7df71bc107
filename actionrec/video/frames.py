"""Sources that are not video files: image folders and iterables of frames or BGR arrays.

Image folders and arrays get timestamps index / fps; live iterables of arrays get wall-clock
seconds since opening (``clock`` is injected in tests); :class:`~actionrec.video.Frame` objects
keep their own timestamps (a :class:`~actionrec.video.LiveFrameSource` stamps them itself).
Async iterables (the browser camera's ``aframes()``) open with :func:`open_async_iterable`: live,
read with ``async for``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
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


class _ItemChecker:
    """Turns the items of a frame iterable into checked :class:`Frame` objects, one by one."""

    def __init__(self, *, rate: float | None, live: bool, clock: Callable[[], float], t0: float) -> None:
        self.rate, self.live, self.clock, self.t0 = rate, live, clock, t0
        self.stats = VideoStats()
        self.guard = TimestampGuard(self.stats, 1.0 / (rate or DEFAULT_IMAGE_FPS), "frames")
        self.prev_s, self.prev_index = BEFORE_START_S, -1

    def frame(self, k: int, item: Frame | np.ndarray) -> Frame:
        if isinstance(item, Frame):
            if item.index <= self.prev_index:
                raise VideoDecodeError(
                    f"item {k} of the frame iterable has index {item.index} after {self.prev_index}; "
                    "Frame indices must increase (renumber them, or yield arrays and let open_video number them)"
                )
            t = item.timestamp_s
            if not self.prev_s < t < MAX_TIMESTAMP_S:
                item = Frame(item.image_bgr, item.index, self.guard.fix(self.prev_s, item.index, t))
        else:
            t = self.clock() - self.t0 if self.live else k / (self.rate or DEFAULT_IMAGE_FPS)
            if not self.prev_s < t < MAX_TIMESTAMP_S:
                t = self.guard.fix(self.prev_s, k, t)
            try:
                item = Frame(item, k, t)
            except ValueError as exc:
                raise VideoDecodeError(f"item {k} of the frame iterable: {exc}") from None
        self.prev_s, self.prev_index = item.timestamp_s, item.index
        self.stats.frames_decoded += 1
        return item


def _first_image(first: object) -> np.ndarray:
    """The first item's image, or the error saying what the iterable yields instead."""
    if first is None:
        raise VideoOpenError("the iterable of frames is empty; it must yield Frame objects or HxWx3 uint8 BGR arrays")
    image = first.image_bgr if isinstance(first, Frame) else first
    if not isinstance(image, np.ndarray) or image.ndim != 3:
        raise VideoOpenError(
            f"the iterable yields {type(first).__name__} items; it must yield Frame objects or HxWx3 uint8 BGR arrays"
        )
    return image


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
    image = _first_image(first)
    rate = fps if (fps or live) else DEFAULT_IMAGE_FPS
    check = _ItemChecker(rate=rate, live=live, clock=clock, t0=t0)

    def frames() -> Iterator[Frame]:
        for k, item in enumerate(chain(first, it)):
            yield check.frame(k, item)

    count = len(items) if hasattr(items, "__len__") and not live else None
    duration = count / rate if count and rate and not isinstance(first, Frame) else None
    info = VideoInfo(display, (image.shape[1], image.shape[0]), rate, count or None, duration, is_live=live)
    return VideoSource(info, check.stats, frames(), on_close=getattr(it, "close", None))


async def open_async_iterable(
    items: AsyncIterable[Frame | np.ndarray], *, clock: Callable[[], float], display: str
) -> VideoSource:
    """A live source from an async iterable of :class:`Frame` or BGR arrays (``async for`` only).

    The first item is awaited here, so an empty or wrong iterable fails at opening, as in
    :func:`open_iterable` with ``live=True``.

    Args:
        items: :class:`Frame` objects (indices must increase) or HxWx3 uint8 BGR arrays, e.g. the
            browser camera's ``aframes()``.
        clock: wall clock (seconds) for arrays.
        display: the name in :attr:`VideoInfo.source`.

    Returns:
        The opened source; :meth:`VideoSource.aclose` closes the iterator when it has an
        ``aclose()``. Iterating it with a plain ``for`` raises :class:`TypeError`.

    Raises:
        VideoOpenError: empty, or items of another type.
        VideoDecodeError: a bad item later on.
    """
    it = aiter(items)
    t0 = clock()
    try:
        first = await anext(it, None)
        image = _first_image(first)
    except BaseException:
        if (aclose := getattr(it, "aclose", None)) is not None:
            await aclose()
        raise
    check = _ItemChecker(rate=None, live=True, clock=clock, t0=t0)

    def sync_refused() -> Iterator[Frame]:
        raise TypeError(
            f"{display} delivers its frames asynchronously: iterate it with `async for frame in video` "
            "(in an async cell), or open a blocking source with open_video"
        )
        yield  # pragma: no cover - makes this a generator

    info = VideoInfo(display, (image.shape[1], image.shape[0]), None, None, None, is_live=True)
    return VideoSource(info, check.stats, sync_refused(), aframes=_AsyncFrames(it, first, check))


class _AsyncFrames:
    """The checked frames of an async iterable whose first item was already taken."""

    def __init__(self, items: AsyncIterator[Frame | np.ndarray], first: Frame | np.ndarray, check: _ItemChecker):
        self._items, self._first, self._check = items, first, check
        self._k = 0
        self._closed = False

    def __aiter__(self) -> _AsyncFrames:
        return self

    async def __anext__(self) -> Frame:
        if self._closed:
            raise StopAsyncIteration
        if self._first is not None:
            first, self._first = self._first, None
            return self._check.frame(0, first)
        item = await anext(self._items)
        self._k += 1
        return self._check.frame(self._k, item)

    async def aclose(self) -> None:
        """Close the async iterable (once), started or not."""
        if self._closed:
            return
        self._closed = True
        if (aclose := getattr(self._items, "aclose", None)) is not None:
            await aclose()
