"""Embedding rows kept in a temporary file, so a long video's rows do not stay in the process's memory.

A file encoder makes 2 KB of embedding per grid sample, 16 samples per second of video: 20 MB for
10 minutes, 118 MB for an hour. Held in RAM they made the peak memory of ``analyze`` grow with the
length of the video. :class:`RowStore` keeps them in blocks of one temporary file, each mapped into
memory (shared, so writes go to the file): the encoder's callbacks write rows into a block as into
any array, and :func:`release_pages` hands the pages of rows already done with back to the kernel
(``madvise(MADV_DONTNEED)``). Their contents stay in the page cache, or on disk once the kernel
writes them back, and the next read brings them back unchanged. The finished rows are one mapping
of the whole file: an ordinary writable ``float32`` array, which the file pipeline's readers (the
decoder, :meth:`~actionrec.pipeline.EncodedVideo.to_npz`) go through and release as they go.

The file is a :func:`tempfile.TemporaryFile` in the temporary folder (``TMPDIR``): unnamed where the
system allows it, so nothing is left behind however the process ends. Each block is allocated on
disk before it is mapped, so a full disk is an ``OSError`` there and never a crash on a write
through the mapping. Where the file cannot be made, grown or mapped, the remaining blocks are kept
in memory, as before, and one warning says why. On a ``tmpfs`` temporary folder the rows are still
in RAM, but in the page cache (swappable), not in the process: point ``TMPDIR`` at a disk folder to
keep them out of memory altogether.
"""

from __future__ import annotations

import errno
import logging
import mmap
import os
import tempfile
from typing import IO

import numpy as np

log = logging.getLogger(__name__)

BLOCK_ROWS = 256
"""Rows per block: 512 KB at 512 float32 values, a multiple of every system's mapping granularity."""
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)  # not on Windows: the pages stay until the system trims them


class _RowMap(mmap.mmap):
    """A shared mapping of a :class:`RowStore` file: the only mappings :func:`release_pages` touches.

    ``MADV_DONTNEED`` on a private (copy-on-write) mapping would throw its changes away; on these
    shared ones it only unmaps pages whose contents the file keeps.
    """


class RowStore:
    """``float32`` rows of ``dim`` values, in blocks of :data:`BLOCK_ROWS`, backed by a temporary file.

    Not thread-safe: the caller serializes :meth:`add_block` with the writes into the blocks.

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
        self.blocks: list[np.ndarray] = []
        self._block_bytes = BLOCK_ROWS * dim * 4
        self._released = 0  # blocks handed back by release_behind()
        self._file: IO[bytes] | None = None
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
        return self._file is not None

    def add_block(self) -> np.ndarray:
        """One more block of zeroed rows (``[BLOCK_ROWS, dim]``), appended to :attr:`blocks`."""
        block = self._mapped_block() if self._file is not None else None
        if block is None:
            block = np.zeros((BLOCK_ROWS, self.dim), np.float32)
        self.blocks.append(block)
        return block

    def release_behind(self, *, keep: int = 2) -> None:
        """Hand back the pages of every block but the last ``keep`` (once each).

        A row written into a released block later (a request that ended late) is not lost: the page
        comes back from the file.
        """
        while self._released < len(self.blocks) - keep:
            release_pages(self.blocks[self._released])
            self._released += 1

    def finish(self, n: int) -> np.ndarray:
        """The first ``n`` rows as one ``[n, dim]`` array; the blocks are given up.

        File-backed: one mapping of the file's first ``n`` rows, nothing copied, no page resident.
        Otherwise the blocks are copied into one array, each freed once copied.
        """
        if n > self.rows:
            raise ValueError(f"{n} rows asked for, {self.rows} allocated")
        blocks, self.blocks = self.blocks, []
        if self._file is not None and n:
            try:
                rows = np.frombuffer(_RowMap(self._file.fileno(), n * self.dim * 4), np.float32).reshape(n, self.dim)
            except (OSError, ValueError) as exc:  # address space or mapping limits: copy instead
                self._in_memory_from_now(exc)
            else:
                self._close()
                release_pages(rows)
                return rows
        self._close()
        rows = np.empty((n, self.dim), np.float32)
        while blocks:  # block by block, each freed once copied: the peak is one block above n rows
            start = (len(blocks) - 1) * BLOCK_ROWS
            part = rows[start : start + BLOCK_ROWS]
            part[:] = blocks.pop()[: len(part)]
        return rows

    def _mapped_block(self) -> np.ndarray | None:
        assert self._file is not None
        offset = len(self.blocks) * self._block_bytes
        try:
            _allocate(self._file, offset, self._block_bytes)
            mapping = _RowMap(self._file.fileno(), self._block_bytes, offset=offset)
        except (OSError, ValueError) as exc:
            self._in_memory_from_now(exc)
            return None
        return np.frombuffer(mapping, np.float32).reshape(BLOCK_ROWS, self.dim)

    def _in_memory_from_now(self, exc: BaseException) -> None:
        log.warning(
            "embedding rows are kept in memory from row %d on: the temporary file in %s cannot hold them (%s); "
            "set TMPDIR to a folder with space",
            self.rows,
            tempfile.gettempdir(),
            exc,
        )
        self._close()

    def close(self) -> None:
        """Give the rows up without a result (a run that failed): the file goes with the last mapping."""
        self.blocks = []
        self._close()

    def _close(self) -> None:
        """Close the file (the mappings keep it alive; it goes with the last of them)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def release_pages(rows: np.ndarray) -> None:
    """Hand the resident pages of ``rows`` back to the kernel if they live in a :class:`RowStore` file.

    Anything else (an array in memory, another kind of mapping) is left alone, so any array may be
    passed. The contents do not change: the next read takes them from the file.
    """
    mapping = _row_map_of(rows)
    if mapping is None or _DONTNEED is None or rows.nbytes == 0:
        return
    view = np.frombuffer(mapping, np.uint8)
    start = rows.ctypes.data - view.ctypes.data
    del view
    page = mmap.PAGESIZE
    lo, hi = -(-start // page) * page, (start + rows.nbytes) // page * page
    if hi > lo:  # whole pages only: a page shared with rows outside ``rows`` stays
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
