"""Video sources: one ``source`` argument in, :class:`Frame` objects out.

:func:`open_video` takes a file path, an http(s) URL (downloaded to ``data/downloads/`` first:
OpenCV's network streaming is unreliable), a camera index, an ``rtsp://`` stream, an image folder,
uploaded bytes, or any iterable of frames (the browser camera and uploads plug in here), and
returns a :class:`VideoSource`: a context manager and an iterator of :class:`Frame`.

Files decode with OpenCV (``read()`` + ``CAP_PROP_POS_MSEC``, nothing more per frame); PyAV takes
over only when OpenCV cannot open a file or stops long before the container's end (corrupt packets).
Timestamps are media time for files and folders, wall-clock seconds since opening for cameras and
live iterables; invalid ones (not increasing) are replaced by the previous one + 1/fps and counted
in :attr:`VideoStats.timestamp_fallbacks`. The sources live in :mod:`actionrec.video.files`, the
PyAV side in :mod:`actionrec.video.pyav`.

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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .. import settings
from ..download import download_url
from ..errors import DownloadError, UploadError, VideoOpenError
from .core import CaptureFactory, VideoSource
from .files import open_file
from .frames import open_folder, open_iterable
from .live import open_live

LIVE_SCHEMES = ("rtsp", "rtsps")  # handed to OpenCV/FFmpeg as live streams (wall-clock timestamps)
_VALID_SOURCES = (
    "a video file path, an http(s):// URL (downloaded first), an rtsp:// stream, a camera index "
    "(0, 1, ...), a folder of images, uploaded bytes, or an iterable of Frame objects or BGR arrays"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


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
        return open_folder(path, fps=fps)
    return open_file(path, str(path), fps=fps, factory=factory)


def _open_url(url: str, scheme: str, *, newest_only, fps, download_dir, progress, max_bytes, retries, factory, clock):
    if scheme in LIVE_SCHEMES:
        shown = re.sub(r"//[^/@]*@", "//***@", url)  # never display credentials
        return open_live(url, shown, newest_only=newest_only, fps=fps, factory=factory, clock=clock)
    if scheme not in ("http", "https"):
        raise VideoOpenError(
            f"unsupported URL scheme {scheme}:// in {url!r}; valid: http:// and https:// (downloaded first), "
            f"rtsp:// (live stream), or a local path (for file:// pass the path itself, e.g. /videos/clip.mp4)"
        )
    folder = Path(download_dir) if download_dir is not None else settings.data_dir("downloads")
    try:
        path = download_url(url, dest_dir=folder, progress=progress, max_bytes=max_bytes, retries=retries)
    except DownloadError as exc:
        raise VideoOpenError(str(exc)) from exc
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
    return open_file(path, f"upload ({len(data)} bytes)", fps=fps, factory=factory)
