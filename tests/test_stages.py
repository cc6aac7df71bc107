"""The file encoder's stages (:mod:`actionrec.pipeline.stages`) on plain frame iterables.

What :class:`FileEncoder` hands back and shows: the progress bar (its name, counts and end), the
source's counters and geometry in the :class:`EncodedVideo`, the per-stage timings (with injected
per-thread clocks, so exact), reuse of an earlier run's embeddings, quick-scan samples, early stops
and a Ctrl+C during shutdown. The tiny encoder's embedding holds the crop's mean colour per quadrant
(``emb[0]``: blue of the top-left quadrant / 255), so each row shows which frame it came from.
"""

from __future__ import annotations

import dataclasses
import queue
import re
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import FileEncoder, Recognizer, SamplingGrid, encoders, rows, stages
from actionrec.pipeline.encoded import EncodedVideo
from actionrec.video.core import VideoStats
from tests.support.resident import needs_smaps, resident_kb

STEP_S = 1 / 16  # the tiny models' grid: 16 samples per 1 s window
HANG_GUARD_S = 60.0  # a hang guard, not a timing: the waits it bounds end within milliseconds
BATCH = 8  # samples per encoder request in these tests (a dynamic batch, as on AVX-512)


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    # batch 8 (the AVX-512 rule says 4): the requests' boundaries below are written for 8 samples each
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT", encoder_batch=BATCH)


@pytest.fixture(scope="module")
def grid(models):
    return Recognizer(models).grid


def blue(i: int) -> int:
    """Frame ``i``'s blue value: distinct for 50 frames, so each embedding row names its frame."""
    return 10 + (5 * i) % 250


def frames_at(times, size_wh=(32, 32)):
    w, h = size_wh
    return [
        SimpleNamespace(image_bgr=np.full((h, w, 3), (blue(i), 40, 90), np.uint8), index=i, timestamp_s=t)
        for i, t in enumerate(times)
    ]


def grid_frames(n, *, t0=0.0, size_wh=(32, 32)):
    """``n`` frames on the 16/s grid: frame ``i`` is sample ``i``."""
    return frames_at([t0 + i * STEP_S for i in range(n)], size_wh)


def recorded_row_stores(monkeypatch) -> list:
    """Every RowStore made from now on, in order."""
    stores: list[rows.RowStore] = []
    make_store = rows.RowStore.__init__

    def recorded(store, *args, **kwargs):
        make_store(store, *args, **kwargs)
        stores.append(store)

    monkeypatch.setattr(rows.RowStore, "__init__", recorded)
    return stores


def row_blues(encoded):
    return np.round(encoded.embeddings[:, 0] * 255).astype(int).tolist()


# -- what the user sees: the progress bar ---------------------------------------------------------------


def bar_lines(err: str) -> list[str]:
    return [s for s in re.split(r"[\r\n]", err) if s.strip()]


BAR = re.compile(r"^(?P<desc>.*?): +\d+%\|[^|]*\| (?P<n>\d+)/(?P<total>\d+) \[.*(?<![A-Za-z])frame/s\]\s*$")


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("/media/trips/2024/beach.mp4", "beach.mp4"),  # the file name, not its folders
        ("/media/" + "b" * 24 + ".mp4", "b" * 24 + ".mp4"),  # 28 characters: whole
        ("/media/a" + "b" * 24 + ".mp4", "…" + "b" * 23 + ".mp4"),  # 29: its last 27 after an ellipsis
    ],
)
def test_the_progress_bar_names_the_file_counts_frames_and_stays(models, grid, capsys, source, shown):
    """Shown by default: the short file name, frames decoded every 16 samples, the last count kept."""
    calls = []
    encoder = FileEncoder(models, grid, on_progress=lambda done, total: calls.append((done, total)))
    encoder.run(grid_frames(50), source=source, total_frames=50)
    err = capsys.readouterr().err
    lines = bar_lines(err)
    parsed = [BAR.match(line) for line in lines]
    assert all(parsed), lines
    assert {m["desc"] for m in parsed} == {shown}
    assert [int(m["n"]) for m in parsed] == [0, 1, 17, 33, 49, 50]  # frames decoded up to samples 0, 16, 32, 48
    assert {m["total"] for m in parsed} == {"50"}
    assert err.endswith("\n") and "50/50" in err.rstrip("\n").rsplit("\r", 1)[-1]  # the full bar stays
    assert calls == [(1, 50), (17, 50), (33, 50), (49, 50)]


