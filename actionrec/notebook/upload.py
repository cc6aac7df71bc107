"""Chunked video upload for the notebook: any size, acknowledged, checked, never half-written.

ipywidgets' ``FileUpload`` sends a whole file in one websocket message, which fails somewhere
around 10 MB. :class:`ChunkedUpload` sends the file in ~1 MB binary chunks, the next one only
after the kernel has acknowledged the last, and shows a progress bar. The kernel writes
``<upload_dir>/<safe name>.part``, checks the announced size against ``max_bytes`` before writing
a byte (and again while writing), checks the complete file is a video OpenCV/FFmpeg can decode,
and only then gives it its final name (never overwriting: a name taken gets ``-1``, ``-2``...).
Every failure is shown in the widget and kept in :attr:`ChunkedUpload.message`; a cancelled or
failed upload leaves no file behind.

Protocol (page → kernel, then kernel → page): ``start {id, name, size}`` → ``ready {id}``;
``chunk {id, seq, offset}`` + bytes → ``ack {id, seq, received}``; ``end {id, size}`` →
``done {id, name}``; ``abort {id, reason}``; any step may answer ``error {id, message}``.

Example::

    upload = ChunkedUpload()
    upload.on_upload(lambda path: print("got", path))
    upload          # a button; pick a video; watch the bar
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .. import settings
from ..errors import UploadError

# The limit is defined once, in settings (the doctor reports it too); re-exported here for callers.
from ..settings import ENV_MAX_UPLOAD_MB, max_upload_bytes

DEFAULT_MAX_BYTES = settings.DEFAULT_MAX_UPLOAD_BYTES
CHUNK_BYTES = 1024**2
ACCEPT = "video/*,.mkv,.avi,.webm,.mov,.gif"
MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 200  # UTF-8; leaves room for "-12.part" within the usual 255-byte limit
STATES = ("idle", "uploading", "done", "error")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)$", re.IGNORECASE)  # Windows device names
_log = logging.getLogger(__name__)


def format_size(n_bytes: float) -> str:
    """``"3.1 GB"``, ``"12.0 MB"``, ``"512 bytes"`` (binary units, as the limit is set in MB)."""
    if n_bytes >= 1024**3:
        return f"{n_bytes / 1024**3:.1f} GB"
    if n_bytes >= 1024**2:
        return f"{n_bytes / 1024**2:.1f} MB"
    return f"{n_bytes / 1024:.1f} KB" if n_bytes >= 1024 else f"{int(n_bytes)} bytes"


def safe_name(name: str) -> str:
    r"""Reduce a browser-supplied file name to a safe base name (no folders, no control characters).

    ``"../../etc/passwd"`` → ``"passwd"``, ``"C:\\x\\clip.mp4"`` → ``"clip.mp4"``, ``""`` → ``"upload"``;
    at most :data:`MAX_NAME_CHARS` characters and :data:`MAX_NAME_BYTES` UTF-8 bytes, keeping the
    extension; Windows device names get a ``_`` prefix.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", str(name)))[-1]
    base = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*')
    base = base.strip().lstrip(".").rstrip(". ")
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem or not re.fullmatch(r"[A-Za-z0-9]{1,8}", ext):
        stem, ext = base, ""
    stem = stem.strip() or "upload"
    if _RESERVED.match(stem):
        stem = f"_{stem}"
    suffix = f".{ext}" if ext else ""
    stem = stem[: MAX_NAME_CHARS - len(suffix)]
    while len((stem + suffix).encode()) > MAX_NAME_BYTES:  # file systems count bytes (255 max)
        stem = stem[:-1]
    return (stem.rstrip(". ") or "upload") + suffix


