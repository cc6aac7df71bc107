"""Embedding rows in a temporary file (actionrec.pipeline.rows): contents survive, only their own pages go."""

from __future__ import annotations

import numpy as np
import pytest

from actionrec.pipeline import rows
from tests.support.resident import needs_smaps, resident_kb


def filled_store(blocks: int, dim: int = 512) -> rows.RowStore:
    store = rows.RowStore(dim)
    for b in range(blocks):
        store.add_block()[:] = np.arange(rows.BLOCK_ROWS, dtype=np.float32)[:, None] + 1000 * b
    return store


@needs_smaps
def test_released_rows_leave_memory_and_come_back_unchanged():
    store = filled_store(2)
    block = store.blocks[0]
    assert resident_kb(block) == 512
    rows.release_pages(block)
    assert resident_kb(block) == 0
    assert np.array_equal(block[:, 7], np.arange(256, dtype=np.float32))


@needs_smaps
def test_a_slice_gives_back_only_the_pages_wholly_inside_it():
    """Rows 1..4 of 2 KB each cover bytes 2048..10240: only the page 4096..8192 is wholly theirs."""
    block = filled_store(1).blocks[0]
    rows.release_pages(block[1:5])
    assert resident_kb(block) == 512 - 4
    assert block[1:5, 0].tolist() == [1.0, 2.0, 3.0, 4.0]


@needs_smaps
def test_other_arrays_are_left_alone_even_private_mappings_with_changes(tmp_path):
    """MADV_DONTNEED on a copy-on-write mapping would throw its changes away: such arrays are not touched."""
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((256, 512), np.float32))
    private = np.load(path, mmap_mode="c")
    private[:] = 7.0
    in_memory = np.full((256, 512), 3.0, np.float32)
    rows.release_pages(private)
    rows.release_pages(in_memory)
    assert resident_kb(private) >= 512 and float(private.min()) == 7.0 and float(in_memory.min()) == 3.0
    assert not rows.row_file_backed(private) and not rows.row_file_backed(in_memory)


def test_the_finished_rows_are_one_writable_array_of_the_first_n_rows():
    store = filled_store(3, dim=4)
    out = store.finish(600)
    assert out.shape == (600, 4) and out.dtype == np.float32 and out.flags.writeable
    assert out[:, 0].tolist() == [float(k % 256 + 1000 * (k // 256)) for k in range(600)]
    assert rows.row_file_backed(out) and store.blocks == [] and not store.on_disk
    out[599] = -1.0  # the result is the caller's: the file pipeline writes duplicated rows into it
    assert out[599].tolist() == [-1.0] * 4


def test_no_rows_and_too_many_rows():
    assert rows.RowStore(8).finish(0).shape == (0, 8)
    store = filled_store(1, dim=8)
    with pytest.raises(ValueError, match=r"^257 rows asked for, 256 allocated$"):
        store.finish(257)
