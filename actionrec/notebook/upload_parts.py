"""The upload widget's files: part files (random hidden names, swept when stale) and the final claim.

A part file is ``<upload_dir>/.upload-<32 hex digits>.part``: no upload gets such a name (final
names never start with a dot) and neither does a file a user names, so :func:`remove_stale_parts`
can delete what a killed kernel left without ever touching a user's file. The final name is
claimed with a hard link once every byte is synced, so it never points at half a file.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path
from typing import Any

from ..errors import UploadError

STALE_PART_S = 6 * 3600  # a part file this old belongs to no live upload (the page times out in 60 s)
PART_PREFIX, PART_SUFFIX = ".upload-", ".part"
_PART_NAME = re.compile(r"^\.upload-[0-9a-f]{32}\.part$")
_log = logging.getLogger(__name__)


def remove_stale_parts(folder: Path, *, now_s: float, max_age_s: float = STALE_PART_S) -> list[Path]:
    """Delete this widget's part files in ``folder`` not written to for ``max_age_s`` (default 6 hours).

    Only names of the form ``.upload-<32 hex digits>.part`` are touched: no upload (nor any file
    a user names) gets such a name, and a live upload writes its part at least every minute.

    Args:
        folder: the upload folder (a missing folder holds nothing).
        now_s: the current wall-clock time, seconds since the epoch.
        max_age_s: the age (since the last write) from which a part is stale.

    Returns:
        The part files removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        if not _PART_NAME.match(entry.name):
            continue
        try:
            if now_s - entry.stat(follow_symlinks=False).st_mtime < max_age_s:
                continue
            os.unlink(entry.path)
        except FileNotFoundError:  # another kernel swept it first
            continue
        except OSError as exc:  # housekeeping: say so, but a widget must still start
            _log.warning("could not remove the stale partial upload %s: %s", entry.path, exc)
            continue
        removed.append(Path(entry.path))
    return removed


class Part:
    """One upload's part file: created exclusively under a random name, then claimed or discarded."""

    def __init__(self, path: Path, file: Any) -> None:
        self.path, self._file = path, file

    @classmethod
    def create(cls, folder: Path) -> Part:
        """A new, empty part file in ``folder``, opened for writing.

        Raises:
            UploadError: no free random name (the folder is full of part files).
            OSError: the folder cannot be written.
        """
        # O_EXCL: never an existing file (nor a planted symlink, which O_EXCL does not follow).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
        for _ in range(100):
            path = folder / f"{PART_PREFIX}{secrets.token_hex(16)}{PART_SUFFIX}"
            try:
                fd = os.open(path, flags, 0o666)
            except FileExistsError:
                continue
            return cls(path, os.fdopen(fd, "wb"))
        raise UploadError(
            f"{folder} holds too many partial uploads; delete the {PART_PREFIX}*{PART_SUFFIX} files there"
        )

    def write(self, data: memoryview) -> None:
        """Append ``data``."""
        self._file.write(data)

    def close(self) -> None:
        """Flush and close: every byte is on disk before the file can get its final name."""
        file, self._file = self._file, None
        if file is not None:
            with file:
                file.flush()
                os.fsync(file.fileno())

    def discard(self) -> None:
        """Close the handle and delete the file (idempotent)."""
        file, self._file = self._file, None
        try:
            if file is not None:
                file.close()
        finally:
            self.path.unlink(missing_ok=True)


class PartSlot:
    """The widget's current part; what its finalizer holds, so the widget itself can be collected."""

    __slots__ = ("part",)

    def __init__(self) -> None:
        self.part: Part | None = None

    def discard(self) -> None:
        """Discard the current part, if any (idempotent; also what the finalizer runs)."""
        part, self.part = self.part, None
        if part is not None:
            part.discard()


def claim_final(part: Path, folder: Path, name: str) -> Path:
    """Give the closed ``part`` the name ``name`` (or ``stem-1.ext``...), never replacing an existing file.

    A hard link makes the final name appear at once with every byte behind it (the part was
    flushed and synced), so no reader ever sees a half file under it.
    """
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


def check_video(path: Path, shown: str) -> None:
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
