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
    with filled_store(2) as store:
        block = store.blocks[0]
        assert resident_kb(block) == 512
        rows.release_pages(block)
        assert resident_kb(block) == 0
        assert np.array_equal(block[:, 7], np.arange(256, dtype=np.float32))


@needs_smaps
def test_a_slice_gives_back_only_the_pages_wholly_inside_it():
    """Rows 1..4 of 2 KB each cover bytes 2048..10240: only the page 4096..8192 is wholly theirs."""
    with filled_store(1) as store:
        block = store.blocks[0]
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


@pytest.mark.parametrize("n", [rows.MAPPED_MIN_ROWS + 76, 600], ids=["mapped", "copied"])
def test_the_finished_rows_are_one_read_only_array_with_the_repeated_rows(n):
    """Long results are a mapping of the file, short ones a copy in memory: the same rows either way.

    Read-only: a forked process writing into a shared mapping would change its parent's rows.
    """
    store = filled_store(5, dim=4)
    out = store.finish(n, repeat_previous=[1, 2, n - 1])
    want = [float(k % 256 + 1000 * (k // 256)) for k in range(n)]
    want[1] = want[2] = want[0]
    want[n - 1] = want[n - 2]
    assert out.shape == (n, 4) and out.dtype == np.float32 and out[:, 3].tolist() == want
    assert rows.row_file_backed(out) == (n >= rows.MAPPED_MIN_ROWS) and store.blocks == [] and not store.on_disk
    with pytest.raises(ValueError, match="read-only"):
        out[0] = 1.0


def test_no_rows_and_too_many_rows():
    assert rows.RowStore(8).finish(0).shape == (0, 8)
    with filled_store(1, dim=8) as store, pytest.raises(ValueError, match=r"^257 rows asked for, 256 allocated$"):
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


def test_an_unusable_temporary_folder_keeps_the_rows_in_memory_with_a_warning(monkeypatch, caplog):
    """No temporary folder at all (a read-only container): the rows stay in memory; the warning itself
    must not fail looking the folder up again."""

    def no_folder(*args, **kwargs):
        raise FileNotFoundError(2, "No usable temporary directory found")

    monkeypatch.setattr(rows.tempfile, "TemporaryFile", no_folder)
    monkeypatch.setattr(rows.tempfile, "gettempdir", no_folder)
    monkeypatch.setattr(rows.tempfile, "tempdir", None)
    with caplog.at_level("WARNING", logger="actionrec.pipeline.rows"):
        store = filled_store(5, dim=8)
    out = store.finish(5 * 256)
    assert not rows.row_file_backed(out) and out[1000, 0] == 3000.0 + 1000 - 768
    assert caplog.messages == [
        "embedding rows are kept in memory from row 0 on: the temporary file in the temporary folder cannot hold "
        "them ([Errno 2] No usable temporary directory found); if the folder is full, read-only or missing, set "
        "TMPDIR to a writable folder with space"
    ]


@needs_smaps
def test_a_refused_hint_and_views_it_cannot_release_leave_the_rows_as_they_are(monkeypatch):
    """Locked memory (mlockall) makes MADV_DONTNEED fail: only a hint, so the pages stay; so do a reversed view's."""
    store = filled_store(1)
    block = store.blocks[0]
    rows.release_pages(block[::-1])
    rows.release_pages(block[:, ::2])
    assert resident_kb(block) == 512

    def refused(*args):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(rows._RowMap, "madvise", refused)
    rows.release_pages(block)
    assert resident_kb(block) == 512 and block[255, 0] == 255.0
    store.close()
