"""File analysis end to end with tiny colour-dependent models and synthetic videos."""

import dataclasses
import re
import threading
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pytest

from actionrec.errors import ClipTooShortError
from actionrec.models import FILE_BATCH, compile_models, resolve_model
from actionrec.pipeline import FileEncoder, Recognizer, RecognizerOptions
from actionrec.pipeline.encoded import EncodedVideo
from tests.oracle import oracle_windows
from tests.support.resident import needs_smaps, resident_kb
from tests.support.tiny_models import write_model_dir
from tests.support.videos import solid


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    # batched as on an AVX-512 machine, whatever this CPU's rule: the batched path is tested everywhere
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT", encoder_batch=FILE_BATCH)


def frames_of(images_and_times):
    return [SimpleNamespace(image_bgr=img, index=i, timestamp_s=t) for i, (img, t) in enumerate(images_and_times)]


def encode(frames, models, grid, **kw):
    """The file encoder's stages on a plain frame iterable (no source stats)."""
    return FileEncoder(models, grid, progress=False, **kw).run(frames, source="x")


@pytest.mark.parametrize("fps", [10, 25, 30, 60])
def test_file_windows_match_oracle(models, video_factory, fps):
    path = video_factory(f"grey_{fps}.mp4", fps=fps, duration_s=3.2, size_wh=(160, 120))
    times = [i / fps for i in range(round(3.2 * fps))]
    timeline = Recognizer(models, options=RecognizerOptions(stride_s=0.25)).analyze(path, progress=False, cache=False)
    expected = oracle_windows(times, window_s=1.0, clip_len=16, stride_s=0.25)
    assert len(timeline) == len(expected) > 0
    for p, exp in zip(timeline.predictions, expected, strict=True):
        assert p.start_s == pytest.approx(exp["start_s"], abs=1e-6)
        assert p.end_s == pytest.approx(exp["end_s"], abs=1e-6)
        assert p.coverage_s == pytest.approx(exp["coverage_s"], abs=2e-3)
        assert abs(p.coverage_s - 1.0) <= timeline.step_s + 2e-3
        assert p.duplicated == exp["duplicated"]
    assert timeline.frames_decoded == len(times)


def test_variable_rate_file_matches_oracle(models, video_factory):
    rng = np.random.default_rng(3)
    gaps = np.concatenate([[0.0], rng.uniform(0.025, 0.06, 89)])  # phone-like 17-40 fps
    times = [round(t, 3) for t in np.cumsum(gaps)]
    path = video_factory("pipeline_vfr.mkv", timestamps_s=times, size_wh=(160, 120))
    timeline = Recognizer(models).analyze(path, progress=False, cache=False)
    expected = oracle_windows(times, window_s=1.0, clip_len=16, stride_s=0.5)
    assert [round(p.start_s, 4) for p in timeline.predictions] == [round(e["start_s"], 4) for e in expected]
    for p, exp in zip(timeline.predictions, expected, strict=True):
        assert p.coverage_s == pytest.approx(exp["coverage_s"], abs=2e-3)
        assert abs(p.coverage_s - 1.0) <= timeline.step_s + 2e-3


def banded(center_bgr, side_bgr):
    """Centre square (what the model crop sees) in one colour, the side bands in another."""

    def paint(i, t, img):
        h, w = img.shape[:2]
        img[:] = side_bgr
        x0 = (w - h) // 2
        img[:, x0 + 4 : x0 + h - 4] = center_bgr

    return paint


@pytest.mark.parametrize(
    ("center", "label"),
    [((230, 20, 20), "blue"), ((20, 230, 20), "green"), ((20, 20, 230), "red")],
)
def test_bgr_order_and_centre_crop(models, video_factory, center, label):
    # The side bands are a different colour: a squashed (uncropped) frame or an RGB swap fails.
    side = (20, 20, 230) if label != "red" else (230, 20, 20)
    path = video_factory(
        f"band_{label}.mp4", fps=25, duration_s=1.5, size_wh=(480, 240), paint=banded(center, side), stamp_index=False
    )
    timeline = Recognizer(models).analyze(path, progress=False, cache=False)
    assert {p.label for p in timeline.predictions} == {label}
    assert timeline.predictions[0].score > 0.9


