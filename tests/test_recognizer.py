"""What :class:`Recognizer` hands back: every source fact, setting and figure passed through.

The end-to-end tests (test_pipeline.py) check the windows against an oracle; these check the rest of
what a user reads from a result: the facts of the source (corrupt frames, truncation, duration,
crop) carried from the embeddings to the decoder outputs and the timeline, the decoder's timing
figure (with an injected clock), the error texts, the defaults of the public verbs (progress bars
and the cache on), and a head's outputs read the way the head says.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from actionrec.errors import ClipTooShortError, HeadMismatchError, ModelOutputError
from actionrec.models import resolve_model
from actionrec.models.runtime import compile_models
from actionrec.pipeline import EmbeddingCache, Recognizer, RecognizerOptions
from actionrec.pipeline import files as pipeline_files
from actionrec.pipeline.encoded import EncodedVideo
from actionrec.results import StageTimings, softmax


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT")


def red_then_blue(index, t, img):
    img[:] = (30, 30, 220) if t < 1.5 else (220, 30, 30)


def synthetic_encoded(models, *, samples, t0_s=2.0, duplicated=(), **facts):
    """Embeddings of ``samples`` grid samples from ``t0_s`` (no video): every source fact chosen here."""
    grid = Recognizer(models).grid
    rng = np.random.default_rng(7)
    dup = np.zeros(samples, bool)
    dup[list(duplicated)] = True
    return EncodedVideo(
        source="synthetic.mp4",
        embeddings=rng.uniform(0, 1, (samples, models.embedding_dim)).astype(np.float32),
        frame_times_s=t0_s + np.arange(samples) * grid.step_s,
        frame_indices=np.arange(samples),
        duplicated=dup,
        t0_s=t0_s,
        step_s=grid.step_s,
        frames_decoded=samples,
        **facts,
    )


class FakeClock:
    """``time.perf_counter`` for files.py only: the given readings, in order."""

    def __init__(self, *readings):
        self.readings = list(readings)

    def perf_counter(self):
        return self.readings.pop(0)


class SpyHead:
    """Two classes, 'red' against the rest; records what it was checked against and given."""

    name = "red or not"
    labels = ("red", "not red")

    def __init__(self, *, columns=2):
        self.checked = []
        self.given = []
        self.columns = columns

    def check_models(self, models):
        self.checked.append(models)

    def probabilities(self, logits, features):
        self.given.append((logits, features))
        p = softmax(logits)[:, 2]
        out = np.stack([p, 1 - p], axis=1)
        return np.concatenate([out, np.zeros((len(p), self.columns - 2))], axis=1) if self.columns > 2 else out


class RefusingHead(SpyHead):
    def check_models(self, models):
        raise HeadMismatchError(f"head {self.name} cannot read {len(models.labels)} labels")


# -- decoder outputs ---------------------------------------------------------------------------------


def test_decoded_windows_carry_the_source_facts_and_the_decoder_timing(models, monkeypatch):
    timings = StageTimings(decode_ms=1.5, preprocess_ms=2.5, encoder_ms=3.5)
    encoded = synthetic_encoded(
        models,
        samples=40,
        duplicated=(1, 9, 17),
        frames_corrupt=3,
        truncated=True,
        duration_s=2.4375,
        timings=timings,
        crop_xywh=(10, 0, 120, 120),
    )
    recognizer = Recognizer(models)
    windows = recognizer.grid.count_windows(40)
    monkeypatch.setattr(pipeline_files, "time", FakeClock(100.0, 100.0 + 0.012 * windows))
    decoded = recognizer.decode_windows(encoded)
    assert decoded.num_windows == windows == 4
    assert decoded.source == "synthetic.mp4"
    assert (decoded.frames_decoded, decoded.frames_corrupt, decoded.truncated) == (40, 3, True)
    assert decoded.duration_s == 2.4375 and decoded.crop_xywh == (10, 0, 120, 120)
    # the decoder's figure is milliseconds per window; the encoder's stay as they were
    assert dataclasses.replace(decoded.timings, decoder_ms=0.0) == timings
    assert decoded.timings.decoder_ms == pytest.approx(12.0)
    # windows start at the grid's start (t0 = 2 s), 8 samples (0.5 s) apart
    np.testing.assert_allclose(decoded.starts_s, [2.0, 2.5, 3.0, 3.5])
    np.testing.assert_allclose(decoded.ends_s, decoded.starts_s + 1.0)
    # a window counts the duplicated samples after its first: window 0 holds samples 1 and 9 (not 0),
    # window 1 (samples 8-23) holds 9 and 17, window 2 (16-31) holds 17, window 3 (24-39) none
    assert decoded.duplicated.tolist() == [2, 2, 1, 0] and decoded.duplicated.dtype == np.int64
    assert decoded.logits.dtype == np.float32 and decoded.features.dtype == np.float32
    assert decoded.features.shape == (4, models.feature_dim) and np.isfinite(decoded.features).all()


def test_the_timeline_carries_what_ran_and_the_source_facts(models, monkeypatch):
    monkeypatch.setattr(pipeline_files, "time", FakeClock(1.0, 1.5, 1.0, 1.5))  # the same timings twice
    encoded = synthetic_encoded(models, samples=40, frames_corrupt=2, truncated=True, duration_s=2.4375)
    recognizer = Recognizer(models)
    timeline = recognizer.decode(encoded)
    assert timeline.source == "synthetic.mp4" and timeline.labels == models.labels
    assert (timeline.model, timeline.precision, timeline.device) == (models.model, models.precision, models.device)
    assert timeline.model and timeline.precision and timeline.device
    assert (timeline.frames_decoded, timeline.frames_corrupt, timeline.truncated) == (40, 2, True)
    assert timeline.duration_s == 2.4375 and timeline.head == ""
    # decode() is decode_windows() then timeline(): the same predictions
    assert timeline.predictions == recognizer.timeline(recognizer.decode_windows(encoded)).predictions


def test_the_decoder_timing_is_per_window_for_one_window_too(models, monkeypatch):
    encoded = synthetic_encoded(models, samples=16)
    monkeypatch.setattr(pipeline_files, "time", FakeClock(5.0, 5.25))
    decoded = Recognizer(models).decode_windows(encoded)
    assert decoded.num_windows == 1 and decoded.timings.decoder_ms == pytest.approx(250.0)


def test_decoder_requests_are_one_per_window_up_to_the_optimal_number(models, monkeypatch):
    made = []
    real = pipeline_files.InferJobs

    def spy(compiled, requests, callback):
        made.append(requests)
        return real(compiled, requests, callback)

    monkeypatch.setattr(pipeline_files, "InferJobs", spy)
    optimal = int(models.decoder.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    recognizer = Recognizer(models)
    one = recognizer.decode_windows(synthetic_encoded(models, samples=16))  # a 1-window clip still decodes
    many = recognizer.decode_windows(synthetic_encoded(models, samples=16 + 8 * 20))
    assert (one.num_windows, many.num_windows) == (1, 21)
    assert made == [1, min(21, optimal)]


def test_each_window_gets_its_own_decoder_output(models, video_factory):
    clip = video_factory("recognizer_red_then_blue.mp4", fps=25, duration_s=3.0, paint=red_then_blue, stamp_index=False)
    recognizer = Recognizer(models, options=RecognizerOptions(stride_s=0.5))
    decoded = recognizer.analyze_windows(clip, progress=False, cache=False)
    top = [models.labels[i] for i in decoded.logits.argmax(axis=1)]
    assert top[0] == "red" and top[-1] == "blue", top
    assert not np.array_equal(decoded.features[0], decoded.features[-1])


# -- errors ------------------------------------------------------------------------------------------


def test_too_short_clip_message_gives_the_numbers(models, video_factory):
    path = video_factory("recognizer_five.mp4", fps=25, duration_s=0.2, size_wh=(64, 48))
    # frames at 0-0.16 s; the grid's samples at 0, 62.5 and 125 ms take the frames at 0, 0.04 (or 0.08) and 0.12 s
    with pytest.raises(ClipTooShortError) as err:
        Recognizer(models).analyze(path, progress=False, cache=False)
    assert str(err.value) == (
        f"{path} is too short: 5 frames cover 0.12 s, but one window needs 16 samples 62.5 ms apart "
        "(0.94 s of video); use a longer clip"
    )


def test_too_short_embeddings_message_measures_from_the_grid_start(models):
    recognizer = Recognizer(models)
    late = synthetic_encoded(models, samples=6, t0_s=3.0)  # samples 3.0 .. 3.3125 s
    with pytest.raises(ClipTooShortError) as err:
        recognizer.decode_windows(late)
    assert str(err.value) == (
        "synthetic.mp4 is too short: 6 frames cover 0.31 s, but one window needs 16 samples 62.5 ms apart "
        "(0.94 s of video); use a longer clip"
    )
    with pytest.raises(ClipTooShortError) as err:
        recognizer.decode_windows(synthetic_encoded(models, samples=0))
    assert str(err.value).startswith("synthetic.mp4 is too short: 0 frames cover 0.00 s, but")


def test_a_head_of_the_wrong_shape_is_named_in_the_error(models):
    decoded = Recognizer(models).decode_windows(synthetic_encoded(models, samples=24))
    with pytest.raises(ModelOutputError) as err:
        Recognizer(models, head=SpyHead(columns=3)).timeline(decoded)
    assert str(err.value) == "head red or not gave probabilities of shape [2, 3], expected [2, 2]"
    other = dataclasses.replace(
        decoded, logits=decoded.logits[:, :5], features=decoded.features
    )  # logits of a 5-class decoder
    with pytest.raises(ModelOutputError) as err:
        Recognizer(models).timeline(other)
    assert str(err.value) == f"head model gave probabilities of shape [2, 5], expected [2, {len(models.labels)}]"


# -- heads, top-k and smoothing ----------------------------------------------------------------------


def test_the_recognizer_head_is_checked_kept_and_read_with_logits_and_features(models):
    decoded = Recognizer(models).decode_windows(synthetic_encoded(models, samples=40))
    head = SpyHead()
    recognizer = Recognizer(models, head=head)
    assert head.checked == [models] and recognizer.head is head
    timeline = recognizer.timeline(decoded)
    assert head.checked == [models], "the recognizer's own head was checked again"
    assert timeline.labels == ("red", "not red") and timeline.head == "red or not"
    ((logits, features),) = head.given
    assert logits is decoded.logits and features is decoded.features
    # head=None: the model's own classes, whatever the recognizer's head
    model = recognizer.timeline(decoded, head=None)
    assert model.labels == models.labels and model.head == ""


def test_another_head_given_to_timeline_is_checked_and_used(models):
    decoded = Recognizer(models).decode_windows(synthetic_encoded(models, samples=40))
    recognizer = Recognizer(models)
    other = SpyHead()
    timeline = recognizer.timeline(decoded, head=other)
    assert other.checked == [models] and timeline.labels == other.labels and timeline.head == other.name
    with pytest.raises(HeadMismatchError, match="cannot read 400 labels"):
        recognizer.timeline(decoded, head=RefusingHead())


def test_top_k_and_smoothing_given_to_timeline_override_the_options(models):
    decoded = Recognizer(models).decode_windows(synthetic_encoded(models, samples=40))
    recognizer = Recognizer(models, options=RecognizerOptions(top_k=2, smoothing=1))
    default = recognizer.timeline(decoded)
    assert (default.top_k, default.smoothing) == (2, 1) and len(default.predictions[0].labels) == 2
    other = recognizer.timeline(decoded, top_k=4, smoothing=3)
    assert (other.top_k, other.smoothing) == (4, 3) and len(other.predictions[0].labels) == 4


# -- defaults of the public verbs: progress bars and the cache -------------------------------------------


@pytest.fixture
def bars(monkeypatch):
    """``disable`` of every tqdm bar the encoder creates (False: a bar is shown)."""
    import tqdm.auto
    import tqdm.std

    made = []

    class Spy(tqdm.std.tqdm):
        def __init__(self, *a, **k):
            made.append(k.get("disable", False))
            super().__init__(*a, **{**k, "disable": True})

    monkeypatch.setattr(tqdm.auto, "tqdm", Spy)
    return made


@pytest.mark.parametrize("verb", ["analyze", "analyze_windows", "encode"])
def test_progress_bars_are_shown_by_default_and_hidden_on_request(models, video_factory, bars, verb):
    path = video_factory("recognizer_progress.mp4", fps=25, duration_s=1.2, size_wh=(64, 48))
    run = getattr(Recognizer(models), verb)
    kwargs = {} if verb == "encode" else {"cache": False}
    run(path, **kwargs)
    assert bars == [False], "no progress bar by default"
    run(path, progress=True, **kwargs)
    assert bars == [False, False]
    run(path, progress=False, **kwargs)
    assert bars == [False, False, True], "a progress bar with progress=False"


@pytest.mark.parametrize("verb", ["analyze", "analyze_windows"])
def test_the_cache_is_on_by_default_and_off_on_request(models, video_factory, verb):
    path = video_factory(f"recognizer_cache_{verb}.mp4", fps=25, duration_s=1.2, size_wh=(64, 48))
    recognizer = Recognizer(models)
    run = getattr(recognizer, verb)
    store = EmbeddingCache.for_source(path, models=models, grid=recognizer.grid)
    run(path, progress=False, cache=False)
    assert store.load() is None, "cache=False wrote a cache entry"
    run(path, progress=False)
    assert store.load() is not None and store.load_decoded(models=models, grid=recognizer.grid) is not None


def test_a_file_is_converted_only_where_a_grid_sample_can_take_its_frame(models, video_factory, monkeypatch):
    """60 fps against a 16-per-second grid: most frames are decoded but never converted to BGR (both decoders)."""
    opened = []
    real = pipeline_files.open_video

    def spy(*a, **k):
        opened.append(real(*a, **k))
        return opened[-1]

    monkeypatch.setattr(pipeline_files, "open_video", spy)
    path = video_factory("recognizer_60fps.mp4", fps=60, duration_s=1.5, size_wh=(64, 48))
    encoded = Recognizer(models, file_decoder="opencv").encode(path, progress=False)
    stats = opened[0].stats
    assert encoded.frames_decoded == stats.frames_decoded == 90
    assert stats.frames_skipped >= 90 - 2 * encoded.num_samples > 0
    encoded = Recognizer(models).encode(path, progress=False)  # the sampled decode: only the samples' crops
    stats = opened[1].stats
    assert opened[1].info.decoder == "pyav-sampled" and encoded.frames_decoded == stats.frames_decoded == 90
    assert stats.frames_converted == encoded.num_samples < 90


def test_embeddings_missing_samples_of_this_stride_are_refused_with_what_to_do(models):
    partial = dataclasses.replace(synthetic_encoded(models, samples=40), encoded=np.arange(40) != 5)
    with pytest.raises(ValueError) as err:
        Recognizer(models).decode_windows(partial)
    assert str(err.value) == (
        "synthetic.mp4: 1 of the samples the windows of a 0.5 s stride take were not encoded (these embeddings "
        "come from a quick scan with a longer stride); encode the source with this recognizer, or analyze() it: "
        "that encodes only the missing samples"
    )


def test_window_times_are_float64_whatever_number_type_the_grid_start_has(models):
    """A caller's EncodedVideo may carry a NumPy float32 start: times stay float64 (no rounding to 1e-7)."""
    encoded = synthetic_encoded(models, samples=24, t0_s=np.float32(1000.1))
    decoded = Recognizer(models).decode_windows(encoded)
    assert decoded.starts_s.dtype == decoded.ends_s.dtype == decoded.coverage_s.dtype == np.float64
    np.testing.assert_allclose(decoded.starts_s, [float(np.float32(1000.1)), float(np.float32(1000.1)) + 0.5])
