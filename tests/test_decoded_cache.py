"""Decoder outputs per window: the pooled feature is the real one, and re-analysis runs no model.

The decoder's outputs (logits and the pooled feature) are cached beside the embeddings per stride,
so another top-k, smoothing, threshold or head runs no inference at all, and a new stride runs only
the decoder.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
from support.tiny_models import build_decoder

from actionrec.models import resolve_model
from actionrec.models.runtime import compile_models, feature_output
from actionrec.pipeline import EmbeddingCache, FileEncoder, Recognizer, RecognizerOptions
from actionrec.pipeline import files as pipeline_files
from actionrec.pipeline.decoded import DecodedWindows
from actionrec.results import softmax


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT")


@pytest.fixture
def runs(monkeypatch):
    """How many times the encoder and the decoder ran."""
    counts = {"encoder": 0, "decoder": 0}
    real_encode, real_decode = FileEncoder.run, pipeline_files.run_decoder

    def encode(*a, **k):
        counts["encoder"] += 1
        return real_encode(*a, **k)

    def decode(*a, **k):
        counts["decoder"] += 1
        return real_decode(*a, **k)

    monkeypatch.setattr(FileEncoder, "run", encode)
    monkeypatch.setattr(pipeline_files, "run_decoder", decode)
    return counts


class Head:
    """A head of two classes: the model's class 'red' against everything else."""

    name = "red or not"
    labels = ("red", "not red")

    def check_models(self, models):
        assert "red" in models.labels

    def probabilities(self, logits, features):
        p = softmax(logits)[:, 2]
        return np.stack([p, 1 - p], axis=1)


def test_the_pooled_feature_is_the_mean_over_time_of_what_feeds_the_classifier(models, video_factory):
    """The tiny decoder's hidden state is [x_t, s_t * x_t] (s_t = -1 then +1): check it from the embeddings."""
    path = video_factory("reddening.mp4", fps=32, duration_s=3.0, size_wh=(64, 48), paint=_reddening, stamp_index=False)
    recognizer = Recognizer(models, options=RecognizerOptions(stride_s=0.5))
    encoded = recognizer.encode(path, progress=False)
    decoded = recognizer.decode_windows(encoded)
    assert models.feature_name == "670" and models.feature_dim == 2 * models.embedding_dim
    assert decoded.features.shape == (decoded.num_windows, 2 * models.embedding_dim)
    half = models.clip_len // 2
    sign = np.where(np.arange(models.clip_len) < half, -1.0, 1.0)[:, None]
    for w in range(decoded.num_windows):
        ks = recognizer.grid.window_samples(w)
        x = encoded.embeddings[ks.start : ks.stop].astype(np.float64)
        expected = np.concatenate([x.mean(axis=0), (sign * x).mean(axis=0)])
        np.testing.assert_allclose(decoded.features[w], expected, atol=1e-5)
    # the video grows redder: the signed (change over time) red features are positive
    red_change = decoded.features[:, models.embedding_dim + 8 : models.embedding_dim + 12]
    assert (red_change > 0.01).all(), red_change


def _reddening(i, t, img):
    img[:] = (40, 40, min(255, int(40 + 70 * t)))


def test_the_feature_tensor_is_found_by_structure_not_by_name():
    import openvino as ov

    decoder = build_decoder()
    decoder.get_ops()  # the Add feeding the last MatMul is named "670"; rename it: it is still found
    for op in decoder.get_ops():
        if op.get_friendly_name() == "670":
            op.set_friendly_name("hidden state")
    found = feature_output(decoder)
    assert found is not None and found.get_node().get_friendly_name() == "hidden state"
    assert list(found.get_partial_shape().to_shape()) == [1, 16, 1024]
    # a decoder without a MatMul before its output has no such tensor
    x = ov.opset13.parameter([1, 16, 512], ov.Type.f32, name="0")
    flat = ov.Model([ov.opset13.reduce_mean(x, ov.opset13.constant(np.array([1], np.int64)), False)], [x], "pool")
    assert feature_output(flat) is None


def test_another_top_k_smoothing_or_head_runs_no_inference(models, video_factory, runs):
    path = video_factory("mixed.mp4", fps=30, duration_s=4.0, size_wh=(96, 64), paint=_reddening)
    first = Recognizer(models, options=RecognizerOptions(stride_s=0.5)).analyze(path, progress=False)
    assert runs == {"encoder": 1, "decoder": 1}
    again = Recognizer(models, options=RecognizerOptions(stride_s=0.5, top_k=2, smoothing=3), head=Head()).analyze(
        path, progress=False
    )
    assert runs == {"encoder": 1, "decoder": 1}, "a cached analysis ran a model again"
    assert again.labels == ("red", "not red") and again.head == "red or not" and again.smoothing == 3
    assert len(again) == len(first)
    # the head read the same logits: its "red" score is the model's red probability, centred-smoothed
    red = np.array([p.probs[2] for p in first.predictions])
    smoothed = [red[max(0, i - 1) : i + 2].mean() for i in range(len(red))]
    got = [p.probs[0] for p in again.predictions]
    np.testing.assert_allclose(got, smoothed, atol=1e-6)


