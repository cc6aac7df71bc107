"""A long video in chunks of windows (actionrec.pipeline.chunks) equals its unsplit analysis; the cache fills per chunk.

No Ray here: the chunks run one after another in this process, as Ray's workers run them
(tests/test_distributed.py runs them on Ray).
"""

from __future__ import annotations

import numpy as np
import pytest

from actionrec.models.files import resolve_model
from actionrec.models.runtime import compile_models
from actionrec.pipeline import Recognizer, RecognizerOptions, analyze_chunk, merge_chunks, plan_chunks
from actionrec.pipeline.chunks import Chunk
from actionrec.pipeline.sampling import GridNeed, NeedFrom
from tests.support.timelines import assert_same_timeline
from tests.support.videos import switch

CHUNK_S = 2.0  # 8 windows of the 0.25 s stride: 4 chunks on an 8 s clip


def blue_then_red(change_s: float):
    """Blue until ``change_s``, then red: the label changes inside a chunk's shared edge samples."""
    return switch((200, 30, 30), (30, 30, 220), at_s=change_s)


@pytest.fixture
def models(tiny_model_dir, tiny_labels_file):
    files = resolve_model(model_dir=tiny_model_dir, labels=tiny_labels_file, precision="FP16")
    return compile_models(files, hint="THROUGHPUT")


def vfr_times(seconds: float) -> list[float]:
    gaps = np.random.default_rng(17).uniform(0.015, 0.07, int(seconds / 0.03))
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    return [float(t) for t in times[times < seconds]]


CLIPS = {
    "cfr30": {"fps": 30, "duration_s": 8.0},
    "vfr": {"fps": 30, "timestamps_s": vfr_times(7.5)},
    "ntsc-bframes": {"fps": 30000 / 1001, "duration_s": 7.0, "options": {"preset": "fast", "crf": "12", "bf": "3"}},
}


@pytest.fixture(params=sorted(CLIPS))
def clip(request, video_factory):
    return video_factory(
        f"chunks-{request.param}.mp4", size_wh=(160, 120), paint=blue_then_red(4.06), **CLIPS[request.param]
    )


def chunked(recognizer, path, *, chunk_s=CHUNK_S, cache=False, only=None):
    chunks = plan_chunks(duration_s=8.0, grid=recognizer.grid, chunk_s=chunk_s)
    return [analyze_chunk(recognizer, path, c, cache=cache) for i, c in enumerate(chunks) if only is None or i in only]


@pytest.mark.parametrize("decoder", ["sampled", "opencv"])
def test_chunked_long_video_equals_its_unsplit_analysis(models, clip, decoder):
    recognizer = Recognizer(models, options=RecognizerOptions(smoothing=3, stride_s=0.25), file_decoder=decoder)
    whole = recognizer.analyze(clip, progress=False, cache=False)
    parts = chunked(recognizer, clip)
    assert len(parts) == 4 and all(len(p.windows) for p in parts)
    merged = recognizer.timeline(merge_chunks(parts))
    assert_same_timeline(whole, merged)
    assert [s.label for s in merged.segments()][:2] == ["blue", "red"]  # the change is inside chunk 2 of 4
    edge = parts[1].windows.stop * recognizer.grid.stride_s
    assert any(s.start_s < edge < s.end_s for s in merged.segments()), "smoothing must cross a chunk edge"
    # Overlap: clip_len - stride_steps = 16 - 4 = 12 samples per chunk edge, encoded by both chunks.
    unsplit = recognizer.encode(clip, progress=False)
    assert sum(p.samples_encoded for p in parts) - int(unsplit.encoded.sum()) <= 3 * 12


def test_chunks_of_windows_cover_the_file_once():
    grid = RecognizerOptions(stride_s=0.5).grid(clip_len=16)
    chunks = plan_chunks(duration_s=600.0, grid=grid, chunk_s=120.0)
    assert [(c.first_window, c.end_window) for c in chunks] == [
        (0, 240),
        (240, 480),
        (480, 720),
        (720, 960),
        (960, None),
    ]
    assert chunks[0].samples(grid) == (0, 239 * 8 + 16)
    assert chunks[1].samples(grid)[0] == 240 * 8  # 8 samples shared with chunk 0
    assert plan_chunks(duration_s=0.0, grid=grid, chunk_s=120.0) == (Chunk(0, None),)
    with pytest.raises(ValueError, match="not a positive number of seconds"):
        plan_chunks(duration_s=10.0, grid=grid, chunk_s=0)


def test_merge_refuses_missing_or_repeated_chunks(models, video_factory):
    clip = video_factory("chunks-cfr30.mp4", size_wh=(160, 120), paint=blue_then_red(4.06), **CLIPS["cfr30"])
    recognizer = Recognizer(models, options=RecognizerOptions(stride_s=0.25))
    parts = chunked(recognizer, clip)
    with pytest.raises(ValueError, match="do not cover"):
        merge_chunks([parts[0], parts[2], parts[3]])
    with pytest.raises(ValueError, match="do not cover"):
        merge_chunks([parts[0], parts[1], parts[1], parts[2], parts[3]])
    with pytest.raises(ValueError, match="no chunk reached the end"):
        merge_chunks(parts[:3])


def test_the_cache_fills_chunk_by_chunk(models, video_factory, monkeypatch):
    clip = video_factory("chunks-vfr.mp4", size_wh=(160, 120), paint=blue_then_red(4.06), **CLIPS["vfr"])
    recognizer = Recognizer(models, options=RecognizerOptions(smoothing=3, stride_s=0.25))
    whole = recognizer.analyze(clip, progress=False, cache=False)
    # An interrupted chunked run: chunks 1 and 3 (the last) done. The next chunked run encodes only what is missing.
    first = chunked(recognizer, clip, cache=True, only={1, 3})
    assert all(p.samples_encoded > 0 for p in first)
    again = chunked(recognizer, clip, cache=True)
    assert [p.samples_encoded == 0 for p in again] == [False, True, False, True]
    assert_same_timeline(whole, recognizer.timeline(merge_chunks(again)))
    # Every chunk stored: a local run finds the file's entry complete and encodes nothing.
    monkeypatch.setattr(Recognizer, "encode", lambda *a, **k: pytest.fail("the cache should hold every sample"))
    assert_same_timeline(whole, recognizer.analyze(clip, progress=False, cache=True))
    assert sum(p.samples_encoded for p in chunked(recognizer, clip, cache=True)) == 0


@pytest.mark.parametrize("times", [[i / 30 for i in range(120)], vfr_times(4.0)], ids=["30fps", "vfr"])
def test_a_chunk_declines_only_frames_no_sample_of_it_takes(times):
    step, first_k = 0.0625, 24  # the chunk starts at 1.5 s
    need = NeedFrom(GridNeed(step_s=step), first_k=first_k)
    need.t0 = times[0]
    taken = set()  # the frame each grid point from first_k on takes: the nearest, a tie to the earlier
    for k in range(first_k, int(times[-1] / step) + 1):
        g = times[0] + k * step
        taken.add(min(range(len(times)), key=lambda i: (abs(times[i] - g), i)))
    declined = {i for i in range(1, len(times) - 1) if not need(times[i - 1], times[i], times[i + 1])}
    assert not declined & taken
    assert {i for i in range(1, len(times) - 1) if times[i + 1] < first_k * step - 0.01} <= declined
