"""Atomic file writes: a temporary file in the destination folder, renamed over the final name.

Every file the package writes (exports, the embedding cache, uploads) goes through
:func:`atomic_write`, so an interrupted write (an error, Ctrl+C, a full disk) never leaves a
half-written file under its final name.
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

from .errors import ExportError


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full: free some space or choose another folder"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is not writable: choose another folder or fix its permissions"
    return f"{exc.strerror or exc}: check the path and the free space"


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

    Args:
        path: the final file; missing parent folders are created.
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
    tmp: Path | None = None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        while tmp is None:  # O_EXCL: never clobber another writer's temp; mode 0o666 honours the umask
            # Named before it exists: a Ctrl+C right after the file is created still removes it.
            tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp{final.suffix}")
            _OPEN_TEMPS.add(tmp)
            try:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                _OPEN_TEMPS.discard(tmp)
                tmp = None
        if mode is None:
            yield tmp
        else:
            kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
            with open(tmp, mode, **kwargs) as f:
                yield f
        with open(tmp, "rb") as f:  # the bytes reach the disk before the name points at them
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _OPEN_TEMPS.discard(tmp)
        tmp = None
    except OSError as exc:
        raise ExportError(f"cannot write {final}: {_os_problem(exc)} ({type(exc).__name__}: {exc})") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
            _OPEN_TEMPS.discard(tmp)