def test_no_progress_bar_on_request(models, grid, capsys):
    FileEncoder(models, grid, progress=False).run(grid_frames(20), source="quiet.mp4", total_frames=20)
    assert capsys.readouterr().err == ""


# -- the result: counters and geometry of the source ---------------------------------------------------


def test_the_result_carries_the_sources_counters_size_and_start(models, grid, capsys):
    """A source starting at 10 s whose decoder passed over frames after the last one pushed."""
    frames = grid_frames(40, t0=10.0, size_wh=(96, 64))
    stats = VideoStats(frames_decoded=55, frames_corrupt=2, truncated=True, last_timestamp_s=13.0)
    encoded = FileEncoder(models, grid).run(frames, source="late.mp4", total_frames=55, stats=stats)
    assert (encoded.frames_decoded, encoded.frames_corrupt, encoded.truncated) == (55, 2, True)
    assert encoded.t0_s == 10.0 and encoded.duration_s == pytest.approx(3.0)
    assert encoded.num_samples == 49  # grid points up to the source's last frame, at 13 s
    assert encoded.size_wh == (96, 64) and encoded.crop_xywh == (16, 0, 64, 64)
    assert "55/55" in capsys.readouterr().err.rstrip("\n").rsplit("\r", 1)[-1]  # the bar ends at the source's count

    plain = FileEncoder(models, grid, progress=False).run(grid_frames(40, t0=10.0, size_wh=(64, 96)), source="x")
    assert (plain.frames_decoded, plain.frames_corrupt, plain.truncated) == (40, 0, False)
    assert plain.duration_s == pytest.approx(39 * STEP_S) and plain.t0_s == 10.0
    assert plain.size_wh == (64, 96) and plain.crop_xywh == (0, 16, 64, 64)


def test_max_seconds_counts_from_the_first_frame(models, grid):
    bounded = FileEncoder(models, grid, progress=False, max_seconds=1.0)
    encoded = bounded.run(grid_frames(64, t0=20.0), source="x")
    assert encoded.num_samples == 17 and encoded.duration_s == pytest.approx(1.0) and encoded.t0_s == 20.0
    assert bounded.reached_end is False  # max_seconds ended it, not the source
    whole = FileEncoder(models, grid, progress=False)
    whole.run(grid_frames(8), source="x")
    assert whole.reached_end is True
    # a bound below zero stops at the first frame: nothing analysed, a well-formed empty result
    none = FileEncoder(models, grid, progress=False, max_seconds=-1.0).run(grid_frames(8, t0=20.0), source="x")
    assert (none.num_samples, none.duration_s, none.frames_decoded, none.size_wh) == (0, 0.0, 1, (32, 32))


def test_an_empty_source_gives_an_empty_result_that_is_stored_and_read_back(models, grid, tmp_path):
    encoded = FileEncoder(models, grid, progress=False).run([], source="empty.mp4")
    assert encoded.num_samples == 0 and encoded.embeddings.shape == (0, models.embedding_dim)
    assert (encoded.duration_s, encoded.frames_decoded, encoded.crop_xywh, encoded.size_wh) == (0.0, 0, None, None)
    path = encoded.to_npz(tmp_path / "empty.npz")
    again = EncodedVideo.from_npz(path, source="empty.mp4", embedding_dim=models.embedding_dim)  # dtypes checked
    assert again.num_samples == 0 and again.embeddings.dtype == np.float32