def test_window_order_matters(models, video_factory):
    """A window whose frames brighten over time is 'brightening'; shuffled or reversed it is not."""

    def ramp(i, t, img):
        img[:] = int(min(255, 20 + 150 * t))

    path = video_factory("ramp.mp4", fps=30, duration_s=1.2, paint=ramp, stamp_index=False, size_wh=(160, 120))
    timeline = Recognizer(models).analyze(path, progress=False, cache=False)
    assert timeline.predictions[0].label == "brightening"


class OutOfOrderQueue:
    """Stands in for AsyncInferQueue: runs requests for real but calls back in scrambled order."""

    calls: ClassVar[list[int]] = []

    def __init__(self, compiled, jobs):
        self.request = compiled.create_infer_request()
        self.pending = []

    def set_callback(self, cb):
        self.cb = cb

    def start_async(self, inputs, userdata):
        self.request.infer(inputs)
        out = self.request.get_output_tensor(0).data.copy()
        OutOfOrderQueue.calls.append(userdata)
        self.pending.append((out, userdata))
        if len(self.pending) == 4:
            self._flush()

    def _flush(self):
        for out, k in reversed(self.pending):  # newest first: worst case for ordering (across batches)
            self.cb(SimpleNamespace(get_output_tensor=lambda i, o=out: SimpleNamespace(data=o)), k)
        self.pending = []

    def wait_all(self):
        self._flush()


def test_embeddings_in_frame_order_under_out_of_order_completion(models, monkeypatch):
    rng = np.random.default_rng(0)
    shades = rng.integers(0, 255, (48, 3))
    frames = frames_of((np.full((64, 64, 3), s, np.uint8), i / 16) for i, s in enumerate(shades))
    grid = Recognizer(models).grid
    expected = encode(frames, models, grid)
    import openvino

    OutOfOrderQueue.calls = []
    monkeypatch.setattr(openvino, "AsyncInferQueue", OutOfOrderQueue)
    scrambled = encode(frames, models, grid)
    batches = [ks for ks, _started in OutOfOrderQueue.calls]
    assert [k for ks in batches for k in ks] == list(range(48))
    assert {len(ks) for ks in batches} == {models.encoder_batch} == {FILE_BATCH}  # files go in batches
    np.testing.assert_allclose(scrambled.embeddings, expected.embeddings, atol=1e-5)
    # and they really are per-frame: embedding k carries frame k's colour (B mean in feature 0)
    np.testing.assert_allclose(scrambled.embeddings[:, 0], shades[:, 0] / 255, atol=0.01)


def test_embeddings_land_in_grid_order_when_real_requests_complete_out_of_order(models, monkeypatch):
    """OpenVINO's own queue and threads; the first and the third batch finish after the batch that follows each."""
    import openvino

    from actionrec.pipeline import preprocess
    from tests.support.held_requests import MARK_G, CompletionLog, gated_models

    log = CompletionLog()
    rng = np.random.default_rng(1)
    shades = np.column_stack([rng.integers(0, 255, 40), rng.integers(0, MARK_G, 40), rng.integers(0, 255, 40)])
    b = models.encoder_batch
    assert b > 1
    # Marked samples: the request carrying sample 0 finishes after the one carrying b, 2b's after 3b's.
    shades[0, 1] = log.hold_until(lambda userdata: userdata[0][0] == b)
    shades[2 * b, 1] = log.hold_until(lambda userdata: userdata[0][0] == 3 * b)
    frames = frames_of((np.full((64, 64, 3), s, np.uint8), i / 16) for i, s in enumerate(shades))  # one per sample
    monkeypatch.setattr(openvino, "AsyncInferQueue", log.queue_class())
    gated = gated_models(models, log)
    encoded = encode(frames, gated, Recognizer(gated).grid)
    first_samples = [ks[0] for ks, _started in log.completed]
    assert (log.held, log.timed_out) == (2, 0)
    assert sorted(first_samples) == list(range(0, 40, b))
    assert first_samples.index(b) < first_samples.index(0) and first_samples.index(3 * b) < first_samples.index(2 * b)
    # independent: each frame through the encoder on its own, in frame order
    one_by_one = np.stack([models.encoder(preprocess(f.image_bgr).tensor)[0].reshape(-1) for f in frames])
    np.testing.assert_allclose(encoded.embeddings, one_by_one, atol=1e-5)
    np.testing.assert_allclose(encoded.embeddings[:, 0], shades[:, 0] / 255, atol=0.01)  # frame k's B


