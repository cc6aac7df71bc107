"""Quick scans: a stride longer than the window encodes only the samples some window takes.

Each sample is encoded at most once; the cache entry says which samples it holds, and a later run
with another stride encodes only the ones it lacks. The windows' probabilities are those of a full
encoding (the same samples through the same models), whichever run encoded them.
"""

from __future__ import annotations

import numpy as np
import pytest

from actionrec.models import resolve_model
from actionrec.models.runtime import compile_models
from actionrec.pipeline import EmbeddingCache, Recognizer, RecognizerOptions, SamplingGrid, stages


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT")


@pytest.fixture
def preprocessed(monkeypatch):
    """The grid sample index of every sample sent to the encoder, in order."""
    seen: list[int] = []
    real = stages.EncoderQueue.submit

    def counting(self, tensor, k):
        seen.append(k)
        return real(self, tensor, k)

    monkeypatch.setattr(stages.EncoderQueue, "submit", counting)
    return seen


def _paint(i, t, img):
    img[:] = (round(30 + 25 * t), 0, round(230 - 25 * t))  # red to blue over the clip: windows differ


@pytest.fixture(params=[0.05, 0.13], ids=["20fps", "7.7fps"])
def clip(video_factory, request):
    """At 7.7 fps, slower than the 16 samples/s grid, samples share frames: the first sample of a window
    (at 2 s: the frame at 1.95 s) reuses the frame of a sample no window takes, and must then be
    encoded itself."""
    gap = request.param
    times = [i * gap for i in range(round(8.0 / gap))]
    return video_factory(
        f"quick-scan-ramp-{gap}.mp4", timestamps_s=times, fps=1 / gap, size_wh=(96, 64), paint=_paint, stamp_index=False
    )


def _options(stride_s):
    return RecognizerOptions(stride_s=stride_s, top_k=5)


def _probs(timeline):
    return [dict(zip(p.labels, p.scores, strict=True)) for p in timeline.predictions]


def test_grid_uses_every_sample_unless_the_stride_is_longer_than_the_window():
    full = SamplingGrid(window_s=1.0, clip_len=16, stride_steps=8)
    assert all(full.sample_used(k) for k in range(100))
    scan = SamplingGrid(window_s=1.0, clip_len=16, stride_steps=32)  # 2 s stride, 1 s windows
    assert [k for k in range(70) if scan.sample_used(k)] == [*range(16), *range(32, 48), *range(64, 70)]
    needed = scan.samples_needed(70)  # complete windows only: 0-15, 32-47 (window 2 would need 64-79)
    assert np.flatnonzero(needed).tolist() == [*range(16), *range(32, 48)]


def test_a_two_second_stride_encodes_about_half_the_samples_each_once(models, clip, preprocessed):
    scan = Recognizer(models, options=_options(2.0)).analyze(clip, progress=False, cache=False)
    scanned = len(preprocessed)
    full = Recognizer(models, options=_options(0.5)).encode(clip, progress=False)
    full_requests = len(preprocessed) - scanned  # samples that share a frame share a request
    assert full.num_samples >= 120 and not full.partial
    assert len(set(preprocessed[:scanned])) == scanned  # each sample at most once
    assert 0.4 * full_requests <= scanned <= 0.6 * full_requests, (scanned, full_requests)
    # the scan's windows are the full analysis's windows at that stride, with the same probabilities
    reference = Recognizer(models, options=_options(2.0)).decode(full)
    assert [(p.start_s, p.end_s) for p in scan.predictions] == [(p.start_s, p.end_s) for p in reference.predictions]
    for got, want in zip(_probs(scan), _probs(reference), strict=True):
        assert got.keys() == want.keys() and all(got[k] == pytest.approx(want[k], abs=1e-6) for k in got)


def test_the_cache_keeps_a_partial_entry_and_another_stride_encodes_only_what_is_missing(models, clip, preprocessed):
    scan = Recognizer(models, options=_options(2.0))
    scan.analyze(clip, progress=False)
    first = len(preprocessed)
    store = EmbeddingCache.for_source(clip, models=models, grid=scan.grid)
    entry = store.load()
    assert entry is not None and entry.partial and set(np.flatnonzero(entry.encoded)) >= set(preprocessed)

    dense = Recognizer(models, options=_options(0.5))
    timeline = dense.analyze(clip, progress=False)
    second = preprocessed[first:]
    assert second and not set(second) & set(preprocessed[:first])  # nothing encoded twice
    assert not entry.encoded[second].any()  # only samples the scan lacked
    completed = store.load()
    assert completed is not None and not completed.partial
    # the same windows and probabilities as a fresh, uncached full analysis
    fresh = dense.analyze(clip, progress=False, cache=False)
    for got, want in zip(_probs(timeline), _probs(fresh), strict=True):
        assert got.keys() == want.keys() and all(got[k] == pytest.approx(want[k], abs=1e-6) for k in got)

    before = len(preprocessed)
    Recognizer(models, options=_options(3.0)).analyze(clip, progress=False)  # another scan: all there
    assert len(preprocessed) == before


def test_embeddings_of_a_quick_scan_refuse_a_denser_decode_with_the_fix(models, clip):
    partial = Recognizer(models, options=_options(2.0)).encode(clip, progress=False)
    assert partial.partial
    with pytest.raises(ValueError, match=r"not encoded .*quick scan.*analyze\(\) it: that encodes only the missing"):
        Recognizer(models, options=_options(0.5)).decode(partial)
