"""The video layer's types: :class:`Frame`, :class:`VideoInfo`, :class:`VideoStats`, :class:`VideoSource`.

Every source (file, URL, camera, folder, iterable, upload) yields :class:`Frame` objects through a
:class:`VideoSource`; :class:`TimestampGuard` replaces invalid timestamps. The openers live in
:mod:`actionrec.video.open` (the one entry point), :mod:`~actionrec.video.files`,
:mod:`~actionrec.video.live` and :mod:`~actionrec.video.frames`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_IMAGE_FPS = 30.0  # folders and arrays without an ``fps``
MAX_TIMESTAMP_S = 1e7  # anything later is garbage (e.g. unset PTS read as a huge number)
BEFORE_START_S = -1e-9  # "previous timestamp" before the first frame: the first must be >= 0
CaptureFactory = Callable[[int | str], Any]


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
    """

    source: str
    size_wh: tuple[int, int]
    fps: float | None
    frame_count: int | None
    duration_s: float | None
    is_live: bool
    rotation_deg: int = 0

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
        frames_decoded: frames decoded (yielded, or passed over by :attr:`VideoSource.keep`).
        frames_skipped: frames decoded but not converted nor yielded because ``keep`` said so.
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
    last_timestamp_s: float | None = None
    warnings: list[str] = field(default_factory=list)


class VideoSource:
    """An opened source: ``with open_video(...) as video: for frame in video: ...``.

    Iterate once. Leaving the ``with`` block (normally, on error or on KeyboardInterrupt) or
    calling :meth:`close` releases the capture, the files and the camera thread.

    Attributes:
        keep: optional ``keep(prev_timestamp_s, timestamp_s) -> bool`` set by a consumer that needs
            only some frames (the analysis pipeline: frames that can be nearest to a sampling grid
            point). Files decoded by OpenCV then skip the colour conversion of the other frames and
            do not yield them (they still count in ``stats.frames_decoded``); other sources ignore
            it and yield every frame.
    """

    keep: Callable[[float, float], bool] | None = None

    def __init__(
        self, info: VideoInfo, stats: VideoStats, frames: Iterator[Frame], on_close: Callable[[], None] | None = None
    ) -> None:
        self.info = info
        self.stats = stats
        self._frames = frames
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
        """The replacement for ``raw_s`` at frame ``index`` (``prev_s`` < 0 before the first frame)."""
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


def chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    """``first``, then everything in ``rest``."""
    yield first
    yield from rest