@pytest.mark.parametrize("count", [1, 5, 50])  # one sample, one padded batch, 6 full batches + a padded one
def test_batched_embeddings_equal_one_sample_at_a_time(models, count):
    rng = np.random.default_rng(count)
    shades = rng.integers(0, 255, (count, 3))
    frames = frames_of((np.full((64, 64, 3), s, np.uint8), i / 16) for i, s in enumerate(shades))
    grid = Recognizer(models).grid
    batched = encode(frames, models, grid)
    single = dataclasses.replace(models, encoder_batch=1)
    one_by_one = encode(frames, single, grid)
    assert batched.num_samples == count
    np.testing.assert_allclose(batched.embeddings, one_by_one.embeddings, atol=1e-6)
    np.testing.assert_allclose(batched.embeddings[:, 8], shades[:, 2] / 255, atol=0.01)  # R, top-left


def test_encoder_with_a_fixed_batch_runs_one_sample_per_request(tmp_path, tiny_labels_file, video_factory):
    """An IR with batch 1 written into its graph cannot take batches: it still analyses files."""
    root = write_model_dir(tmp_path / "fixed", precisions=("FP32",), fixed_batch=True)
    files = resolve_model(precision="FP32", model_dir=root, labels=tiny_labels_file)
    fixed = compile_models(files, cache_dir=tmp_path, hint="THROUGHPUT")
    assert fixed.encoder_batch == 1
    path = video_factory(
        "fixed_batch.mp4", fps=30, duration_s=2.0, size_wh=(160, 120), paint=solid((200, 30, 30)), stamp_index=False
    )
    timeline = Recognizer(fixed).analyze(path, progress=False, cache=False)
    assert timeline.predictions[0].labels[0] == "blue"


def test_encoder_that_mixes_the_samples_of_a_batch_is_not_batched(tmp_path, tiny_labels_file):
    """Shapes allow a batch, results do not: a softmax across the batch axis couples the samples."""
    import openvino as ov
    import openvino.opset13 as ops

    root = write_model_dir(tmp_path / "mixing", precisions=("FP32",))
    x = ops.parameter([1, 3, 224, 224], ov.Type.f32, name="0")
    pooled = ops.avg_pool(x, [112, 112], [0, 0], [0, 0], [112, 112], exclude_pad=True)
    flat = ops.softmax(ops.reshape(pooled, ops.constant(np.array([0, 12], np.int64)), True), 0)
    emb = ops.matmul(flat, ops.constant(np.eye(12, 512, dtype=np.float32)), False, False)
    out = ops.reshape(emb, ops.constant(np.array([0, 512, 1, 1], np.int64)), True)
    xml = root / "action-recognition-0001-encoder" / "FP32" / "action-recognition-0001-encoder.xml"
    ov.save_model(ov.Model([out], [x], "mixing-encoder"), str(xml), compress_to_fp16=False)
    files = resolve_model(precision="FP32", model_dir=root, labels=tiny_labels_file)
    assert compile_models(files, cache_dir=tmp_path, hint="THROUGHPUT", encoder_batch=FILE_BATCH).encoder_batch == 1


def test_only_file_models_on_a_cpu_batch_the_encoder(tiny_model_dir, tiny_labels_file, tmp_path):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    assert compile_models(files, cache_dir=tmp_path, hint="LATENCY", encoder_batch=FILE_BATCH).encoder_batch == 1
    throughput = compile_models(files, cache_dir=tmp_path, hint="THROUGHPUT", encoder_batch=FILE_BATCH)
    assert throughput.encoder_batch == FILE_BATCH > 1
    x = np.zeros((1, 3, 224, 224), np.float32)
    x[0, 1] = 255
    assert throughput.encoder(x)[0].shape == (1, 512, 1, 1)  # single frames still work


