"""Chunked video upload for the notebook: any size, acknowledged, checked, never half-written.

ipywidgets' ``FileUpload`` sends a whole file in one websocket message, which fails somewhere
around 10 MB. :class:`ChunkedUpload` sends the file in ~1 MB binary chunks, the next one only
after the kernel has acknowledged the last, and shows a progress bar. The kernel writes a part
file ``<upload_dir>/.upload-<random>.part`` (a name no upload can get: final names never start
with a dot), checks the announced size against the limit before writing a byte (and again while
writing), checks the complete file is a video OpenCV/FFmpeg can decode, and only then gives it
its final name (never overwriting: a name taken gets ``-1``, ``-2``...; the name appears only once
every byte is on disk). Every failure is shown in the widget and kept in
:attr:`ChunkedUpload.message`; a cancelled, failed or replaced upload leaves no file behind, and
neither does closing the widget (or its being collected, or the interpreter exiting). Part files
left by a kernel that was killed are removed by the next widget made, once they are
:data:`~actionrec.notebook.upload_parts.STALE_PART_S` old (6 hours).

The limit and the announced name live in the kernel, not in widget traits: the page can rewrite
any synced trait (``set_state``), so it can neither lift the limit nor rename the file mid-way.

Protocol (page → kernel, then kernel → page): ``start {id, name, size}`` → ``ready {id}``;
``chunk {id, seq, offset}`` + bytes → ``ack {id, seq, received}``; ``end {id, size}`` →
``done {id, name}``; ``abort {id, reason}``; any step may answer ``error {id, message}``. A
``start`` while another upload is unfinished replaces it: the old one is answered
``error {id: old, message: "... replaced by a new upload ...", replaced: true}`` (again for each
of its late messages) and its part is deleted.

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
import time
import unicodedata
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .. import settings
from ..atomic import private_dir
from ..errors import UploadError

# The limit is defined once, in settings (the doctor reports it too); re-exported here for callers.
from ..settings import ENV_MAX_UPLOAD_MB, max_upload_bytes
from .upload_parts import STALE_PART_S as STALE_PART_S  # re-exported: the age the sweep uses
from .upload_parts import Part, PartSlot, check_video, claim_final, remove_stale_parts

DEFAULT_MAX_BYTES = settings.DEFAULT_MAX_UPLOAD_BYTES
CHUNK_BYTES = 1024**2
ACCEPT = "video/*,.mkv,.avi,.webm,.mov,.gif"
MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 200  # UTF-8; leaves room for "-12.part" within the usual 255-byte limit
STATES = ("idle", "uploading", "done", "error")
MAX_ID_CHARS = 200
_REMEMBERED_IDS = 16  # replaced uploads whose late messages are still answered
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
            megabytes when set, else 2 GB). Fixed for the widget's life: the page cannot change it.
        chunk_bytes: bytes per message (default 1 MB; ipywidgets fails around 10 MB per message);
            a larger chunk is refused.
        description: the button text.
        clock: wall clock (seconds since the epoch) the age of stale part files is measured with;
            for tests.

    Traits: ``state`` (``"idle"``, ``"uploading"``, ``"done"``, ``"error"``), ``message`` (what
    happened, and the fix when it failed), ``progress`` (0..1), ``filename`` (as the browser named
    it, for display only).

    Raises:
        ValueError: ``max_bytes``/``chunk_bytes`` not positive, or ``AR_MAX_UPLOAD_MB`` malformed.
    """

    _esm = Path(__file__).with_name("upload.js")
    _css = Path(__file__).with_name("upload.css")

    state = traitlets.Enum(STATES, default_value="idle").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    filename = traitlets.Unicode("").tag(sync=True)
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
        clock: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        limit = max_upload_bytes() if max_bytes is None else max_bytes
        if limit <= 0 or chunk_bytes <= 0:
            raise ValueError(f"max_bytes ({limit}) and chunk_bytes ({chunk_bytes}) must be positive numbers of bytes")
        kwargs.setdefault("message", f"pick a video file (up to {format_size(limit)})")
        super().__init__(chunk_bytes=chunk_bytes, description=description, **kwargs)
        self.upload_dir = settings.resolve_path(upload_dir) if upload_dir is not None else settings.data_dir("uploads")
        # What is enforced lives here, not in synced traits: the page can rewrite those (set_state).
        self._max_bytes, self._chunk_bytes = int(limit), int(chunk_bytes)
        # Comm handlers may run on a kernel subshell thread: one lock around the upload's state.
        self._lock = threading.RLock()
        self._callbacks: list[Callable[[Path], Any]] = []
        self._path: Path | None = None
        self._id: str | None = None
        self._name = ""  # the name the page announced at start
        self._slot = PartSlot()
        # Closing, collection and interpreter exit all delete an unfinished part (the slot, not
        # the widget, is what the finalizer holds).
        self._finalizer = weakref.finalize(self, self._slot.discard)
        self._replaced: OrderedDict[str, str] = OrderedDict()
        self._size = self._received = self._next_seq = 0
        remove_stale_parts(self.upload_dir, now_s=clock())
        self.on_msg(self._on_page_msg)

    @property
    def max_bytes(self) -> int:
        """The size limit in bytes, fixed when the widget was made (not a trait: the page cannot lift it)."""
        return self._max_bytes

    @property
    def path(self) -> Path | None:
        """The last uploaded video's final path, or ``None`` (none yet, or the last one failed)."""
        return self._path

    def on_upload(self, callback: Callable[[Path], Any], *, remove: bool = False) -> None:
        """Call ``callback(path)`` with the final path after each successful upload.

        It runs in the kernel's message handler: keep it short, or hand the work to a thread
        (as :class:`~actionrec.notebook.panels.UploadPanel` does). Its exceptions are shown in the widget.
        """
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def close(self) -> None:
        """Close the widget; an unfinished upload is discarded (its part file deleted, its handle closed)."""
        lock = getattr(self, "_lock", None)  # Widget.__del__ calls close(), even on a half-made widget
        if lock is not None:
            with lock:
                self._discard()
        super().close()

    # -- messages from the page --------------------------------------------------------------------

    def _reply(self, content: dict) -> None:
        self.send(content)

    def _on_page_msg(self, _widget: Any, content: Any, buffers: list) -> None:
        if not isinstance(content, dict):
            return  # not a message of this protocol
        kind, raw_id = content.get("type"), content.get("id")
        upload_id = raw_id if isinstance(raw_id, str) and len(raw_id) <= MAX_ID_CHARS else ""
        replies: list[dict] = []
        path: Path | None = None
        try:
            with self._lock:
                if kind == "start":
                    if self._id is not None and self._id != upload_id:
                        replies.append(self._replace(content.get("name")))
                    self._start(upload_id, content.get("name", ""), content.get("size"))
                    replies.append({"type": "ready", "id": upload_id})
                elif upload_id and upload_id == self._id:
                    if kind == "chunk":
                        received = self._chunk(content, buffers)
                        replies.append({"type": "ack", "id": upload_id, "seq": content["seq"], "received": received})
                    elif kind == "end":
                        path = self._finish(content.get("size"))
                        replies.append({"type": "done", "id": upload_id, "name": path.name})
                    elif kind == "abort":
                        self._abort(content.get("reason"))
                elif upload_id in self._replaced and kind in ("chunk", "end"):
                    # A late message of a replaced upload: say so again, so that page stops waiting.
                    replies.append(_replaced_reply(upload_id, self._replaced[upload_id]))
                # else: a late message of an upload that already ended, or not of this protocol
        except (UploadError, OSError) as exc:
            for reply in replies:  # e.g. the replaced upload's notice, sent before the new one's error
                self._reply(reply)
            self._fail(upload_id, str(exc) if isinstance(exc, UploadError) else f"could not write the upload: {exc}")
            return
        except Exception as exc:  # a handler's error is invisible unless shown: show it
            _log.exception("upload failed")
            self._fail(upload_id, f"upload failed: {type(exc).__name__}: {exc}")
            return
        for reply in replies:
            self._reply(reply)
        if path is not None:
            self._notify(path)

    def _replace(self, new_name: Any) -> dict:
        """Discard the unfinished upload a new ``start`` replaces; the notice for its page (lock held)."""
        old_id, old_name = self._id or "", _shown(self._name)
        self._discard()
        new = f" ({_shown(new_name)})" if isinstance(new_name, str) else ""
        message = f"the upload of {old_name} was replaced by a new upload{new}; nothing of it was saved"
        self._replaced[old_id] = message
        while len(self._replaced) > _REMEMBERED_IDS:
            self._replaced.popitem(last=False)
        return _replaced_reply(old_id, message)

    def _start(self, upload_id: str, name: Any, size: Any) -> None:
        self._discard()
        self._path, self.progress = None, 0.0
        if not upload_id:
            raise UploadError(
                f"the page sent no usable upload id (a string of at most {MAX_ID_CHARS} characters); "
                "reload the page and pick the file again"
            )
        self._id = upload_id
        if not isinstance(name, str):
            raise UploadError(
                f"the page sent a file name of type {type(name).__name__}, not a string; reload the page and "
                "pick the file again"
            )
        self._name, self.filename = name, _shown(name, default="")
        shown = _shown(name)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise UploadError(f"{shown} is empty (size {_brief(size)}); pick a video file with content")
        if size > self._max_bytes:
            raise UploadError(
                f"{shown} is {format_size(size)}; the upload limit is {format_size(self._max_bytes)}; set "
                f"{ENV_MAX_UPLOAD_MB} or pick a shorter clip"
            )
        private_dir(self.upload_dir)  # uploads are the user's: mode 0700 on POSIX, as downloads
        free = shutil.disk_usage(self.upload_dir).free
        if size > free:
            raise UploadError(
                f"{shown} is {format_size(size)} but only {format_size(free)} is free in {self.upload_dir}; "
                "free some disk space or pick a shorter clip"
            )
        self._slot.part = Part.create(self.upload_dir)
        self._size, self._received, self._next_seq = size, 0, 0
        self.message = f"uploading {shown} ({format_size(size)})..."
        self.state = "uploading"

    def _chunk(self, content: dict, buffers: Any) -> int:
        seq, offset = content.get("seq"), content.get("offset")
        if not (_is_int(seq) and _is_int(offset) and seq == self._next_seq and offset == self._received):
            raise UploadError(
                f"chunk {_brief(seq)} at byte {_brief(offset)} arrived, but chunk {self._next_seq} at byte "
                f"{self._received} was expected (messages lost or reordered); pick the file again"
            )
        data = _one_buffer(buffers, seq)
        if data.nbytes == 0 or data.nbytes > self._chunk_bytes:
            raise UploadError(
                f"chunk {seq} of {_shown(self._name)} holds {data.nbytes} bytes; chunks hold 1 to "
                f"{self._chunk_bytes} bytes; pick the file again"
            )
        if self._received + data.nbytes > min(self._size, self._max_bytes):
            raise UploadError(
                f"{_shown(self._name)} sent more than the {format_size(self._size)} it announced (limit "
                f"{format_size(self._max_bytes)}); pick the file again"
            )
        part = self._slot.part
        assert part is not None  # set by _start with the id
        part.write(data)
        self._received += data.nbytes
        self._next_seq += 1
        self.progress = self._received / self._size
        return self._received

    def _finish(self, size: Any) -> Path:
        shown = _shown(self._name)
        if not _is_int(size) or size != self._size or self._received != self._size:
            raise UploadError(
                f"{shown} ended after {self._received} of {self._size} bytes; the transfer was cut: pick it again"
            )
        part = self._slot.part
        assert part is not None  # set by _start with the id
        part.close()
        check_video(part.path, shown)
        final = claim_final(part.path, self.upload_dir, safe_name(self._name))
        self._slot.part = None
        self._id = None
        self._path, self.progress = final, 1.0
        self.message = f"{shown} uploaded ({format_size(self._size)}) to {final}"
        self.state = "done"
        return final

    def _abort(self, reason: Any) -> None:
        name = _shown(self._name)
        self._discard()
        text = _shown(reason if isinstance(reason, str) else str(reason or ""), default="")
        if text:
            self.message, self.state = f"upload of {name} failed in the browser: {text}; nothing was saved", "error"
        else:
            self.message, self.state = f"upload of {name} cancelled; nothing was saved", "idle"

    def _discard(self) -> None:
        """Close and delete the partial file, if any (call with the lock held)."""
        self._id = None
        self._slot.discard()

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


