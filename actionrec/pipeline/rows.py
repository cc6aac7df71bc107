"""Embedding rows kept in a temporary file, so a long video's rows do not stay in the process's memory.

A file encoder makes 2 KB of embedding per grid sample, 16 samples per second of video: 20 MB for
10 minutes, 118 MB for an hour. Held in RAM they made the peak memory of ``analyze`` grow with the
length of the video. :class:`RowStore` keeps them in blocks of one temporary file, each mapped into
memory (shared, so writes go to the file): the encoder's callbacks write rows into a block as into
any array, and the blocks behind the last two are retired: :func:`release_pages` hands their pages
back to the kernel (``madvise(MADV_DONTNEED)``) and their mapping is dropped. Their contents stay
in the page cache, or on disk once the kernel writes them back, and the next read brings them back
unchanged. The finished rows are one mapping
of the whole file: a read-only ``float32`` array (``copy()`` it to change it; a forked process
cannot change the parent's rows through it), which the file pipeline's readers (the decoder,
:meth:`~actionrec.pipeline.EncodedVideo.to_npz`) go through and release as they go. Results of up
to :data:`MAPPED_MIN_ROWS` rows are copied into memory instead: a mapping holds an open file
descriptor (before Python 3.13), and many short results kept at once must not use them up.

The file is a :func:`tempfile.TemporaryFile` in the temporary folder (``TMPDIR``): unnamed where the
system allows it, so nothing is left behind however the process ends. Each block is allocated on
disk before it is mapped, so a full disk is an ``OSError`` there and never a crash on a write
through the mapping. Where the file cannot be made, grown or mapped, the remaining blocks are kept
in memory, as before, and one warning says why. On a ``tmpfs`` temporary folder the rows are still
in RAM, but in the page cache (swappable), not in the process: point ``TMPDIR`` at a disk folder to
keep them out of memory altogether. Pages are handed back on Linux (and other systems with
``MADV_DONTNEED``); on Windows they stay until the system trims the working set. On a copy-on-write
file system (btrfs with snapshots, ZFS) an allocated block may still need space when written, so a
temporary folder there that fills up can stop the process with ``SIGBUS``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import mmap
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import IO

import numpy as np

log = logging.getLogger(__name__)

BLOCK_ROWS = 256
"""Rows per block: 512 KB at 512 float32 values, a multiple of every system's mapping granularity."""
MAPPED_MIN_ROWS = 4 * BLOCK_ROWS
"""Fewer rows than this (64 s of video, 2 MB) are copied into memory by :meth:`RowStore.finish`."""
_TRACKFD = {"trackfd": False} if sys.version_info >= (3, 13) else {}  # no descriptor held by the mapping
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)  # not on Windows: the pages stay until the system trims them


class _RowMap(mmap.mmap):
    """A shared mapping of a :class:`RowStore` file: the only mappings :func:`release_pages` touches.

    ``MADV_DONTNEED`` on a private (copy-on-write) mapping would throw its changes away; on these
    shared ones it only unmaps pages whose contents the file keeps.
    """