def test_each_sampled_frame_encoded_once(models, monkeypatch):
    frames = frames_of((np.full((32, 32, 3), i, np.uint8), i / 8) for i in range(40))  # 8 fps < grid
    import openvino

    OutOfOrderQueue.calls = []
    monkeypatch.setattr(openvino, "AsyncInferQueue", OutOfOrderQueue)
    rec = Recognizer(models, options=RecognizerOptions(stride_s=0.0625))  # maximal overlap
    encoded = encode(frames, models, rec.grid)
    distinct = len(set(encoded.frame_indices.tolist()))
    encoded_ks = [k for ks, _started in OutOfOrderQueue.calls for k in ks]
    assert len(encoded_ks) == len(set(encoded_ks)) == distinct == int((~encoded.duplicated).sum())
    assert encoded.duplicated.sum() > 0


def test_too_short_clip_is_a_clear_error(models, video_factory):
    path = video_factory("three.mp4", fps=30, duration_s=0.1, size_wh=(64, 48))
    with pytest.raises(ClipTooShortError, match=r"too short: 3 frames cover 0.07 s, but one window needs 16 samples"):
        Recognizer(models).analyze(path, progress=False, cache=False)


def test_embedding_cache_reuses_encoder_work(models, video_factory, monkeypatch, tmp_path):
    path = video_factory("cache.mp4", fps=30, duration_s=3.0, size_wh=(96, 64))
    first = Recognizer(models, options=RecognizerOptions(stride_s=0.5)).analyze(path, progress=False)
    cache_dir = tmp_path / "repo" / "data" / "cache"
    embeddings = [f for f in cache_dir.glob("*.npz") if not f.name.endswith(".decoded.npz")]
    assert len(embeddings) == 1
    assert [f.name for f in cache_dir.glob("*.decoded.npz")] == [f"{embeddings[0].stem}.s8.decoded.npz"]

    def no_encoding(*a, **k):
        raise AssertionError("the encoder ran although the embeddings are cached")

    monkeypatch.setattr(FileEncoder, "run", no_encoding)
    again = Recognizer(models, options=RecognizerOptions(stride_s=0.25, top_k=2)).analyze(path, progress=False)
    assert len(again) == 2 * len(first) - 1
    by_start = {p.start_s: p for p in again.predictions}
    for p in first.predictions:
        assert by_start[p.start_s].labels == p.labels[:2]


def test_interrupt_stops_the_reader_thread(models, tmp_path):
    """(That an interrupted analysis writes no embedding cache is test_interrupts.py's.)"""

    def frames():
        for i in range(200):
            if i == 40:
                raise KeyboardInterrupt
            yield SimpleNamespace(image_bgr=np.zeros((32, 32, 3), np.uint8), index=i, timestamp_s=i / 30)

    with pytest.raises(KeyboardInterrupt):
        encode(frames(), models, Recognizer(models).grid)
    assert not [t for t in threading.enumerate() if t.name == "actionrec-reader"]


def test_a_bad_frame_mid_file_raises_cleanly_every_time(models):
    """An error mid-analysis must not leave inference requests running (OpenVINO would abort)."""

    def frames():
        for i in range(120):
            shape = (48, 64) if i == 60 else (48, 64, 3)  # frame 60 is greyscale
            yield SimpleNamespace(image_bgr=np.zeros(shape, np.uint8), index=i, timestamp_s=i / 30)

    grid = Recognizer(models).grid
    for _ in range(5):
        with pytest.raises(ValueError, match="expected an H x W x 3 uint8 BGR image"):
            encode(frames(), models, grid)
    assert not [t for t in threading.enumerate() if t.name == "actionrec-reader"]


def test_bounded_analysis_ignores_the_cache_of_the_whole_file(models, video_factory):
    path = video_factory("bounded.mp4", fps=30, duration_s=4.0, size_wh=(96, 64))
    whole = Recognizer(models).analyze(path, progress=False)
    bounded = Recognizer(models).analyze(path, progress=False, max_seconds=1.5)
    assert len(whole) == 7 and len(bounded) == 2 and bounded.duration_s <= 1.5