def test_whole_second_int_timestamps_are_stored_as_seconds_and_read_back(models, tmp_path):
    """A source may give int timestamps (a one-frame-a-second time-lapse): the entry is still readable."""
    coarse = SamplingGrid(window_s=16.0, clip_len=16, stride_steps=16)  # one sample per second
    encoded = FileEncoder(models, coarse, progress=False).run(frames_at(range(5)), source="lapse.mp4")
    assert encoded.frame_times_s.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    again = EncodedVideo.from_npz(encoded.to_npz(tmp_path / "lapse.npz"), source="lapse.mp4")
    np.testing.assert_array_equal(again.frame_times_s, encoded.frame_times_s)


def test_rows_past_the_first_256_samples_keep_every_earlier_embedding(models, grid):
    """The embedding array grows while callbacks write into it: nothing written before is lost."""
    encoder = FileEncoder(models, grid, progress=False)
    encoded = encoder.run(grid_frames(260), source="long.mp4")
    assert row_blues(encoded) == [blue(i) for i in range(260)]
    assert encoder.samples_encoded == 260


def test_an_encoder_of_another_input_size_gets_frames_of_its_size(tmp_path, tiny_labels_file):
    import openvino as ov

    from tests.support.tiny_models import build_encoder, write_model_dir

    root = write_model_dir(tmp_path / "small", precisions=("FP32",))
    xml = root / "action-recognition-0001-encoder" / "FP32" / "action-recognition-0001-encoder.xml"
    ov.save_model(build_encoder(size_hw=(112, 112)), str(xml), compress_to_fp16=False)
    small = compile_models(resolve_model(precision="FP32", model_dir=root, labels=tiny_labels_file), cache_dir=tmp_path)
    assert small.input_size_hw == (112, 112)
    encoded = FileEncoder(small, Recognizer(small).grid, progress=False).run(grid_frames(20), source="x")
    assert row_blues(encoded) == [blue(i) for i in range(20)]


# -- timings: injected per-thread clocks ------------------------------------------------------------------


class ThreadClocks:
    """``perf_counter`` with one fake time per thread, advanced only where the test says."""

    def __init__(self) -> None:
        self._local = threading.local()

    def perf_counter(self) -> float:
        return getattr(self._local, "t", 0.0)

    def advance(self, seconds: float) -> None:
        self._local.t = self.perf_counter() + seconds


@pytest.mark.parametrize("n", [1, 40])
def test_stage_timings_are_per_decoded_frame_and_per_encoded_sample(models, grid, monkeypatch, n):
    """Each frame takes 1 ms to decode, each sample 2 ms to preprocess, each request 4 ms per sample."""
    clocks = ThreadClocks()
    monkeypatch.setattr(stages, "time", SimpleNamespace(perf_counter=clocks.perf_counter))
    real_preprocess = stages.preprocess_frame

    def preprocess_2ms(*a, **k):
        clocks.advance(0.002)
        return real_preprocess(*a, **k)

    monkeypatch.setattr(stages, "preprocess_frame", preprocess_2ms)
    # requests start on the calling thread at 0 and end on OpenVINO's callback threads at 4 ms
    main = threading.main_thread()
    monkeypatch.setattr(
        encoders,
        "time",
        SimpleNamespace(perf_counter=lambda: 0.0 if threading.current_thread() is main else 0.004),
    )

    def frames():
        for f in grid_frames(n):
            clocks.advance(0.001)  # on the reader thread, inside next()
            yield f

    encoded = FileEncoder(models, grid, progress=False).run(frames(), source="x")
    t = encoded.timings
    assert (encoded.num_samples, encoded.frames_decoded) == (n, n)
    assert t.decode_ms == pytest.approx(1.0) and t.preprocess_ms == pytest.approx(2.0)
    assert t.encoder_ms == pytest.approx(4.0)


# -- reuse of an earlier run ------------------------------------------------------------------------------