def test_a_new_stride_runs_only_the_decoder_and_is_cached_too(models, video_factory, runs):
    path = video_factory("stride.mp4", fps=30, duration_s=4.0, size_wh=(96, 64))
    Recognizer(models, options=RecognizerOptions(stride_s=0.5)).analyze(path, progress=False)
    quarter = Recognizer(models, options=RecognizerOptions(stride_s=0.25))
    quarter.analyze(path, progress=False)
    assert runs == {"encoder": 1, "decoder": 2}
    quarter.analyze(path, progress=False)
    assert runs == {"encoder": 1, "decoder": 2}
    entry = EmbeddingCache.for_source(path, models=models, grid=quarter.grid)
    names = sorted(p.name for p in entry.path.parent.iterdir())
    assert names == sorted([entry.path.name, f"{entry.path.stem}.s4.decoded.npz", f"{entry.path.stem}.s8.decoded.npz"])


def test_decoder_outputs_of_another_decoder_are_not_reused(models, video_factory, runs):
    path = video_factory("decoder-id.mp4", fps=30, duration_s=2.0, size_wh=(96, 64))
    Recognizer(models).analyze(path, progress=False)
    other = dataclasses.replace(models, decoder_id="another decoder")
    Recognizer(other).analyze(path, progress=False)
    assert runs == {"encoder": 1, "decoder": 2}  # same embeddings, the other decoder's own outputs


@pytest.mark.parametrize("damage", ["cut off", "logits of another size", "another version"])
def test_a_damaged_decoder_entry_is_rebuilt_by_the_decoder_alone(damage, models, video_factory, runs, caplog):
    path = video_factory("damaged-decoded.mp4", fps=30, duration_s=2.0, size_wh=(96, 64))
    recognizer = Recognizer(models)
    first = recognizer.analyze(path, progress=False)
    entry = EmbeddingCache.for_source(path, models=models, grid=recognizer.grid)
    decoded_path = entry.decoded_path(recognizer.grid)
    stored = DecodedWindows.from_npz(decoded_path, source="x")
    if damage == "cut off":
        decoded_path.write_bytes(decoded_path.read_bytes()[:200])
    elif damage == "logits of another size":
        dataclasses.replace(stored, logits=stored.logits[:, :-1]).to_npz(decoded_path, key=None)
    else:
        import json
        import zipfile

        with zipfile.ZipFile(decoded_path) as z:
            meta = json.loads(str(np.load(z.open("meta.npy"))))
        meta["format"] = 99
        with np.load(decoded_path) as z:
            arrays = {n: z[n] for n in z.files if n != "meta"}
        with open(decoded_path, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
    with caplog.at_level(logging.WARNING, logger="actionrec.pipeline.cache"):
        again = recognizer.analyze(path, progress=False)
    assert runs == {"encoder": 1, "decoder": 2}
    assert f"ignoring decoder-output cache entry {decoded_path}" in caplog.text
    assert [p.labels for p in again.predictions] == [p.labels for p in first.predictions]
    assert DecodedWindows.from_npz(decoded_path, source="x").logits.shape == stored.logits.shape


def test_a_truncated_file_caches_neither_embeddings_nor_decoder_outputs(models, video_factory, monkeypatch, tmp_path):
    path = video_factory("short-by-the-container.mp4", fps=30, duration_s=2.0, size_wh=(96, 64))
    real = Recognizer.encode

    def truncated(self, *a, **k):
        return dataclasses.replace(real(self, *a, **k), truncated=True)

    monkeypatch.setattr(Recognizer, "encode", truncated)
    timeline = Recognizer(models).analyze(path, progress=False)
    assert timeline.truncated
    cache_dir = tmp_path / "repo" / "data" / "cache"
    assert not cache_dir.exists() or not list(cache_dir.iterdir())


def test_the_live_recognizer_reads_the_feature_output_for_a_head(models, tiny_model_dir, tiny_labels_file, tmp_path):
    from types import SimpleNamespace

    from actionrec.pipeline import LiveRecognizer

    class FeatureHead:
        name = "brightening or not"
        labels = ("brightening", "steady")

        def check_models(self, models):
            assert models.feature_dim

        def probabilities(self, logits, features):
            change = features[:, models.embedding_dim : models.embedding_dim + 12].mean(axis=1)
            p = 1 / (1 + np.exp(-200 * change))
            return np.stack([p, 1 - p], axis=1)

    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    live_models = compile_models(files, hint="LATENCY", cache_dir=tmp_path / "cc")
    with LiveRecognizer(live_models, head=FeatureHead(), max_in_flight=1) as live:
        predictions = []
        for i in range(64):
            level = min(255, 20 + 4 * i)
            frame = SimpleNamespace(image_bgr=np.full((48, 64, 3), level, np.uint8), index=i, timestamp_s=i / 16)
            live.push(frame)
            live._jobs.wait_all()  # one sample at a time: every sample is encoded (the async path is test_live's)
            if (p := live.poll()) is not None:
                predictions.append(p)
    assert predictions and all(p.labels[0] == "brightening" for p in predictions)