def test_cache_is_per_encoder_files_and_reports_the_current_name(
    models, tiny_model_dir, tiny_labels_file, video_factory, tmp_path, monkeypatch
):
    import shutil

    path = video_factory("cache_key.mp4", fps=30, duration_s=2.0, size_wh=(96, 64))
    Recognizer(models).analyze(path, progress=False)
    copy = shutil.copy(path, tmp_path / "renamed copy.mp4")
    assert Recognizer(models).analyze(copy, progress=False).source == str(copy)  # cached bytes, new name
    other_dir = shutil.copytree(tiny_model_dir, tmp_path / "other_models")  # same names, other files
    other = compile_models(
        resolve_model(precision="FP32", model_dir=other_dir, labels=tiny_labels_file), cache_dir=tmp_path / "cc"
    )
    calls = []
    real = FileEncoder.run
    monkeypatch.setattr(FileEncoder, "run", lambda *a, **k: calls.append(1) or real(*a, **k))
    Recognizer(other).analyze(path, progress=False)
    assert calls == [1], "embeddings of another encoder were reused"


def test_the_frame_filter_given_at_open_changes_no_embedding(models, video_factory):
    """Files open with the encoder's frame filter: 40 % of a 30 fps file is never converted, same result."""
    from actionrec.video import open_video

    path = video_factory("filter_30.mp4", fps=30, duration_s=2.5, size_wh=(160, 120), paint=noise_paint)
    rec = Recognizer(models, file_decoder="opencv")  # the OpenCV path (tests/test_sampled_decode.py: the other)
    filtered = rec.encode(path, progress=False)
    encoder = FileEncoder(models, rec.grid, progress=False)
    with open_video(path, progress=False, frame_filter=encoder.frame_filter) as video:  # what encode() does
        assert encoder.run(video, source="x", stats=video.stats).num_samples == filtered.num_samples
    assert video.stats.frames_skipped == 28  # 30 fps on a 16/s grid: 2 in 5 after the warm-up
    with open_video(path, progress=False) as video:  # no filter: every frame converted and pushed
        unfiltered = FileEncoder(models, rec.grid, progress=False).run(video, source="x", stats=video.stats)
    assert video.stats.frames_skipped == 0
    assert filtered.frames_decoded == unfiltered.frames_decoded == 75
    np.testing.assert_array_equal(filtered.frame_indices, unfiltered.frame_indices)
    np.testing.assert_array_equal(filtered.duplicated, unfiltered.duplicated)
    np.testing.assert_allclose(filtered.embeddings, unfiltered.embeddings, atol=1e-6)
    assert filtered.duration_s == unfiltered.duration_s and filtered.t0_s == unfiltered.t0_s
    assert filtered.timings.decode_ms > 0 and filtered.timings.encoder_ms > 0 and filtered.timings.decoder_ms == 0


def noise_paint(index, t, image):
    image[:] = np.random.default_rng(index).integers(0, 256, (1, 1, 3), np.uint8)


def test_a_file_encoder_encodes_one_source(models):
    frames = frames_of((np.full((32, 32, 3), 9, np.uint8), i / 16) for i in range(20))
    encoder = FileEncoder(models, Recognizer(models).grid, progress=False)
    assert encoder.run(frames, source="x").num_samples == 20
    with pytest.raises(RuntimeError, match=r"^a FileEncoder encodes one source; make a new one for the next$"):
        encoder.run(frames, source="x")


def test_max_seconds_bounds_the_encoded_span(models):
    frames = frames_of((np.full((32, 32, 3), 9, np.uint8), i / 16) for i in range(64))
    encoded = encode(frames, models, Recognizer(models).grid, max_seconds=1.0)
    assert encoded.num_samples == 17 and encoded.duration_s == 1.0 and encoded.frames_decoded == 18


def test_only_existing_local_files_are_cacheable(models, video_factory, tmp_path, monkeypatch, http_server):
    from actionrec.pipeline import EmbeddingCache

    grid = Recognizer(models).grid
    path = video_factory("cacheable.mp4", fps=10, duration_s=1.0)
    url = http_server.add("c.mp4", path.read_bytes())
    generator = iter([np.zeros((8, 8, 3), np.uint8)])
    for source in (0, "1", url, "rtsp://cam/s", generator, path.parent, tmp_path / "missing.mp4", b"bytes", 3.5):
        assert EmbeddingCache.for_source(source, models=models, grid=grid) is None, source
    assert http_server.requests == [] and next(generator).shape == (8, 8, 3)  # nothing fetched or consumed
    entry = EmbeddingCache.for_source(path, models=models, grid=grid)
    assert entry is not None and entry.source == str(path) and entry.load() is None
    monkeypatch.chdir(path.parent)  # a relative path is the same file, hence the same entry
    same = EmbeddingCache.for_source(path.name, models=models, grid=grid)
    assert same is not None and same.path == entry.path