def test_an_earlier_runs_samples_are_copied_and_only_the_others_encoded(models, grid):
    """``known`` holds samples 0-19; its sample 5 came from another frame and it lacks sample 7."""
    first = FileEncoder(models, grid, progress=False).run(grid_frames(20), source="x")
    marked = first.embeddings.copy()
    marked[3] = 0.5  # a value no frame gives: seen again only if copied
    indices = first.frame_indices.copy()
    indices[5] += 1000
    have = first.encoded.copy()
    have[7] = False
    known = dataclasses.replace(first, embeddings=marked, frame_indices=indices, encoded=have)

    encoder = FileEncoder(models, grid, progress=False, known=known)
    again = encoder.run(grid_frames(40), source="x")
    assert encoder.samples_encoded == 22  # 5, 7 and the 20 samples the earlier run did not reach
    assert again.encoded.all() and again.num_samples == 40
    np.testing.assert_array_equal(again.embeddings[3], marked[3])
    expected = [blue(i) for i in range(40)]
    expected[3] = round(0.5 * 255)
    assert row_blues(again) == expected
    assert again.crop_xywh == first.crop_xywh == (0, 0, 32, 32)

    # everything known: nothing encoded, the crop comes from the earlier run
    encoder = FileEncoder(models, grid, progress=False, known=first)
    same = encoder.run(grid_frames(20), source="x")
    assert encoder.samples_encoded == 0 and same.crop_xywh == (0, 0, 32, 32)
    np.testing.assert_array_equal(same.embeddings, first.embeddings)


# -- quick scans: samples between windows --------------------------------------------------------------


def test_a_quick_scan_encodes_each_frame_of_its_windows_once_and_copies_duplicates(models):
    """8 fps against the 16/s grid, windows 17 steps apart: sample 16 belongs to no window, and sample 17
    (the first of the next window) reuses its frame: it must be encoded, not copied from nothing."""
    scan = SamplingGrid(window_s=1.0, clip_len=16, stride_steps=17)
    frames = frames_at([i / 8 for i in range(32)])
    encoder = FileEncoder(models, scan, progress=False)
    encoded = encoder.run(frames, source="x")
    used = np.array([scan.sample_used(k) for k in range(encoded.num_samples)])
    have = encoded.encoded
    assert have[used].all() and not have[16] and encoded.duplicated[17]
    blues = np.array(row_blues(encoded))
    frame_blues = np.array([blue(int(i)) for i in encoded.frame_indices])
    np.testing.assert_array_equal(blues[have], frame_blues[have])  # duplicates carry their frame too
    assert (blues[~have] == 0).all()
    assert encoder.samples_encoded == len(set(encoded.frame_indices[used].tolist()))


# -- threads, early stops, Ctrl+C -------------------------------------------------------------------------


def test_frames_are_read_on_a_daemon_thread_named_for_the_project(models, grid):
    """Named so a thread dump (and the suite's leak checks) can tell it; a daemon, so a stuck read()
    never keeps Python from exiting."""
    seen = []

    def frames():
        seen.append((threading.current_thread().name, threading.current_thread().daemon))
        yield from grid_frames(4)

    FileEncoder(models, grid, progress=False).run(frames(), source="x")
    assert seen == [("actionrec-reader", True)]


def test_an_early_stop_stops_the_reader_blocked_on_a_full_queue(models, grid, monkeypatch):
    """``on_progress`` raises while the reader waits to queue a sample: it stops there, reading no further."""
    stopping, blocked = threading.Event(), threading.Event()

    class WatchedQueue(queue.Queue):
        def put(self, item, block=True, timeout=None):
            if stopping.is_set() and self.full():
                blocked.set()  # the reader waits in put(), and nothing takes from the queue any more
            return super().put(item, block, timeout)

    monkeypatch.setattr(stages, "queue", SimpleNamespace(Queue=WatchedQueue, Full=queue.Full))
    pulled = []

    def frames():
        for f in grid_frames(200):
            pulled.append(f.index)
            yield f

    class StopError(Exception):
        pass

    def stop(done, total):
        stopping.set()
        assert blocked.wait(HANG_GUARD_S)
        raise StopError

    encoder = FileEncoder(models, grid, progress=False, on_progress=stop, queue_depth=2)
    outcome = []

    def run():
        try:
            encoder.run(frames(), source="x")
        except StopError:
            outcome.append("stopped")

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(HANG_GUARD_S)
    assert not runner.is_alive(), "the run did not return after its stop: the reader is stuck in put()"
    assert outcome == ["stopped"]
    assert len(pulled) == 4  # sample 0 taken, 2 queued, 1 waiting: nothing read after the stop
    assert encoder.reached_end is False  # stopped: the source did not end (a chunk is not taken for the last)