def _replaced_reply(upload_id: str, message: str) -> dict:
    return {"type": "error", "id": upload_id, "message": message, "replaced": True}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _brief(value: Any, limit: int = 40) -> str:
    """A page-sent value as shown in a message: its repr, cut short."""
    text = _shown(repr(value), default="?")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(name: Any, *, default: str = "the file") -> str:
    """A page-sent text as shown: printable characters only (no control or lone surrogate), cut short."""
    if not isinstance(name, str):
        return default
    text = "".join(c for c in name if c.isprintable())[: 2 * MAX_NAME_CHARS]
    return text or default


def _one_buffer(buffers: Any, seq: int) -> memoryview:
    """The chunk's bytes: exactly one binary buffer, as flat bytes."""
    if not isinstance(buffers, (list, tuple)) or len(buffers) != 1:
        count = len(buffers) if isinstance(buffers, (list, tuple)) else type(buffers).__name__
        raise UploadError(
            f"chunk {seq} came with {count} binary buffers, not one; reload the page and pick the file again"
        )
    try:
        return memoryview(buffers[0]).cast("B")
    except (TypeError, ValueError):
        raise UploadError(
            f"chunk {seq} came with a {type(buffers[0]).__name__}, not bytes; reload the page and pick the file again"
        ) from None