def test_encoded_video_npz_round_trip_keeps_the_cache_layout(models, tmp_path):
    import json
    import zipfile

    from actionrec.pipeline.encoded import FORMAT_VERSION, EncodedVideo, UnusableEntryError
    from actionrec.results import StageTimings

    n = 5
    encoded = EncodedVideo(
        source="a.mp4",
        embeddings=np.arange(n * 4, dtype=np.float32).reshape(n, 4),
        frame_times_s=np.arange(n) / 16,
        frame_indices=np.arange(n, dtype=np.int64),
        duplicated=np.array([False, False, True, False, False]),
        t0_s=0.5,
        step_s=1 / 16,
        frames_decoded=9,
        frames_corrupt=1,
        truncated=False,
        duration_s=0.25,
        timings=StageTimings(decode_ms=1.5, preprocess_ms=0.5, encoder_ms=3.0),
        crop_xywh=(10, 0, 120, 120),
        size_wh=(140, 120),
    )
    path = encoded.to_npz(tmp_path / "deep" / "e.npz", key={"content": "abc"})
    assert [p.name for p in path.parent.iterdir()] == ["e.npz"]  # written through a temp file, renamed
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == sorted(
            f"{k}.npy" for k in ("meta", "embeddings", "frame_times_s", "frame_indices", "duplicated", "encoded")
        )
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
    assert meta["stage_ms"] == {"decode": 1.5, "preprocess": 0.5, "encoder": 3.0} and meta["key"] == {"content": "abc"}
    assert meta["format"] == FORMAT_VERSION
    with pytest.raises(UnusableEntryError, match="stored under other key facts"):
        EncodedVideo.from_npz(path, source="a.mp4", key={"content": "xyz"})
    again = EncodedVideo.from_npz(path, source="renamed.mp4", key={"content": "abc"}, embedding_dim=4, step_s=1 / 16)
    assert again.source == "renamed.mp4" and again.timings == encoded.timings
    for name in ("embeddings", "frame_times_s", "frame_indices", "duplicated", "encoded"):
        np.testing.assert_array_equal(getattr(again, name), getattr(encoded, name))
    assert (again.t0_s, again.step_s, again.frames_decoded, again.frames_corrupt, again.duration_s) == (
        0.5,
        1 / 16,
        9,
        1,
        0.25,
    )
    assert (again.crop_xywh, again.size_wh, again.truncated) == ((10, 0, 120, 120), (140, 120), False)


def test_on_progress_reports_frames_and_its_exception_stops_the_analysis(models, video_factory, tmp_path):
    path = video_factory("progress.mp4", fps=25, duration_s=4.0, size_wh=(96, 64))
    seen: list[tuple[int, int | None]] = []

    class StopError(Exception):
        pass

    def report(done: int, total: int | None) -> None:
        seen.append((done, total))
        if len(seen) == 2:
            raise StopError  # a cooperative cancel, as the notebook's upload panel does

    with pytest.raises(StopError):
        Recognizer(models).analyze(path, progress=False, on_progress=report)
    assert [total for _, total in seen] == [100, 100] and 0 < seen[0][0] < seen[1][0] <= 100
    assert not [t for t in threading.enumerate() if t.name == "actionrec-reader"]
    assert not list((tmp_path / "repo" / "data" / "cache").glob("*"))  # nothing cached of a stopped run
    timeline = Recognizer(models).analyze(path, progress=False, on_progress=lambda *a: None)
    assert len(timeline) > 0  # and it runs to the end when nothing raises


