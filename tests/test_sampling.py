"""Time-based sampling against an independent oracle, for several frame rates and VFR."""

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from actionrec.pipeline import GridSampler, SamplingGrid
from tests.oracle import expected_window_count, oracle_windows

VFR_TIMES = list(np.cumsum(np.random.default_rng(7).uniform(0.025, 0.06, 120)) - 0.025)  # phone-like 17-40 fps


def window_coverage(grid, samples, ks):
    """What the recognizers report for a window: the implementation's coverage of its chosen frames."""
    return grid.coverage_s(samples[ks[0]].frame.timestamp_s, samples[ks[-1]].frame.timestamp_s)


def run_sampler(times, step):
    sampler = GridSampler(step_s=step)
    out = []
    for i, t in enumerate(times):
        out.extend(sampler.push(SimpleNamespace(index=i, timestamp_s=t)))
    return out


@pytest.mark.parametrize("fps", [10, 25, 30, 60, 29.97])
@pytest.mark.parametrize("stride_s", [0.5, 0.0625, 0.3, 1.0, 2.0])
def test_windows_match_oracle_constant_rate(fps, stride_s):
    times = [i / fps for i in range(int(fps * 4.3))]
    grid = SamplingGrid.from_seconds(window_s=1.0, clip_len=16, stride_s=stride_s)
    samples = run_sampler(times, grid.step_s)
    expected = oracle_windows(times, window_s=1.0, clip_len=16, stride_s=stride_s)
    assert grid.count_windows(len(samples)) == len(expected)
    assert len(expected) == expected_window_count(times[-1], window_s=1.0, clip_len=16, stride_s=stride_s)
    for w, exp in enumerate(expected):
        ks = grid.window_samples(w)
        assert [samples[k].frame.index for k in ks] == exp["frames"]
        assert grid.time_of(ks[0]) == pytest.approx(exp["start_s"])
        assert grid.time_of(ks[-1]) + grid.step_s == pytest.approx(exp["end_s"])
        coverage_s = window_coverage(grid, samples, ks)
        assert coverage_s == pytest.approx(exp["coverage_s"], abs=1e-9)
        # coverage within one sample interval of window_s, whatever the frame rate
        assert abs(coverage_s - 1.0) <= grid.step_s + 1e-9


def test_variable_rate_matches_oracle_and_coverage():
    grid = SamplingGrid.from_seconds(window_s=1.0, clip_len=16, stride_s=0.5)
    samples = run_sampler(VFR_TIMES, grid.step_s)
    expected = oracle_windows(VFR_TIMES, window_s=1.0, clip_len=16, stride_s=0.5)
    assert len(expected) >= 5
    for w, exp in enumerate(expected):
        ks = grid.window_samples(w)
        chosen = [samples[k].frame.index for k in ks]
        assert chosen == exp["frames"]
        assert sum(samples[k].duplicated for k in ks[1:]) == exp["duplicated"]
        coverage_s = window_coverage(grid, samples, ks)
        assert coverage_s == pytest.approx(exp["coverage_s"], abs=1e-9)
        assert abs(coverage_s - 1.0) <= grid.step_s + 1e-9
    # Variable rate: windows really cover different spans (a constant, e.g. window_s, would not do)
    assert len({round(e["coverage_s"], 6) for e in expected}) > 1


def test_slow_source_duplicates_frames_and_counts_them():
    times = [i / 8 for i in range(40)]  # 8 fps: slower than the 16/s grid
    samples = run_sampler(times, 1 / 16)
    assert sum(s.duplicated for s in samples) == len(samples) - len({s.frame.index for s in samples})
    assert sum(s.duplicated for s in samples) > 0


def test_each_frame_used_at_most_once_per_grid_point_and_in_order():
    times = [i / 60 for i in range(300)]
    samples = run_sampler(times, 1 / 16)
    assert [s.k for s in samples] == list(range(len(samples)))
    idx = [s.frame.index for s in samples]
    assert idx == sorted(idx) and not any(s.duplicated for s in samples)


def test_stride_rounding_and_errors():
    g = SamplingGrid.from_seconds(window_s=1.0, clip_len=16, stride_s=0.52)
    assert g.stride_steps == 8 and g.stride_s == 0.5
    with pytest.raises(ValueError, match=r"shorter than one sample interval \(62.5 ms"):
        SamplingGrid.from_seconds(window_s=1.0, clip_len=16, stride_s=0.01)
    with pytest.raises(ValueError, match="window_s must be > 0"):
        SamplingGrid.from_seconds(window_s=0, clip_len=16, stride_s=0.5)


@pytest.mark.parametrize("fps", [10, 15, 24, 25, 29.97, 30, 50, 60, 120])
@pytest.mark.parametrize("offset_s", [0.0, 0.013, 1.7])
def test_nearest_frame_filter_never_drops_a_nearest_frame_at_constant_rate(fps, offset_s):
    from actionrec.pipeline import NearestFrameFilter

    times = [offset_s + i / fps for i in range(int(fps * 5))]
    keep = NearestFrameFilter(step_s=1 / 16)
    kept = [0]
    keep.t0 = times[0]
    kept += [i for i in range(1, len(times)) if keep(times[i - 1], times[i])]
    every = run_sampler(times, 1 / 16)
    sampler = GridSampler(step_s=1 / 16)
    filtered = []
    for i in kept:
        filtered.extend(sampler.push(SimpleNamespace(index=i, timestamp_s=times[i])))
    filtered.extend(sampler.finish(times[-1]))
    assert [(s.k, s.frame.index, s.duplicated) for s in filtered] == [(s.k, s.frame.index, s.duplicated) for s in every]
    if fps >= 30:
        assert len(kept) < 0.75 * len(times)  # the point: most frames need no colour conversion


def test_nearest_frame_filter_stops_skipping_once_a_longer_gap_shows_up():
    from actionrec.pipeline import NearestFrameFilter

    keep = NearestFrameFilter(step_s=1 / 16)
    keep.t0 = 0.0
    times = [i / 30 for i in range(60)] + [2.0 + 0.05 * i for i in range(1, 40)]  # 30 fps, then 20 fps
    decisions = [keep(a, b) for a, b in itertools.pairwise(times)]
    assert not all(decisions[:58]) and all(decisions[59:]) and not keep.constant_rate