class ChunkedUpload(anywidget.AnyWidget):
    """A "pick a video" button that uploads in acknowledged ~1 MB chunks, with a progress bar.

    Args (keyword-only):
        upload_dir: where files go (default ``data/uploads/``; relative paths are relative to the project).
        max_bytes: refuse larger files, before any byte is written (default ``AR_MAX_UPLOAD_MB``
            megabytes when set, else 2 GB).
        chunk_bytes: bytes per message (default 1 MB; ipywidgets fails around 10 MB per message).
        description: the button text.

    Traits: ``state`` (``"idle"``, ``"uploading"``, ``"done"``, ``"error"``), ``message`` (what
    happened, and the fix when it failed), ``progress`` (0..1), ``filename`` (as the browser named it).

    Raises:
        ValueError: ``max_bytes``/``chunk_bytes`` not positive, or ``AR_MAX_UPLOAD_MB`` malformed.
    """

    _esm = Path(__file__).with_name("upload.js")
    _css = Path(__file__).with_name("upload.css")

    state = traitlets.Enum(STATES, default_value="idle").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    filename = traitlets.Unicode("").tag(sync=True)
    max_bytes = traitlets.Int(DEFAULT_MAX_BYTES).tag(sync=True)
    chunk_bytes = traitlets.Int(CHUNK_BYTES).tag(sync=True)
    accept = traitlets.Unicode(ACCEPT).tag(sync=True)
    description = traitlets.Unicode("Upload video").tag(sync=True)

    def __init__(
        self,
        *,
        upload_dir: str | os.PathLike[str] | None = None,
        max_bytes: int | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        description: str = "Upload video",
        **kwargs: Any,
    ) -> None:
        limit = max_upload_bytes() if max_bytes is None else max_bytes
        if limit <= 0 or chunk_bytes <= 0:
            raise ValueError(f"max_bytes ({limit}) and chunk_bytes ({chunk_bytes}) must be positive numbers of bytes")
        kwargs.setdefault("message", f"pick a video file (up to {format_size(limit)})")
        super().__init__(max_bytes=limit, chunk_bytes=chunk_bytes, description=description, **kwargs)
        self.upload_dir = settings.resolve_path(upload_dir) if upload_dir is not None else settings.data_dir("uploads")
        # Comm handlers may run on a kernel subshell thread: one lock around the upload's state.
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Path], Any]] = []
        self._path: Path | None = None
        self._id: str | None = None
        self._part: Path | None = None
        self._file: Any = None
        self._size = self._received = self._next_seq = 0
        self.on_msg(self._on_page_msg)

    @property
    def path(self) -> Path | None:
        """The last uploaded video's final path, or ``None`` (none yet, or the last one failed)."""
        return self._path

    def on_upload(self, callback: Callable[[Path], Any], *, remove: bool = False) -> None:
        """Call ``callback(path)`` with the final path after each successful upload.

        It runs in the kernel's message handler: keep it short, or hand the work to the notebook
        (e.g. display into an ``Output`` widget). Its exceptions are shown in the widget.
        """
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    # -- messages from the page --------------------------------------------------------------------

    def _reply(self, content: dict) -> None:
        self.send(content)

    def _on_page_msg(self, _widget: Any, content: dict, buffers: list) -> None:
        kind, upload_id = content.get("type"), str(content.get("id", ""))
        try:
            with self._lock:
                if kind == "start":
                    self._start(upload_id, str(content.get("name", "")), content.get("size"))
                    self._reply({"type": "ready", "id": upload_id})
                    return
                if upload_id != self._id:
                    return  # a late message of an upload that already ended
                if kind == "chunk":
                    received = self._chunk(content, buffers)
                    self._reply({"type": "ack", "id": upload_id, "seq": content.get("seq"), "received": received})
                elif kind == "end":
                    path = self._finish(content.get("size"))
                elif kind == "abort":
                    self._abort(str(content.get("reason") or ""))
                    return
                else:
                    return
            if kind == "end":
                self._reply({"type": "done", "id": upload_id, "name": path.name})
                self._notify(path)
        except (UploadError, OSError) as exc:
            self._fail(upload_id, str(exc) if isinstance(exc, UploadError) else f"could not write the upload: {exc}")
        except Exception as exc:  # a handler's error is invisible unless shown: show it
            _log.exception("upload failed")
            self._fail(upload_id, f"upload failed: {type(exc).__name__}: {exc}")

    def _start(self, upload_id: str, name: str, size: Any) -> None:
        if self._id is not None:  # a new pick replaces an unfinished upload
            self._discard()
        self._path, self.progress, self.filename = None, 0.0, name
        if not upload_id:
            raise UploadError("the page sent no upload id; reload the page and pick the file again")
        self._id = upload_id
        shown = name or "the file"
        if not isinstance(size, int) or size <= 0:
            raise UploadError(f"{shown} is empty (size {size!r}); pick a video file with content")
        if size > self.max_bytes:
            raise UploadError(
                f"{shown} is {format_size(size)}; the upload limit is {format_size(self.max_bytes)}; set "
                f"{ENV_MAX_UPLOAD_MB} or pick a shorter clip"
            )
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.upload_dir).free
        if size > free:
            raise UploadError(
                f"{shown} is {format_size(size)} but only {format_size(free)} is free in {self.upload_dir}; "
                "free some disk space or pick a shorter clip"
            )
        self._part, self._file = _create_part(self.upload_dir, safe_name(name))
        self._size, self._received, self._next_seq = size, 0, 0
        self.message = f"uploading {shown} ({format_size(size)})..."
        self.state = "uploading"

    def _chunk(self, content: dict, buffers: list) -> int:
        seq, offset = content.get("seq"), content.get("offset")
        if seq != self._next_seq or offset != self._received:
            raise UploadError(
                f"chunk {seq} at byte {offset} arrived, but chunk {self._next_seq} at byte {self._received} was "
                "expected (messages lost or reordered); pick the file again"
            )
        data = memoryview(buffers[0]) if buffers else memoryview(b"")
        if self._received + data.nbytes > min(self._size, self.max_bytes):
            raise UploadError(
                f"{self.filename} sent more than the {format_size(self._size)} it announced (limit "
                f"{format_size(self.max_bytes)}); pick the file again"
            )
        self._file.write(data)
        self._received += data.nbytes
        self._next_seq += 1
        self.progress = self._received / self._size
        return self._received

    def _finish(self, size: Any) -> Path:
        if size != self._size or self._received != self._size:
            raise UploadError(
                f"{self.filename} ended after {self._received} of {self._size} bytes; the transfer was cut: "
                "pick it again"
            )
        self._file.close()
        _check_video(self._part, self.filename)
        final = _claim_final(self._part, self.upload_dir, safe_name(self.filename))
        self._id = self._part = self._file = None
        self._path, self.progress = final, 1.0
        self.message = f"{self.filename} uploaded ({format_size(self._size)}) to {final}"
        self.state = "done"
        return final

    def _abort(self, reason: str) -> None:
        name = self.filename or "the file"
        self._discard()
        if reason:
            self.message, self.state = f"upload of {name} failed in the browser: {reason}; nothing was saved", "error"
        else:
            self.message, self.state = f"upload of {name} cancelled; nothing was saved", "idle"

    def _discard(self) -> None:
        """Close and delete the partial file (call with the lock held)."""
        if self._file is not None:
            self._file.close()
        if self._part is not None:
            self._part.unlink(missing_ok=True)
        self._id = self._part = self._file = None

    def _fail(self, upload_id: str, message: str) -> None:
        with self._lock:
            self._discard()
            self._path = None
            self.message, self.state = message, "error"
        self._reply({"type": "error", "id": upload_id, "message": message})

    def _notify(self, path: Path) -> None:
        for callback in list(self._callbacks):
            try:
                callback(path)
            except Exception as exc:  # shown in the widget, not lost in the kernel log
                _log.exception("on_upload callback failed")
                self.message = f"{path.name} uploaded, but the on_upload callback failed: {type(exc).__name__}: {exc}"
                self.state = "error"
                return