def test_a_ctrl_c_while_the_requests_drain_is_raised_after_the_reader_is_joined(models, grid, monkeypatch):
    """The run had finished when Ctrl+C came: it is not swallowed, and the reader is still waited for."""
    real_drain = stages.EncoderQueue.drain
    drains = []

    def drain_then_ctrl_c(self):
        real_drain(self)
        drains.append(1)
        if len(drains) == 1:
            raise KeyboardInterrupt

    joined = []

    class Recorded(threading.Thread):
        def join(self, timeout=None):
            joined.append(self.name)
            return super().join(timeout)

    monkeypatch.setattr(stages.EncoderQueue, "drain", drain_then_ctrl_c)
    monkeypatch.setattr(stages.threading, "Thread", Recorded)
    stores = recorded_row_stores(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        FileEncoder(models, grid, progress=False).run(grid_frames(30), source="x")
    assert drains == [1, 1] and joined == ["actionrec-reader"]
    [store] = stores
    assert not store.on_disk and store.blocks == []  # no result: the rows' file is closed, not left to the collector


def test_an_early_stop_returns_only_after_the_requests_in_flight_finished(models, grid, monkeypatch):
    """``on_progress`` raises at sample 16 while the request carrying samples 8-15 still runs: the run
    waits for it (an ``AsyncInferQueue`` freed with requests running aborts or hangs OpenVINO)."""
    import openvino

    from tests.support.held_requests import CompletionLog, gated_models

    log = CompletionLog()
    held_green = log.hold_until_released()
    frames = grid_frames(24)
    frames[8].image_bgr[:, :, 1] = held_green  # the request carrying sample 8 waits for the release
    monkeypatch.setattr(openvino, "AsyncInferQueue", log.queue_class())
    gated = gated_models(models, log)
    real_drain = stages.EncoderQueue.drain

    def release_then_drain(self):
        log.release()  # shutdown waits for the requests: the held one may go on now
        real_drain(self)

    monkeypatch.setattr(stages.EncoderQueue, "drain", release_then_drain)

    class StopError(Exception):
        pass

    def stop_at_16(done, total):
        if done == 17:
            raise StopError

    with pytest.raises(StopError):
        FileEncoder(gated, Recognizer(gated).grid, progress=False, on_progress=stop_at_16).run(frames, source="x")
    finished_at_return = [ks for ks, _started in log.completed]
    log.release()
    assert gated.encoder_batch == BATCH == 8
    assert log.held == 1 and sorted(finished_at_return) == [tuple(range(8)), tuple(range(8, 16))]


@needs_smaps
def test_rows_past_the_first_block_stay_out_of_memory_while_encoding_and_after(models, grid, monkeypatch):
    """A file's rows go to a temporary file: memory holds the last two blocks of 256 while encoding, none after.

    Held in memory, a 10-minute file's 9,600 rows (20 MB) made the peak grow with the video.
    """
    resident_while: list[int] = []
    mapped_while: list[int] = []
    add_block = rows.RowStore.add_block

    def measured_add_block(store):
        mapped = [b for b in store.blocks if b is not None]
        resident_while.append(resident_kb(*mapped) if mapped else 0)
        mapped_while.append(len(mapped))
        return add_block(store)

    monkeypatch.setattr(rows.RowStore, "add_block", measured_add_block)
    n = 6 * 256 + 10
    encoded = FileEncoder(models, grid, progress=False).run(grid_frames(n), source="long.mp4")
    block_kb = 256 * models.embedding_dim * 4 // 1024
    assert len(resident_while) == 7
    assert max(resident_while) <= 3 * block_kb, f"{resident_while} kB resident as blocks were added"
    assert mapped_while == [0, 1, 2, 2, 2, 2, 2]  # the blocks behind are retired: no mapping per block
    assert resident_kb(encoded.embeddings) == 0  # measured before the rows are read below
    assert row_blues(encoded) == [blue(i) for i in range(n)]  # ... which brings them back, unchanged
    assert resident_kb(encoded.embeddings) >= n * models.embedding_dim * 4 // 1024 - 4


def test_rows_in_memory_when_the_temporary_folder_cannot_take_them_are_the_same_rows(
    models, grid, monkeypatch, tmp_path, caplog
):
    """No usable temporary folder: the rows stay in memory, as before, and the warning says where and what to do."""
    n = rows.MAPPED_MIN_ROWS + 10  # long enough to be mapped
    on_disk = FileEncoder(models, grid, progress=False).run(grid_frames(n), source="long.mp4")
    monkeypatch.setattr(rows.tempfile, "tempdir", str(tmp_path / "gone"))
    with caplog.at_level("WARNING", logger="actionrec.pipeline.rows"):
        in_memory = FileEncoder(models, grid, progress=False).run(grid_frames(n), source="long.mp4")
    assert rows.row_file_backed(on_disk.embeddings) and not rows.row_file_backed(in_memory.embeddings)
    assert np.array_equal(in_memory.embeddings, on_disk.embeddings)
    gone = re.escape(str(tmp_path / "gone"))
    [message] = caplog.messages
    assert re.fullmatch(
        rf"embedding rows are kept in memory from row 0 on: the temporary file in {gone} cannot hold them "
        rf"\(\[Errno 2\] No such file or directory: '{gone}/actionrec-rows-\w+'\); if the folder is full, "
        r"read-only or missing, set TMPDIR to a writable folder with space",
        message,
    ), message


def test_a_disk_that_fills_while_encoding_keeps_the_rest_of_the_rows_in_memory(models, grid, monkeypatch, caplog):
    """The third block cannot be allocated (no space): it and the rest are in memory; no row is lost."""
    allocate, calls = rows._allocate, []

    def full_after_two(file, offset, length):
        calls.append(offset)
        if len(calls) > 2:
            raise OSError(28, "No space left on device")
        allocate(file, offset, length)

    monkeypatch.setattr(rows, "_allocate", full_after_two)
    with caplog.at_level("WARNING", logger="actionrec.pipeline.rows"):
        encoded = FileEncoder(models, grid, progress=False).run(grid_frames(5 * 256), source="long.mp4")
    assert row_blues(encoded) == [blue(i) for i in range(5 * 256)]
    assert len(calls) == 3  # no file once one block failed
    assert not rows.row_file_backed(encoded.embeddings)
    assert len(caplog.messages) == 1 and "from row 512 on" in caplog.messages[0]
    assert "No space left on device" in caplog.messages[0]


def test_a_failed_run_closes_its_row_file(models, grid, monkeypatch):
    """The source fails half way: the rows' temporary file is closed with the run, not left to the collector."""
    stores = recorded_row_stores(monkeypatch)

    class BrokenSourceError(Exception):
        pass

    def frames():
        yield from grid_frames(300)
        raise BrokenSourceError

    with pytest.raises(BrokenSourceError):
        FileEncoder(models, grid, progress=False).run(frames(), source="broken.mp4")
    [store] = stores
    assert not store.on_disk and store.blocks == []


@pytest.mark.parametrize(
    ("frames", "run", "first", "n"),
    [
        (33, {"max_seconds": 1.0}, 0, 17),  # max_seconds ends the run first: samples 0..16
        (33, {"first_sample": 8}, 8, 25),  # a chunk from sample 8 to the end
        (33, {"first_sample": 2, "end_sample": 20}, 2, 18),  # a chunk's end: exactly its 18 samples
        (33, {"first_sample": 5, "end_sample": 6}, 5, 1),  # a chunk of one sample: one row
        (300, {"first_sample": 250}, 250, 50),  # a chunk starting in the second block's worth of samples
    ],
)
def test_a_runs_rows_are_its_samples_within_its_limits(models, grid, frames, run, first, n):
    encoded = FileEncoder(models, grid, progress=False, **run).run(grid_frames(frames), source="sized.mp4")
    assert (encoded.first_sample, encoded.num_samples) == (first, n)
    assert row_blues(encoded) == [blue(i) for i in range(first, first + n)]
    assert encoded.embeddings.shape == (n, models.embedding_dim)


@pytest.mark.parametrize(("first", "end"), [(5, 5), (6, 5), (-1, None), (-1, 4)])
def test_a_chunk_that_is_no_range_of_samples_is_refused(models, grid, first, end):
    with pytest.raises(
        ValueError, match=rf"^samples {first}\.\.{end} are not a range of grid samples; need 0 <= first < end$"
    ):
        FileEncoder(models, grid, progress=False, first_sample=first, end_sample=end)


def test_a_chunk_reads_no_frame_past_the_one_that_decides_its_last_sample(models, grid):
    """Samples 0..7 of a source with a frame at every grid time: frame 7 decides sample 7 (a frame on
    the sample's own time is its nearest); the 32 frames after it are another chunk's and stay unread."""
    encoder = FileEncoder(models, grid, progress=False, first_sample=0, end_sample=8)
    encoded = encoder.run(grid_frames(40), source="chunk.mp4")
    assert encoded.num_samples == 8 and encoded.frames_decoded == 8 and encoder.reached_end is False


def test_a_chunk_that_starts_on_a_repeated_frame_encodes_its_first_sample(models, grid):
    """After a gap one frame serves several samples; a chunk starting among them has no row before its first."""
    frames = frames_at([i / 16 for i in range(17)] + [3.0])  # samples 17..31 repeat frame 16 (nearest before the gap)
    encoder = FileEncoder(models, grid, progress=False, first_sample=20, end_sample=24)
    encoded = encoder.run(frames, source="chunk.mp4")
    assert encoded.first_sample == 20 and encoded.num_samples == 4
    assert row_blues(encoded) == [blue(16)] * 4 and encoder.samples_encoded == 1  # encoded once, then copied


def test_a_chunk_holds_exactly_its_samples_when_one_frame_decides_many(models, grid):
    """A chunk of samples [first, end): its rows are those samples, not more, across a gap in the source.

    After a 2 s gap the next frame decides many grid samples at once (the ones nearest the frame before
    the gap), the chunk's end among them: the samples from its end on are another chunk's.
    """
    frames = frames_at([i / 16 for i in range(17)] + [3.0])  # 1 s at 16 fps, then one frame at 3 s
    encoder = FileEncoder(models, grid, progress=False, first_sample=2, end_sample=20)
    encoded = encoder.run(frames, source="chunk.mp4")
    assert encoded.first_sample == 2 and encoded.num_samples == 18
    np.testing.assert_allclose(encoded.frame_times_s, [min(k, 16) / 16 for k in range(2, 20)])


def test_a_finished_encoder_and_its_request_buffers_are_freed(models, grid):
    """The request queue holds its callback where the garbage collector cannot see it; it must not keep
    the encoder (with its rows, its request buffers and an earlier run's embeddings) alive after the run."""
    import gc
    import weakref

    encoder = FileEncoder(models, grid, progress=False)
    encoder.run(grid_frames(40), source="once.mp4")
    gone = weakref.ref(encoder)
    del encoder
    gc.collect()
    assert gone() is None, "the encoder outlived its run"
