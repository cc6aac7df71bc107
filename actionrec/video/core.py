"""The video layer's types: :class:`Frame`, :class:`VideoInfo`, :class:`VideoStats`, :class:`VideoSource`.

Every source (file, URL, camera, folder, iterable, upload) yields :class:`Frame` objects through a
:class:`VideoSource`; :class:`TimestampGuard` replaces invalid timestamps. The openers live in
:mod:`actionrec.video.open` (the one entry point), :mod:`~actionrec.video.files`,
:mod:`~actionrec.video.live` and :mod:`~actionrec.video.frames`.

Objects of higher layers plug in through the protocols defined here, so this layer never imports
them: :class:`LiveFrameSource` (e.g. the notebook's browser camera), :class:`Capture` (what a
``capture_factory`` returns) and :data:`FrameFilter` (a consumer's "do I need this frame?").
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_IMAGE_FPS = 30.0  # folders and arrays without an ``fps``
MAX_TIMESTAMP_S = 1e7  # anything later is garbage (e.g. unset PTS read as a huge number)
BEFORE_START_S = -1e-9  # "previous timestamp" before the first frame: the first must be >= 0

FrameFilter = Callable[[float, float], bool]
"""``frame_filter(prev_timestamp_s, timestamp_s) -> bool``: does the consumer need the frame at
``timestamp_s`` (the previous decoded one was at ``prev_timestamp_s``)? Given to
:func:`~actionrec.video.open_video` at open time; see :func:`~actionrec.video.files.open_file`."""

FrameNeed = Callable[[float, float, float], bool]
"""``frame_need(prev_s, t_s, next_s) -> bool``: does the consumer need the frame at ``t_s``, whose
neighbours in presentation order are at ``prev_s`` and ``next_s``? Given to
:func:`~actionrec.video.open_video` (``frame_need=``), it selects the sampled decode of files
(:mod:`actionrec.video.sampled`): a non-reference frame it returns False for is not decoded."""

T = TypeVar("T")


class Capture(Protocol):
    """What :func:`~actionrec.video.open_video` uses of a ``cv2.VideoCapture`` (fakes in tests).

    Files decoded with a frame filter also use ``grab()`` and ``retrieve()`` when the capture has them.
    """

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        """The device or file opened."""
        ...

    def read(self) -> tuple[bool, np.ndarray | None]:
        """``(ok, image_bgr)``: the next frame, decoded and converted."""
        ...

    def get(self, prop: int) -> float:
        """A ``cv2.CAP_PROP_*`` value (``CAP_PROP_POS_MSEC``: the last frame's time)."""
        ...

    def set(self, prop: int, value: float) -> bool:
        """Request a ``cv2.CAP_PROP_*`` value (e.g. a camera's frame rate)."""
        ...

    def release(self) -> None:
        """Close the device or file."""
        ...


CaptureFactory = Callable[[int | str], Capture | None]
"""``factory(index_or_path_or_url) -> cv2.VideoCapture``-like (tests inject fakes)."""


@runtime_checkable
class LiveFrameSource(Protocol):
    """A live source of frames owned by a higher layer, e.g. the notebook's ``BrowserCamera``.

    :func:`~actionrec.video.open_video` accepts such an object as a live source: it iterates
    :meth:`frames` (the frames' own wall-clock timestamps are kept) and reports
    ``info.is_live=True``. Async consumers (the live player) use :meth:`aframes` directly.
    """

    @property
    def state(self) -> str:
        """A word for people and doctors, e.g. ``"streaming"`` while frames flow."""
        ...

    def frames(self) -> Iterator[Frame]:
        """Blocking iterator of the newest frames (wall-clock ``timestamp_s`` since it started).

        Raises:
            VideoOpenError: the source cannot deliver frames (the message says why and the fix).
        """
        ...

    def aframes(self) -> AsyncIterator[Frame]:
        """The same frames for ``async for`` loops."""
        ...


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame.

    Attributes:
        image_bgr: HxWx3 ``uint8`` BGR image, upright (rotation metadata applied).
        index: 0-based index of the decoded frame in the source (a camera's frames skipped by the
            newest-only mode leave gaps).
        timestamp_s: media time for files and folders; wall-clock seconds since opening for cameras.
    """

    image_bgr: np.ndarray
    index: int
    timestamp_s: float

    def __post_init__(self) -> None:
        img = self.image_bgr
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            what = f"{img.dtype} array of shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
            raise ValueError(
                f"image_bgr must be an HxWx3 uint8 BGR array, got a {what}; convert it first, "
                "e.g. cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) or cv2.COLOR_BGRA2BGR"
            )
        if self.index < 0:
            raise ValueError(f"index must be >= 0, got {self.index}")
        if not (0.0 <= self.timestamp_s < math.inf):
            raise ValueError(f"timestamp_s must be finite and >= 0, got {self.timestamp_s}")

    def __repr__(self) -> str:
        h, w = self.image_bgr.shape[:2]
        return f"Frame(index={self.index}, timestamp_s={self.timestamp_s:.3f}, image_bgr={w}x{h})"


@runtime_checkable
class CroppableFrame(Protocol):
    """A frame whose pixels are converted on demand (the sampled decode of files).

    ``crop_bgr(x, y, w, h)`` gives an upright rectangle as HxWx3 uint8 BGR without converting the
    rest of the frame; ``image_bgr`` converts the whole frame (for callers that need it).
    """

    index: int
    timestamp_s: float
    size_wh: tuple[int, int]

    @property
    def image_bgr(self) -> np.ndarray:
        """The whole upright frame, BGR (converted now)."""
        ...

    def crop_bgr(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        """The upright rectangle ``(x, y, w, h)`` in BGR."""
        ...


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a source when it opens.

    Attributes:
        source: display name (path, URL, ``"camera 0"``, folder, ``"frames"``).
        size_wh: upright frame size (of the first frame for folders and iterables).
        fps: nominal frame rate, ``None`` when unknown (real timing: :attr:`Frame.timestamp_s`).
        frame_count: only when trustworthy (stored in the container and consistent), else ``None``.
        duration_s: only when trustworthy, else ``None``.
        is_live: camera or live iterable (wall-clock timestamps, no end).
        rotation_deg: clockwise rotation applied to make frames upright (0, 90, 180, 270).
        decoder: what decodes a file: ``"opencv"``, ``"pyav"`` (OpenCV cannot) or
            ``"pyav-sampled"`` (the sampled decode: :mod:`actionrec.video.sampled`); ``""`` for
            other sources.
    """

    source: str
    size_wh: tuple[int, int]
    fps: float | None
    frame_count: int | None
    duration_s: float | None
    is_live: bool
    rotation_deg: int = 0
    decoder: str = ""

    def __post_init__(self) -> None:
        if len(self.size_wh) != 2 or min(self.size_wh) <= 0:
            raise ValueError(f"size_wh must be two positive ints, got {self.size_wh}")
        for name in ("fps", "duration_s"):
            value = getattr(self, name)
            if value is not None and not (0.0 < value < math.inf):
                raise ValueError(f"{name} must be positive and finite or None, got {value}")
        if self.frame_count is not None and self.frame_count <= 0:
            raise ValueError(f"frame_count must be positive or None, got {self.frame_count}")
        if self.rotation_deg not in (0, 90, 180, 270):
            raise ValueError(f"rotation_deg must be 0, 90, 180 or 270, got {self.rotation_deg}")


@dataclass
class VideoStats:
    """Filled in while iterating: what was decoded and what went wrong.

    Attributes:
        frames_decoded: frames decoded (yielded, or passed over by the ``frame_filter`` given to
            :func:`~actionrec.video.open_video`); with the sampled decode also the non-reference
            frames no grid point needed, which were not decoded (in :attr:`nonref_skipped`), so the
            count is the source's frames on every path.
        frames_skipped: frames decoded but neither converted nor yielded because the
            ``frame_filter`` did not need them (OpenCV files only).
        nonref_skipped: non-reference frames the sampled decode left undecoded (the ``frame_need``
            said no grid point takes them); counted in :attr:`frames_decoded`.
        frames_converted: sampled decode only: frames whose pixels were converted from YUV to BGR
            (the model crop of each encoded sample; frames no sample takes are never converted).
        last_timestamp_s: timestamp of the last frame decoded (yielded or not), ``None`` before.
        frames_corrupt: undecodable frames (packets, images) skipped.
        truncated: the source ended well before its container said (a cut-off file).
        timestamp_fallbacks: timestamps replaced by previous + 1/fps because they were invalid.
        frames_dropped: camera frames replaced by a newer one before the consumer took them.
        warnings: one sentence per kind of problem, for the user.
    """

    frames_decoded: int = 0
    frames_corrupt: int = 0
    truncated: bool = False
    timestamp_fallbacks: int = 0
    frames_dropped: int = 0
    frames_skipped: int = 0
    nonref_skipped: int = 0
    frames_converted: int = 0
    last_timestamp_s: float | None = None
    warnings: list[str] = field(default_factory=list)


class VideoSource:
    """An opened source: ``with open_video(...) as video: for frame in video: ...``.

    Iterate once, with ``for`` or with ``async for`` (the live player's one path: an async source
    such as the browser camera is awaited, any other is read in place). A source opened by
    :func:`~actionrec.video.open.aopen_video` from an async iterable iterates only with
    ``async for``. Leaving the ``with`` block (normally, on error or on KeyboardInterrupt) or
    calling :meth:`close` (:meth:`aclose` for an async source) releases the capture, the files and
    the camera thread.

    Args:
        info: what is known at opening.
        stats: the counters the frame iterator fills in (the same object, shared).
        frames: the frames, complete at construction (a generator closes with the source).
        on_close: releases what the source holds (capture, container, camera thread); called
            once, after the frame iterator is closed.
        aframes: the frames as an async iterator, for ``async for`` (``None``: ``frames`` serves
            both ways).

    Attributes:
        info: :class:`VideoInfo`.
        stats: :class:`VideoStats`, filled in while iterating.
        closed: :meth:`close` was called (iteration then stops).
    """

    def __init__(
        self,
        info: VideoInfo,
        stats: VideoStats,
        frames: Iterator[Frame],
        on_close: Callable[[], None] | None = None,
        *,
        aframes: AsyncIterator[Frame] | None = None,
    ) -> None:
        self.info = info
        self.stats = stats
        self._frames = frames
        self._aframes = aframes
        self._on_close = on_close
        self.closed = False

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> VideoSource:
        return self

    def __next__(self) -> Frame:
        if self.closed:
            raise StopIteration
        return next(self._frames)

    def __aiter__(self) -> VideoSource:
        return self

    async def __anext__(self) -> Frame:
        """The next frame for ``async for``: awaited from an async source, else read in place."""
        if self.closed:
            raise StopAsyncIteration
        if self._aframes is not None:
            return await anext(self._aframes)
        try:
            return next(self._frames)
        except StopIteration:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> VideoSource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """:meth:`close` for async sources: the async frame iterator is closed first (idempotent)."""
        if self.closed:
            return
        try:
            aclose = getattr(self._aframes, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            self.close()

    def close(self) -> None:
        """Release everything the source holds (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            close = getattr(self._frames, "close", None)
            if close is not None:
                close()
        finally:
            if self._on_close is not None:
                self._on_close()

    def __repr__(self) -> str:
        return f"VideoSource({self.info.source!r}, size_wh={self.info.size_wh}, fps={self.info.fps})"


class TimestampGuard:
    """Replaces invalid timestamps (not increasing, negative, NaN, absurd) by previous + 1/fps."""

    def __init__(self, stats: VideoStats, step_s: float, display: str) -> None:
        self.stats, self.step_s, self.display = stats, step_s, display

    def fix(self, prev_s: float, index: int, raw_s: float | None) -> float:
        """The replacement for ``raw_s`` at frame ``index`` (``prev_s`` < 0 before the first frame).

        The first replacement adds one warning to :attr:`VideoStats.warnings`; all are counted.
        """
        self.stats.timestamp_fallbacks += 1
        if self.stats.timestamp_fallbacks == 1:
            self.stats.warnings.append(
                f"{self.display}: frame {index} has an invalid timestamp ({raw_s} s after {max(prev_s, 0.0):.3f} s); "
                f"replaced by the previous + 1/fps ({self.step_s * 1000:.1f} ms), as are any later ones "
                "(count in timestamp_fallbacks)"
            )
        return 0.0 if prev_s < 0 else prev_s + self.step_s

    def frames(
        self, items: Iterable[tuple[np.ndarray, float | None]], *, first_index: int = 0, prev_s: float = BEFORE_START_S
    ) -> Iterator[Frame]:
        """Turn ``(image_bgr, timestamp_s)`` pairs into checked :class:`Frame` objects."""
        index = first_index
        for image, t in items:
            if t is None or not prev_s < t < MAX_TIMESTAMP_S:
                t = self.fix(prev_s, index, t)
            prev_s = t
            self.stats.frames_decoded += 1
            yield Frame(image, index, t)
            index += 1


def chain(first: T, rest: Iterator[T]) -> Iterator[T]:
    """``first``, then everything in ``rest``."""
    yield first
    yield from rest