def _create_part(folder: Path, name: str) -> tuple[Path, Any]:
    """Create ``<name>.part`` exclusively (``<name>.1.part``... when another upload holds it)."""
    for n in range(1000):
        part = folder / (f"{name}.part" if n == 0 else f"{name}.{n}.part")
        try:
            return part, part.open("xb")
        except FileExistsError:
            continue
    raise UploadError(f"{folder} holds 1000 partial uploads of {name}; delete the *.part files there")


def _claim_final(part: Path, folder: Path, name: str) -> Path:
    """Rename ``part`` to ``name`` (or ``stem-1.ext``...) without ever replacing an existing file."""
    stem, dot, ext = name.rpartition(".")
    stem, suffix = (stem, f".{ext}") if dot else (name, "")
    for n in range(10_000):
        final = folder / (name if n == 0 else f"{stem}-{n}{suffix}")
        try:
            os.link(part, final)  # fails if ``final`` exists: no check-then-rename race
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            if final.exists():
                continue
            os.replace(part, final)
            return final
        part.unlink()
        return final
    raise UploadError(f"{folder} already holds 10000 files named like {name}; clean it up")


def _check_video(path: Path, shown: str) -> None:
    """Decode one frame of ``path``; a non-video is deleted and reported."""
    from ..errors import VideoDecodeError, VideoOpenError
    from ..video.open import open_video

    try:
        with open_video(path, progress=False) as video:
            if next(video, None) is None:
                raise VideoDecodeError("no frame could be decoded")
    except (VideoOpenError, VideoDecodeError) as exc:
        path.unlink(missing_ok=True)
        detail = str(exc).replace(str(path), shown or "the file")
        raise UploadError(f"{shown} is not a video OpenCV/FFmpeg can decode: {detail}") from None
