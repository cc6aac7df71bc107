"""Video sources: one ``source`` argument in, :class:`Frame` objects out.

:func:`open_video` takes a file path, an http(s) URL (downloaded to ``data/downloads/`` first:
OpenCV's network streaming is unreliable), a camera index, an ``rtsp://`` stream, an image folder,
uploaded bytes, or any iterable of frames (the browser camera and uploads plug in here), and
returns a :class:`VideoSource`: a context manager and an iterator of :class:`Frame`.

Files decode with OpenCV (``read()`` + ``CAP_PROP_POS_MSEC``, nothing more per frame); PyAV takes
over only when OpenCV cannot open a file or stops long before the container's end (corrupt packets).
Timestamps are media time for files and folders, wall-clock seconds since opening for cameras and
live iterables; invalid ones (not increasing) are replaced by the previous one + 1/fps and counted
in :attr:`VideoStats.timestamp_fallbacks`. The sources live in :mod:`actionrec.video_sources`, the
PyAV side in :mod:`actionrec.video_pyav`.

Example:
    >>> with open_video("data/samples/demo.mp4") as video:  # doctest: +SKIP
    ...     print(video.info.size_wh, video.info.fps)
    ...     for frame in video:
    ...         process(frame.image_bgr, frame.timestamp_s)
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import settings
from .errors import DownloadError, UploadError, VideoOpenError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_IMAGE_FPS = 30.0  # folders and arrays without an ``fps``
LIVE_SCHEMES = ("rtsp", "rtsps")  # handed to OpenCV/FFmpeg as live streams (wall-clock timestamps)
MAX_TIMESTAMP_S = 1e7  # anything later is garbage (e.g. unset PTS read as a huge number)
BEFORE_START_S = -1e-9  # "previous timestamp" before the first frame: the first must be >= 0
_VALID_SOURCES = (
    "a video file path, an http(s):// URL (downloaded first), an rtsp:// stream, a camera index "
    "(0, 1, ...), a folder of images, uploaded bytes, or an iterable of Frame objects or BGR arrays"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")

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


def open_video(
    source: Any,
    *,
    newest_only: bool = True,
    fps: float | None = None,
    download_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    max_upload_bytes: int | None = None,
    download_retries: int = 2,
    live: bool = False,
    capture_factory: CaptureFactory | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> VideoSource:
    """Open any supported source as a :class:`VideoSource` of :class:`Frame` objects.

    Args:
        source: an ``int`` or digit string (camera index); a ``str``/``Path`` to a video file or an
            image folder (relative paths: current folder first, then the project folder); an
            ``http(s)://`` URL (downloaded once into ``download_dir``, then opened as a file); an
            ``rtsp://`` URL (live stream through OpenCV/FFmpeg, handled like a camera); ``bytes``
            or a binary file object (an upload, stored in ``data/uploads/``); or an iterable of
            :class:`Frame` objects or HxWx3 uint8 BGR arrays. ``file://`` and ``ftp://`` are refused.
        newest_only: cameras and streams: a thread keeps only the newest frame, so a slow consumer
            skips frames (counted in ``stats.frames_dropped``) instead of falling behind.
        fps: folders and arrays: the rate their timestamps follow (default 30); cameras: the rate to
            request; files: used only when the file states none.
        download_dir: where URLs are cached (default ``data/downloads/``).
        progress: show a download progress bar.
        max_upload_bytes: refuse uploads and downloads larger than this.
        download_retries: retries of a failing download (HTTP 5xx, dropped connection).
        live: an iterable of arrays is live: timestamps are wall-clock seconds since opening.
        capture_factory: ``factory(index_or_path) -> cv2.VideoCapture``-like; for tests.
        clock: wall clock for cameras and live iterables (seconds); for tests.

    Returns:
        The opened source; use it in a ``with`` block.

    Example:
        >>> with open_video("clip.mp4") as video:  # doctest: +SKIP
        ...     for frame in video:
        ...         print(frame.index, frame.timestamp_s, video.stats.frames_corrupt)

    Raises:
        VideoOpenError: the source cannot be opened (missing path, unsupported scheme, not a video,
            download failed, camera unavailable); the message says what was found and what to do.
        VideoDecodeError: the source opened but no frame could be decoded.
        UploadError: uploaded bytes are empty or over ``max_upload_bytes``.
    """
    if fps is not None and not (0.0 < fps < math.inf):
        raise ValueError(f"fps must be positive and finite or None, got {fps}")
    if isinstance(source, bool) or (isinstance(source, str) and not source.strip()):
        raise VideoOpenError(f"received {source!r}, not a video source; valid: {_VALID_SOURCES}")
    if isinstance(source, (int, np.integer)) or (isinstance(source, str) and source.strip().isdigit()):
        index = int(source)
        if index < 0:
            raise VideoOpenError(f"camera index {index} is negative; use 0 for the first camera, 1 for the next")
        from .video_sources import open_live

        return open_live(
            index, f"camera {index}", newest_only=newest_only, fps=fps, factory=capture_factory, clock=clock
        )
    if isinstance(source, str) and (match := _SCHEME.match(source.strip())):
        return _open_url(
            source.strip(),
            match.group(1).lower(),
            newest_only=newest_only,
            fps=fps,
            download_dir=download_dir,
            progress=progress,
            max_bytes=max_upload_bytes,
            retries=download_retries,
            factory=capture_factory,
            clock=clock,
        )
    if isinstance(source, (str, os.PathLike)):
        return _open_path(source, fps=fps, factory=capture_factory)
    if isinstance(source, (bytes, bytearray, memoryview)) or callable(getattr(source, "read", None)):
        return _open_upload(source, max_bytes=max_upload_bytes, fps=fps, factory=capture_factory)
    if isinstance(source, np.ndarray) and source.ndim < 4:
        raise VideoOpenError(
            f"received one array of shape {source.shape}, not a sequence of frames; pass [image] for a "
            "single image, a list of HxWx3 arrays, or an NxHxWx3 array"
        )
    if isinstance(source, Iterable):
        from .video_sources import open_iterable

        return open_iterable(source, fps=fps, live=live or getattr(source, "is_live", False) is True, clock=clock)
    raise VideoOpenError(f"received a {type(source).__name__}, which is not a video source; valid: {_VALID_SOURCES}")


# -- paths, URLs, uploads --------------------------------------------------------------------------


def _open_path(source: str | os.PathLike[str], *, fps: float | None, factory: CaptureFactory | None) -> VideoSource:
    given = Path(source).expanduser()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, settings.resolve_path(given)]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        looked = " and ".join(str(p) for p in dict.fromkeys(candidates))
        raise VideoOpenError(
            f"no such file or folder: {str(source)!r} (looked for {looked}). Check the spelling and the "
            f"folder, or pass an absolute path; valid sources: {_VALID_SOURCES}"
        )
    if path.is_dir():
        from .video_sources import open_folder

        return open_folder(path, fps=fps)
    from .video_sources import open_file

    return open_file(path, str(path), fps=fps, factory=factory)


def _open_url(url: str, scheme: str, *, newest_only, fps, download_dir, progress, max_bytes, retries, factory, clock):
    if scheme in LIVE_SCHEMES:
        from .video_sources import open_live

        shown = re.sub(r"//[^/@]*@", "//***@", url)  # never display credentials
        return open_live(url, shown, newest_only=newest_only, fps=fps, factory=factory, clock=clock)
    if scheme not in ("http", "https"):
        raise VideoOpenError(
            f"unsupported URL scheme {scheme}:// in {url!r}; valid: http:// and https:// (downloaded first), "
            f"rtsp:// (live stream), or a local path (for file:// pass the path itself, e.g. /videos/clip.mp4)"
        )
    from .download import download_url

    folder = Path(download_dir) if download_dir is not None else settings.data_dir("downloads")
    try:
        path = download_url(url, dest_dir=folder, progress=progress, max_bytes=max_bytes, retries=retries)
    except DownloadError as exc:
        raise VideoOpenError(str(exc)) from exc
    from .video_sources import open_file

    return open_file(path, url, fps=fps, factory=factory)


def _open_upload(source: Any, *, max_bytes: int | None, fps: float | None, factory: CaptureFactory | None):
    if callable(getattr(source, "read", None)):
        data = source.read(-1 if max_bytes is None else max_bytes + 1)
    else:
        data = bytes(source)
    if not isinstance(data, (bytes, bytearray)):
        raise UploadError(f"the upload's read() returned {type(data).__name__}; open the file in binary mode ('rb')")
    data = bytes(data)
    if not data:
        raise UploadError("the upload is empty (0 bytes): the transfer did not complete; upload the file again")
    if max_bytes is not None and len(data) > max_bytes:
        raise UploadError(
            f"the upload is larger than the limit of {max_bytes} bytes; trim the clip or raise max_upload_bytes"
        )
    magic = {b"\x1aE\xdf\xa3": ".mkv", b"RIFF": ".avi", b"GIF8": ".gif"}
    suffix = ".mp4" if data[4:8] == b"ftyp" else magic.get(data[:4], ".bin")
    path = settings.data_dir("uploads") / (hashlib.sha256(data).hexdigest()[:24] + suffix)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        part.write_bytes(data)
        os.replace(part, path)
    from .video_sources import open_file

    return open_file(path, f"upload ({len(data)} bytes)", fps=fps, factory=factory)


def chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    """``first``, then everything in ``rest``."""
    yield first
    yield from rest
