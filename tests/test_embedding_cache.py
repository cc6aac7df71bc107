"""The embedding cache trusts nothing it reads: damaged or foreign entries are rebuilt, the key holds every fact."""

from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pytest

from actionrec.models import resolve_model
from actionrec.models.runtime import compile_models, encoder_facts
from actionrec.pipeline import EmbeddingCache, FileEncoder, Recognizer, SamplingGrid
from actionrec.pipeline import cache as cache_module
from actionrec.pipeline.cache import cache_key
from actionrec.pipeline.encoded import FORMAT_VERSION, EncodedVideo
from tests.support.model_facts import fake_models


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT")


@pytest.fixture
def encoder_runs(monkeypatch):
    """How many times the encoder ran (a cache hit runs it 0 times)."""
    runs = []
    real = FileEncoder.run
    monkeypatch.setattr(FileEncoder, "run", lambda *a, **k: runs.append(1) or real(*a, **k))
    return runs


def read_entry(path):
    with np.load(path, allow_pickle=False) as z:
        return json.loads(str(z["meta"])), {name: z[name] for name in z.files if name != "meta"}


def write_entry(path, meta, arrays):
    with open(path, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def _set(name, value):
    def change(meta, arrays):
        meta[name] = value

    return change


def _array(name, make):
    def change(meta, arrays):
        arrays[name] = make(arrays[name])

    return change


def _drop(name):
    def change(meta, arrays):
        del arrays[name]

    return change


def _nan(a):
    a = a.copy()
    a[3, 5] = np.nan
    return a


DAMAGE = {
    # what the old loader did with each: crashed (TypeError/AttributeError), accepted it, or rebuilt it
    "embedding size": (_array("embeddings", lambda a: a[:, :-1]), "features, the encoder gives"),
    "embeddings 1-D": (_array("embeddings", lambda a: a.reshape(-1)), "expected float32 [N, D]"),
    "embeddings float64": (_array("embeddings", lambda a: a.astype(np.float64)), "expected float32 [N, D]"),
    "embeddings NaN": (_array("embeddings", _nan), "NaN or infinity"),
    "frame times shorter": (_array("frame_times_s", lambda a: a[:-1]), "frame_times_s is float64 of shape"),
    "frame times backwards": (_array("frame_times_s", lambda a: a[::-1].copy()), "frame times go backwards"),
    "duplicated as floats": (_array("duplicated", lambda a: a.astype(np.float32)), "duplicated is float32"),
    "frame indices as text": (_array("frame_indices", lambda a: a.astype(str)), "frame_indices is <U"),
    "array missing": (_drop("duplicated"), "holds arrays"),
    "frames_decoded a string": (_set("frames_decoded", "90"), "frames_decoded is '90', expected a finite integer"),
    "truncated a number": (_set("truncated", 0), "truncated is 0, expected true or false"),
    "stage_ms a list": (_set("stage_ms", [1.0, 2.0]), "stage_ms is [1.0, 2.0], expected an object"),
    "crop an int": (_set("crop_xywh", 5), "crop_xywh is 5, expected null or 4 non-negative integers"),
    "size of three": (_set("size_wh", [96, 64, 3]), "size_wh is [96, 64, 3], expected null"),
    "step of another grid": (_set("step_s", 0.05), "samples 0.05 s apart, the grid steps 0.0625 s"),
    "step zero": (_set("step_s", 0), "step_s is 0, expected a positive value"),
    "another format version": (_set("format", FORMAT_VERSION + 1), f"format version {FORMAT_VERSION + 1}, this"),
    "the first format (no version)": (lambda meta, arrays: meta.pop("format"), "format version None, this"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_or_foreign_entry_is_rebuilt_with_the_reason_logged(
    damage, models, video_factory, encoder_runs, caplog
):
    path = video_factory("cached.mp4", fps=30, duration_s=2.0, size_wh=(96, 64))
    recognizer = Recognizer(models)
    first = recognizer.analyze(path, progress=False)
    entry = EmbeddingCache.for_source(path, models=models, grid=recognizer.grid)
    entry.decoded_path(recognizer.grid).unlink()  # the decoder outputs would answer first: test the embeddings
    meta, arrays = read_entry(entry.path)
    change, reason = DAMAGE[damage]
    change(meta, arrays)
    write_entry(entry.path, meta, arrays)
    with caplog.at_level(logging.WARNING, logger="actionrec.pipeline.cache"):
        again = recognizer.analyze(path, progress=False)
    assert encoder_runs == [1, 1], "the damaged entry was used instead of rebuilt"
    assert [p.labels for p in again.predictions] == [p.labels for p in first.predictions]
    assert len(caplog.records) == 1, caplog.text
    message = caplog.records[0].getMessage()
    assert message.startswith(f"ignoring embedding cache entry {entry.path} (") and reason in message, message
    assert message.endswith("; it will be rebuilt")
    caplog.clear()
    assert entry.load() is not None and not caplog.records  # rewritten whole, under the same name
    assert sorted(p.name for p in entry.path.parent.iterdir()) == sorted(
        [entry.path.name, entry.decoded_path(recognizer.grid).name]
    )


@pytest.mark.parametrize("kind", ["cut off", "a .npy", "text"])
def test_a_file_that_is_not_an_npz_is_rebuilt(kind, models, video_factory, encoder_runs, caplog):
    path = video_factory("cached.mp4", fps=30, duration_s=2.0, size_wh=(96, 64))
    recognizer = Recognizer(models)
    recognizer.analyze(path, progress=False)
    entry = EmbeddingCache.for_source(path, models=models, grid=recognizer.grid)
    entry.decoded_path(recognizer.grid).unlink()  # the decoder outputs would answer first: test the embeddings
    if kind == "cut off":  # as by a full disk before writes were atomic
        entry.path.write_bytes(entry.path.read_bytes()[:300])
        reason = "not a readable .npz"
    elif kind == "a .npy":
        with open(entry.path, "wb") as f:
            np.save(f, np.zeros((4, 4), np.float32))
        reason = "a single float32 array, not an .npz"
    else:
        entry.path.write_text("not an array at all\n")
        reason = "not a readable .npz"
    with caplog.at_level(logging.WARNING, logger="actionrec.pipeline.cache"):
        recognizer.analyze(path, progress=False)
    assert encoder_runs == [1, 1] and reason in caplog.text


@pytest.mark.parametrize(
    "change",
    [
        {"inference_precision": "bf16"},  # a CPU that defaults to bf16
        {"hint": "LATENCY"},
        {"encoder_batch": 1},
        {"openvino_version": "2025.3.0-19807"},
        {"execution_devices": ("GPU.0",)},  # what AUTO really chose
        {"device": "CPU"},
        {"precision": "FP16-INT8"},
        {"encoder_id": "/m/enc.xml:1:9|/m/enc.bin:3:4"},
        {"embedding_dim": 256},
        {"input_size_hw": (160, 160)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_fact_that_changes_embeddings_changes_the_key(change):
    grid = SamplingGrid(window_s=1.0, clip_len=16, stride_steps=4)
    base = cache_key(fake_models(), grid, content="c0ffee")
    assert cache_key(fake_models(), grid, content="c0ffee") == base
    assert cache_key(fake_models(**change), grid, content="c0ffee") != base


def test_the_preprocessing_version_grid_content_and_format_are_in_the_key(monkeypatch):
    grid, models = SamplingGrid(window_s=1.0, clip_len=16, stride_steps=4), fake_models()
    base = cache_key(models, grid, content="c0ffee")
    assert base["version"] == FORMAT_VERSION
    assert cache_key(models, grid, content="beef") != base
    assert cache_key(models, dataclasses.replace(grid, window_s=2.0), content="c0ffee") != base
    monkeypatch.setattr(cache_module, "PREPROCESS_VERSION", cache_module.PREPROCESS_VERSION + 1)
    assert cache_key(models, grid, content="c0ffee") != base


def test_an_entry_of_latency_models_is_not_reused_by_throughput_models(
    models, tiny_model_dir, tiny_labels_file, video_factory, encoder_runs, tmp_path
):
    path = video_factory("hint.mp4", fps=30, duration_s=2.0, size_wh=(96, 64))
    latency = compile_models(
        resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file),
        cache_dir=tmp_path / "cc",
        hint="LATENCY",
    )
    Recognizer(latency).analyze(path, progress=False)
    Recognizer(models).analyze(path, progress=False)
    assert encoder_runs == [1, 1]
    embeddings = (tmp_path / "repo" / "data" / "cache").glob("????????????????????????????????.npz")
    assert len(list(embeddings)) == 2


def test_compiled_models_carry_what_really_runs(models):
    import openvino as ov

    assert models.inference_precision in ("f32", "bf16", "f16")
    assert models.execution_devices == ("CPU",) and models.openvino_version == ov.get_version()


class FakeCompiled:
    def __init__(self, **props):
        self.props = props

    def get_property(self, name):
        if name not in self.props:
            raise RuntimeError(f"AUTO: not supported property {name}")
        return self.props[name]


class FakeCore:
    def __init__(self, defaults):
        self.defaults = defaults

    def get_property(self, device, name):
        assert name == "INFERENCE_PRECISION_HINT"
        return self.defaults[device]


def test_encoder_facts_read_the_precision_and_the_device_behind_auto():
    import openvino as ov

    cpu = FakeCompiled(INFERENCE_PRECISION_HINT=ov.Type.bf16, EXECUTION_DEVICES=["CPU"])
    assert encoder_facts(FakeCore({}), cpu) == ("bf16", ("CPU",))
    auto = FakeCompiled(EXECUTION_DEVICES=["GPU.0"])  # AUTO reports no precision of its own
    assert encoder_facts(FakeCore({"GPU.0": ov.Type.f16}), auto) == ("f16", ("GPU.0",))
    assert encoder_facts(FakeCore({}), auto, requested_precision="F32") == ("f32", ("GPU.0",))
    assert encoder_facts(FakeCore({}), FakeCompiled()) == ("unknown", ())


def test_from_npz_is_the_one_loader_and_refuses_another_version(tmp_path):
    n = 3
    encoded = EncodedVideo(
        source="a.mp4",
        embeddings=np.zeros((n, 4), np.float32),
        frame_times_s=np.arange(n) / 16,
        frame_indices=np.arange(n),
        duplicated=np.zeros(n, bool),
        t0_s=0.0,
        step_s=1 / 16,
        frames_decoded=n,
    )
    path = encoded.to_npz(tmp_path / "e.npz", key={"k": 1})
    assert EncodedVideo.from_npz(path, source="b.mp4", key={"k": 1}).source == "b.mp4"
    meta, arrays = read_entry(path)
    write_entry(path, meta | {"format": 1}, arrays)
    with pytest.raises(ValueError, match=f"format version 1, this version reads {FORMAT_VERSION}"):
        EncodedVideo.from_npz(path, source="b.mp4")
