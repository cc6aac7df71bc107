"""Atomic file writes: a temporary file in the destination folder, renamed over the final name.

Every file the package writes (exports, the embedding cache, uploads) goes through
:func:`atomic_write`, so an interrupted write (an error, Ctrl+C, a full disk) never leaves a
half-written file under its final name.

Shared folders are hostile ground: the temporary file is created with ``O_EXCL`` (never an
existing file or a planted symbolic link) and written through the descriptor that created it, and
the rename replaces a link at the final name instead of writing through it. The package's own
run-time folders (:func:`private_dir`) are created readable by their owner only.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import settings
from .errors import ExportError

PRIVATE_DIR_MODE = 0o700
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # POSIX; Windows has no symbolic-link flag for open()
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation on the descriptor


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full: free some space or choose another folder"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is not writable: choose another folder or fix its permissions"
    return f"{exc.strerror or exc}: check the path and the free space"


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` (and its missing parents) readable by the current user only.

    Every folder this creates gets mode ``0o700`` on POSIX (set explicitly, whatever the umask);
    folders that already exist are left as they are (the user chose their mode). On Windows the
    mode is ignored by Python before 3.13: a new folder inherits the access list of its parent,
    which under the user's profile (``%LOCALAPPDATA%``, where the per-user cache folder lives) is
    private to that user by default; Python 3.13+ applies ``0o700`` as an owner-only access list.

    Args:
        path: the folder.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: a component cannot be created (not writable, or a file is in the way).

    Example:
        >>> private_dir("data/downloads")  # doctest: +SKIP
        PosixPath('data/downloads')
    """
    folder = Path(path)
    missing = []
    for p in (folder, *folder.parents):
        if p.is_dir():
            break
        missing.append(p)
    for p in reversed(missing):
        try:
            p.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            if not p.is_dir():
                raise
            continue  # created meanwhile by another writer: theirs, not ours to chmod
        if os.name == "posix":
            os.chmod(p, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask
    return folder


def private_roots() -> tuple[Path, ...]:
    """The package's run-time cache folders: ``model/``, ``data/downloads``, ``data/uploads``, ``data/cache``.

    Folders that :func:`atomic_write` creates inside them are private (:func:`private_dir`).
    """
    return (settings.cache_dir(), *(settings.data_dir(name) for name in ("downloads", "uploads", "cache")))


def _in_private_root(folder: Path) -> bool:
    return any(folder == root or root in folder.parents for root in map(Path.absolute, private_roots()))


_OPEN_TEMPS: set[Path] = set()  # temporary files of writes in progress


@atexit.register
def _remove_open_temps() -> None:
    """At exit, remove temporary files whose writer never got to clean up.

    A Ctrl+C can land between a generator-based context manager's ``__enter__`` and the ``with``
    block that would close it; the writer's ``finally`` then runs only if the generator is
    collected, which interpreter shutdown does not promise.
    """
    for tmp in list(_OPEN_TEMPS):
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str | None = None, *, encoding: str = "utf-8", newline: str | None = None
) -> Iterator[Any]:
    """Write ``path`` through a temporary file in the same folder, renamed on success.

    The temporary file is created with ``O_EXCL`` (a random name; never an existing file or a
    planted link) and, when ``mode`` is given, written through that same descriptor, so a link
    swapped in under its name later is never written through; the rename replaces whatever sits
    at the final name (a link included) rather than writing into it.

    Args:
        path: the final file; missing parent folders are created (private to the user, see
            :func:`private_dir`, inside the package's cache folders :func:`private_roots`).
        mode: ``None`` yields the temporary :class:`~pathlib.Path` (for writers that open files
            themselves); ``"w"``/``"wb"`` yields the open file, closed before the rename.
        encoding: for text modes, as in :func:`open`.
        newline: for text modes, as in :func:`open`.

    Yields:
        The temporary path, or the open file when ``mode`` is given.

    Raises:
        ExportError: the folder cannot be created or written (read-only, disk full, ...); the
            temporary file is removed. Any other exception (including ``KeyboardInterrupt``)
            also removes the temporary file and propagates; the final name is never touched.

    Example:
        >>> with atomic_write("out/result.txt", "w") as f:  # doctest: +SKIP
        ...     f.write("done")
    """
    final = Path(path).absolute()  # the exit hook must find the temp file after a chdir
    if mode not in (None, "w", "wb"):
        raise ValueError(f"mode must be None (yield a path), 'w' or 'wb', got {mode!r}")
    if "\0" in str(final):  # before a temp name is made from it: no system takes one
        raise ValueError(f"cannot write {str(final)!r}: a file name cannot hold a NUL character")
    tmp: Path | None = None
    fd: int | None = None
    try:
        if _in_private_root(final.parent):
            private_dir(final.parent)
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
        while tmp is None:  # O_EXCL: never clobber another writer's temp; mode 0o666 honours the umask
            # Named before it exists: a Ctrl+C right after the file is created still removes it.
            tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp{final.suffix}")
            _OPEN_TEMPS.add(tmp)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o666)
            except FileExistsError:
                _OPEN_TEMPS.discard(tmp)
                tmp = None
        assert fd is not None
        if mode is None:
            os.close(fd)
            fd = None
            yield tmp
            # The writer opened the path itself: sync it without following a link put there.
            fd = os.open(tmp, os.O_RDONLY | _NOFOLLOW | _BINARY)
            os.fsync(fd)
            os.close(fd)
            fd = None
        else:
            kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
            created, fd = fd, None  # from here the file object owns (and closes) the descriptor
            with open(tmp, mode, opener=lambda _path, _flags: created, **kwargs) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())  # the bytes reach the disk before the name points at them
        os.replace(tmp, final)
        _OPEN_TEMPS.discard(tmp)
        tmp = None
    except OSError as exc:
        raise ExportError(f"cannot write {final}: {_os_problem(exc)} ({type(exc).__name__}: {exc})") from exc
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            tmp.unlink(missing_ok=True)
            _OPEN_TEMPS.discard(tmp)