def test_the_encoder_batch_follows_the_cpu_rule_unless_given(tiny_model_dir, tiny_labels_file, tmp_path, monkeypatch):
    from actionrec.models import INT8_FILE_BATCH, cpu_file_batch, runtime

    # AVX-512: batching pays, and 8 costs 24-46 MB more than 4 (over the 400 MB FP16 budget with AMX);
    # AVX2 only: the same throughput at batch 1, for ~90 MB less memory
    assert cpu_file_batch({"AVX2": True, "AVX512F": True}) == FILE_BATCH == 4
    assert cpu_file_batch({"AVX2": True, "AVX512F": True}, precision="FP32") == 4
    # an INT8 IR: batch 8 gains nothing over 2 there and overshoots its 330 MB budget
    assert cpu_file_batch({"AVX2": True, "AVX512F": True}, precision="FP16-INT8") == INT8_FILE_BATCH == 2
    assert cpu_file_batch({"AVX2": True, "AVX512F": False}) == 1
    assert cpu_file_batch({"AVX2": True, "AVX512F": False}, precision="FP16-INT8") == 1
    assert cpu_file_batch({}) == 1
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    asked = []
    # what this CPU's rule says, for the precision of the files compiled
    monkeypatch.setattr(runtime, "cpu_file_batch", lambda *, precision: asked.append(precision) or 4)
    assert compile_models(files, cache_dir=tmp_path, hint="THROUGHPUT").encoder_batch == 4
    assert asked == ["FP32"]
    assert compile_models(files, cache_dir=tmp_path, hint="THROUGHPUT", encoder_batch=2).encoder_batch == 2
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match=r"encoder_batch=.* must be >= 1 samples per request"):
            compile_models(files, cache_dir=tmp_path, hint="THROUGHPUT", encoder_batch=bad)


def test_progress_reaches_the_download_of_a_url_too(models, video_factory, http_server, capfd):
    """encode(url, progress=False) prints nothing; progress=True shows the download bar and the frames bar."""
    path = video_factory("url_progress.mp4", fps=10, duration_s=2.0, size_wh=(160, 120))
    recognizer = Recognizer(models)
    capfd.readouterr()
    recognizer.encode(http_server.add("quiet.mp4", path.read_bytes()), progress=False)
    assert capfd.readouterr().err == ""
    recognizer.encode(http_server.add("loud.mp4", path.read_bytes()), progress=True)
    err = capfd.readouterr().err
    assert re.search(r"loud\.mp4: 100%.*B/s", err), err  # the download, in bytes
    assert re.search(r"frame/s", err), err  # then the frames


@needs_smaps
def test_a_files_rows_stay_out_of_memory_through_the_decoder_and_the_cache(
    models, video_factory, monkeypatch, tmp_path
):
    """Recognizer.encode leaves the rows in their temporary file; the decoder and the cache writer read them
    a block at a time and hand each back, so neither brings a long video's embeddings into memory at once."""
    from actionrec.pipeline import files

    path = video_factory("long_rows.mp4", fps=16, duration_s=70.0, size_wh=(64, 48))  # 1,120 samples: mapped
    rec = Recognizer(models)
    encoded = rec.encode(path, progress=False)
    emb = encoded.embeddings
    assert encoded.num_samples >= 1100 and resident_kb(emb) == 0
    resident_at_start: list[int] = []
    start_async = files.InferJobs.start_async

    def measured(jobs, inputs, userdata=None):
        resident_at_start.append(resident_kb(emb))
        return start_async(jobs, inputs, userdata)

    monkeypatch.setattr(files.InferJobs, "start_async", measured)
    timeline = rec.decode(encoded)
    block_kb = 256 * models.embedding_dim * 4 // 1024
    assert len(resident_at_start) == len(timeline.predictions) and max(resident_at_start) <= 2 * block_kb
    assert resident_kb(emb) == 0
    encoded.to_npz(tmp_path / "rows.npz")
    assert resident_kb(emb) == 0
    stored = EncodedVideo.from_npz(tmp_path / "rows.npz", source=encoded.source)
    assert np.array_equal(stored.embeddings, emb) and np.array_equal(stored.frame_times_s, encoded.frame_times_s)


def test_the_timeline_names_the_decoder_device_apart_from_the_encoder_one(models, video_factory):
    """Models whose decoder is said to run elsewhere (here only the name: no GPU on the test machines)."""
    path = video_factory("device.mp4", fps=10, duration_s=2.0, size_wh=(160, 120))
    split = dataclasses.replace(models, decoder_device="GPU")
    timeline = Recognizer(split).analyze(path, progress=False, cache=False)
    assert (timeline.device, timeline.decoder_device) == ("CPU", "GPU")
