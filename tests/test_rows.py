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


def test_a_row_written_to_a_retired_block_goes_to_the_file_and_is_in_the_result():
    """A request that ends after its block was retired (its mapping dropped) loses nothing."""
    store = filled_store(4, dim=8)
    store.release_behind(keep=2)
    assert store.blocks[0] is None and store.blocks[1] is None and store.blocks[2] is not None
    store.write(3, np.full(8, -5.0, np.float32))
    store.write(300, np.full(8, -6.0, np.float32))
    out = store.finish(4 * 256)
    assert out[3].tolist() == [-5.0] * 8 and out[300].tolist() == [-6.0] * 8
    assert out[4, 0] == 4.0 and out[256 + 7, 0] == 1007.0 and out[3 * 256, 0] == 3000.0


def test_a_disk_that_fills_after_blocks_were_retired_reads_them_back_from_the_file(monkeypatch):
    """Retired blocks, then no room for the next: the copied result takes the retired rows from the file."""
    store = filled_store(3, dim=8)
    store.release_behind(keep=1)

    def full(file, offset, length):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rows, "_allocate", full)
    store.add_block()[:] = 9.0
    assert not store.on_disk
    out = store.finish(4 * 256)
    assert not rows.row_file_backed(out)
    assert out[:, 0].tolist() == [float(k % 256 + 1000 * (k // 256)) for k in range(3 * 256)] + [9.0] * 256


@needs_smaps
def test_a_long_run_holds_a_few_descriptors_not_one_per_block():
    """An hour of video is 225 blocks: a mapping (and descriptor) per block would run into the open-file limit."""
    import os

    before = len(os.listdir("/proc/self/fd"))
    store = rows.RowStore(512)
    for _ in range(300):
        store.add_block()
        store.release_behind()
    during = len(os.listdir("/proc/self/fd"))
    out = store.finish(300 * 256)
    assert during - before <= 4 and len(os.listdir("/proc/self/fd")) - before <= 1
    assert out.shape == (300 * 256, 512) and resident_kb(out) == 0