class RowStore:
    """``float32`` rows of ``dim`` values, in blocks of :data:`BLOCK_ROWS`, backed by a temporary file.

    Blocks behind the last two are retired (:meth:`release_behind`): their pages go back to the
    kernel and their mapping is dropped (``None`` in :attr:`blocks`), so a long video holds a few
    mappings and file descriptors, not one per block; a row :meth:`write` sends to a retired block
    goes straight to the file. Not thread-safe: the caller serializes :meth:`add_block`,
    :meth:`write` and :meth:`release_behind`.

    Args:
        dim: values per row.
        folder: where the temporary file goes (default: the system's temporary folder).

    Example:
        >>> store = RowStore(4)
        >>> store.add_block()[3] = 1.0
        >>> store.finish(5)[3].tolist()
        [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, dim: int, *, folder: str | os.PathLike[str] | None = None) -> None:
        self.dim = dim
        self.blocks: list[np.ndarray | None] = []
        self._row_bytes = dim * 4  # float32
        self._block_bytes = BLOCK_ROWS * self._row_bytes
        self._retired = 0  # blocks retired by release_behind()
        self._file: IO[bytes] | None = None
        self._folder = folder
        self._grow_on_disk = self._block_bytes % mmap.ALLOCATIONGRANULARITY == 0  # else blocks cannot be mapped
        if not self._grow_on_disk:
            return
        try:
            # closed by finish() or close(): the file outlives this call
            self._file = tempfile.TemporaryFile(prefix="actionrec-rows-", dir=folder)  # noqa: SIM115
        except OSError as exc:
            self._in_memory_from_now(exc)

    @property
    def rows(self) -> int:
        """Rows allocated (blocks × :data:`BLOCK_ROWS`)."""
        return len(self.blocks) * BLOCK_ROWS

    @property
    def on_disk(self) -> bool:
        """Every block so far is in the file (``False`` once one had to be kept in memory)."""
        return self._file is not None and self._grow_on_disk

    def add_block(self) -> np.ndarray:
        """One more block of zeroed rows (``[BLOCK_ROWS, dim]``), appended to :attr:`blocks`."""
        block = self._mapped_block() if self.on_disk else None
        if block is None:
            block = np.zeros((BLOCK_ROWS, self.dim), np.float32)
        self.blocks.append(block)
        return block

    def write(self, k: int, row: np.ndarray) -> None:
        """Row ``k`` (``dim`` values): into its block, or into the file when the block is retired."""
        b, r = divmod(k, BLOCK_ROWS)
        block = self.blocks[b]
        if block is not None:
            block[r] = row
            return
        assert self._file is not None  # only file blocks retire
        self._file.seek(k * self._row_bytes)
        self._file.write(np.ascontiguousarray(row, np.float32).tobytes())
        self._file.flush()

    def release_behind(self, *, keep: int = 2) -> None:
        """Retire every file block but the last ``keep``: pages handed back, mapping dropped (once each)."""
        while self._retired < len(self.blocks) - keep:
            block = self.blocks[self._retired]
            if block is not None and _row_map_of(block) is not None:
                release_pages(block)
                self.blocks[self._retired] = None
            self._retired += 1

    def finish(self, n: int, *, repeat_previous: Sequence[int] = ()) -> np.ndarray:
        """The first ``n`` rows as one read-only ``[n, dim]`` array; the blocks are given up.

        Args:
            n: rows of the result.
            repeat_previous: rows ``k`` that take row ``k - 1``'s values (in increasing order, so a
                run of them repeats its first row): a duplicated frame's sample.

        All in the file and at least :data:`MAPPED_MIN_ROWS` rows: one mapping of the file's first
        ``n`` rows, nothing copied, no page resident. Otherwise the blocks are copied into one
        array (retired ones read from the file), each freed once copied.
        """
        if n > self.rows:
            raise ValueError(f"{n} rows asked for, {self.rows} allocated")
        rows = self._mapped_result(n, repeat_previous) if self.on_disk and n >= MAPPED_MIN_ROWS else None
        if rows is not None:
            return rows
        blocks, self.blocks = self.blocks, []
        rows = np.empty((n, self.dim), np.float32)
        while blocks:  # block by block, each freed once copied: the peak is one block above n rows
            start = (len(blocks) - 1) * BLOCK_ROWS
            part, block = rows[start : start + BLOCK_ROWS], blocks.pop()
            if block is not None:
                part[:] = block[: len(part)]
            elif len(part):  # a retired block: its rows are in the file only
                assert self._file is not None
                self._file.seek(start * self._row_bytes)
                self._file.readinto(memoryview(part).cast("B"))
        self._close()
        for k in repeat_previous:
            rows[k] = rows[k - 1]
        rows.flags.writeable = False
        return rows

    def _mapped_result(self, n: int, repeat_previous: Sequence[int]) -> np.ndarray | None:
        """One mapping of the file's first ``n`` rows, read-only (``None`` when it cannot be made)."""
        assert self._file is not None
        fd, size = self._file.fileno(), n * self._row_bytes
        try:
            if len(repeat_previous):  # written through a mapping of their own, unmapped before the result's
                rows = np.frombuffer(_RowMap(fd, size), np.float32).reshape(n, self.dim)
                for k in repeat_previous:
                    rows[k] = rows[k - 1]
                del rows
            mapping = _RowMap(fd, size, access=mmap.ACCESS_READ, **_TRACKFD)
        except (OSError, ValueError) as exc:  # address space or mapping limits: copy instead
            self._in_memory_from_now(exc, keep_file=True, from_row=0)
            return None
        self.blocks = []
        self._close()
        return np.frombuffer(mapping, np.float32).reshape(n, self.dim)

    def close(self) -> None:
        """Give the rows up without a result (a run that failed): the file goes with the last mapping."""
        self.blocks = []
        self._close()

    def __enter__(self) -> RowStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _mapped_block(self) -> np.ndarray | None:
        assert self._file is not None
        offset = len(self.blocks) * self._block_bytes
        try:
            _allocate(self._file, offset, self._block_bytes)
            mapping = _RowMap(self._file.fileno(), self._block_bytes, offset=offset)
        except (OSError, ValueError) as exc:
            self._in_memory_from_now(exc, keep_file=True)  # the blocks retired so far are read back from it
            return None
        return np.frombuffer(mapping, np.float32).reshape(BLOCK_ROWS, self.dim)

    def _in_memory_from_now(self, exc: BaseException, *, keep_file: bool = False, from_row: int | None = None) -> None:
        log.warning(
            "embedding rows are kept in memory from row %d on: the temporary file in %s cannot hold them (%s); "
            "if the folder is full, read-only or missing, set TMPDIR to a writable folder with space",
            self.rows if from_row is None else from_row,
            self._folder or tempfile.tempdir or "the temporary folder",
            exc,
        )
        self._grow_on_disk = False
        if not keep_file:
            self._close()

    def _close(self) -> None:
        """Close the file (the mappings keep it alive; it goes with the last of them)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def release_pages(rows: np.ndarray) -> None:
    """Hand the resident pages of ``rows`` back to the kernel if they live in a :class:`RowStore` file.

    Anything else (an array in memory, another kind of mapping, a view that is not contiguous) is
    left alone, so any array may be passed; it is a hint, and a system that refuses it (locked
    memory: ``mlockall``) keeps the pages. The contents do not change: the next read takes them
    from the file.
    """
    mapping = _row_map_of(rows)
    if mapping is None or _DONTNEED is None or rows.nbytes == 0 or not rows.flags.c_contiguous:
        return
    view = np.frombuffer(mapping, np.uint8)
    start = rows.ctypes.data - view.ctypes.data
    del view
    page = mmap.PAGESIZE
    lo, hi = -(-start // page) * page, (start + rows.nbytes) // page * page
    if hi > lo:  # whole pages only: a page shared with rows outside ``rows`` stays
        with contextlib.suppress(OSError):
            mapping.madvise(_DONTNEED, lo, hi - lo)


def row_file_backed(rows: np.ndarray) -> bool:
    """``rows`` live in a :class:`RowStore`'s temporary file (not in the process's own memory)."""
    return _row_map_of(rows) is not None


def _row_map_of(rows: np.ndarray) -> _RowMap | None:
    base: object = rows
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):  # np.frombuffer keeps a view of the buffer it was given
        base = base.obj
    return base if isinstance(base, _RowMap) else None


def _allocate(file: IO[bytes], offset: int, length: int) -> None:
    """Make the file's bytes ``offset .. offset + length`` real disk blocks (``OSError`` when there is no room)."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(file.fileno(), offset, length)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # EINVAL, EOPNOTSUPP: the file system cannot
                raise
    file.seek(offset)
    file.write(bytes(length))
    file.flush()
