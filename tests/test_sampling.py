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


# -- what mutation testing (benchmarks/mutation.py) showed unchecked ---------------------------------


def nearest_frames(times, step_s):
    """Independent oracle: the frames nearest to some grid point (ties to the earlier frame)."""
    out, k = set(), 0
    while times[0] + k * step_s <= times[-1] + 1e-9:
        g = times[0] + k * step_s
        out.add(min(range(len(times)), key=lambda i: (abs(times[i] - g), i)))
        k += 1
    return out


def test_grid_rejects_bad_geometry_with_its_reason():
    with pytest.raises(ValueError, match=r"window_s must be > 0 seconds, got 0"):
        SamplingGrid(window_s=0, clip_len=16, stride_steps=1)
    with pytest.raises(ValueError, match=r"clip_len must be >= 1, got 0"):
        SamplingGrid(window_s=1.0, clip_len=0, stride_steps=1)
    with pytest.raises(ValueError, match=r"stride must be at least one grid step \(62\.5 ms\)"):
        SamplingGrid(window_s=1.0, clip_len=16, stride_steps=0)
    one = SamplingGrid(window_s=1.0, clip_len=1, stride_steps=1)  # a one-sample window is valid
    assert one.count_windows(3) == 3


def test_window_count_span_coverage_and_samples_in():
    grid = SamplingGrid(window_s=1.0, clip_len=16, stride_steps=8)
    assert [grid.count_windows(n) for n in (0, 15, 16, 23, 24, 40)] == [0, 0, 1, 1, 2, 4]
    assert grid.window_span(0) == (0.0, 1.0)
    assert grid.window_span(3, t0=2.0) == (3.5, 4.5)
    assert grid.coverage_s(1.25, 2.125) == pytest.approx(0.9375)
    assert [grid.samples_in(s) for s in (0.0, 0.06, 0.0625, 0.999, 1.0)] == [1, 1, 2, 16, 17]


def test_sampler_step_must_be_positive():
    with pytest.raises(ValueError, match=r"step_s must be > 0, got 0"):
        GridSampler(step_s=0)


def test_sampler_emits_each_grid_point_on_the_frame_that_decides_it_with_its_grid_time():
    sampler = GridSampler(step_s=0.1)
    per_push = [
        [(s.k, s.grid_time_s, s.frame.index) for s in sampler.push(SimpleNamespace(index=i, timestamp_s=i / 10))]
        for i in range(8)
    ]
    # a frame exactly on its grid point decides it at once (3 * 0.1 != 0.3 in floating point)
    assert per_push == [[(i, pytest.approx(i / 10), i)] for i in range(8)]


def test_sampler_with_a_given_t0_starts_the_grid_there():
    sampler = GridSampler(step_s=0.25, t0=-0.5)
    out = list(sampler.push(SimpleNamespace(index=0, timestamp_s=0.0)))
    assert [(s.k, s.grid_time_s) for s in out] == [(0, -0.5), (1, -0.25), (2, 0.0)]
    assert [s.duplicated for s in out] == [False, True, True]


def test_sampler_keeps_the_latest_of_equal_timestamps_and_ignores_backward_ones():
    def picks(times):
        sampler = GridSampler(step_s=0.1)
        out = []
        for i, t in enumerate(times):
            out.extend(sampler.push(SimpleNamespace(index=i, timestamp_s=t)))
        return [s.frame.index for s in out]

    assert picks([0.0, 0.1, 0.1, 0.35]) == [0, 1, 2, 3]  # grid 0.2: the second frame at 0.1 is nearest
    assert picks([0.0, 0.1, 0.05, 0.35]) == [0, 1, 1, 3]  # the backward frame is never used


def test_finish_fills_the_grid_up_to_the_last_timestamp_exactly():
    sampler = GridSampler(step_s=0.25)
    for i, t in enumerate((0.0, 0.25)):
        list(sampler.push(SimpleNamespace(index=i, timestamp_s=t)))
    out = list(sampler.finish(0.75))  # 0.75 is a grid point: it is included
    assert [(s.k, s.grid_time_s, s.frame.index, s.duplicated) for s in out] == [(2, 0.5, 1, True), (3, 0.75, 1, True)]
    assert list(sampler.finish(None)) == []
    assert list(GridSampler(step_s=0.25, t0=0.0).finish(1.0)) == []  # nothing pushed: nothing to repeat


@pytest.mark.parametrize(
    ("fps", "first_kept"),
    [(50, [1, 2, 3, 6, 9, 12, 13, 16]), (60, [1, 2, 3, 4, 7, 8, 11, 15])],
)
def test_nearest_frame_filter_keeps_the_warmup_then_only_frames_that_may_be_nearest(fps, first_kept):
    from actionrec.pipeline import NearestFrameFilter

    times = [i / fps for i in range(int(fps * 3))]
    keep = NearestFrameFilter(step_s=1 / 16)  # the default warmup: 3 gaps, so frames 1-3 are kept
    keep.t0 = 0.0
    kept = [i for i in range(1, len(times)) if keep(times[i - 1], times[i])]
    assert set(kept) >= nearest_frames(times, 1 / 16) - {0}
    # frames 4.. that are nobody's nearest (50 fps: 4, 5; 60 fps: 5, 6) are passed over from the warmup's end
    assert kept[: len(first_kept)] == first_kept
    assert len(kept) < 0.75 * len(times)


def test_nearest_frame_filter_with_zero_tolerance_still_skips_and_needs_t0():
    from actionrec.pipeline import NearestFrameFilter

    times = [i / 60 for i in range(120)]
    keep = NearestFrameFilter(step_s=1 / 16, tolerance=0.0)
    keep.t0 = 0.0
    assert sum(keep(a, b) for a, b in itertools.pairwise(times)) < 0.5 * len(times)
    assert keep.constant_rate
    assert keep(times[-1], times[-1] + 0.1) and keep.constant_rate is False  # a longer gap ends the skipping
    no_t0 = NearestFrameFilter(step_s=1 / 16)
    assert all(no_t0(a, b) for a, b in itertools.pairwise(times))  # without t0 nothing is skipped


@pytest.mark.parametrize(("step_s", "tolerance"), [(0, 0.05), (-1, 0.05), (0.1, 1.0), (0.1, 1.5), (0.1, -0.1)])
def test_nearest_frame_filter_rejects_bad_settings(step_s, tolerance):
    from actionrec.pipeline import NearestFrameFilter

    with pytest.raises(ValueError, match=r"^step_s must be > 0 and tolerance in \[0, 1\)$"):
        NearestFrameFilter(step_s=step_s, tolerance=tolerance)


# -- the sampled decode's frame need, a chunk's, and the samples a quick scan encodes ----------------


def frames_taken(times, step_s, *, from_k=0):
    """Independent oracle: the frames nearest to some grid point ``k >= from_k`` (ties to the earlier frame)."""
    out, k = set(), 0
    while times[0] + k * step_s <= times[-1] + 1e-9:
        if k >= from_k:
            g = times[0] + k * step_s
            out.add(min(range(len(times)), key=lambda i: (abs(times[i] - g), i)))
        k += 1
    return out


def frames_needed(need, times):
    """The inner frames (both neighbours known) ``need`` keeps, with ``t0`` the first frame's time."""
    need.t0 = times[0]
    return {i for i in range(1, len(times) - 1) if need(times[i - 1], times[i], times[i + 1])}


def variable_rate_times(seed=3, n=90):
    gaps = np.random.default_rng(seed).uniform(0.004, 0.09, n)  # 11-250 fps, never a tie to the bit
    return [0.37 + float(t) for t in np.concatenate([[0.0], np.cumsum(gaps)])]


def near_a_tie(times, i, step_s, margin_s):
    """Frame ``i``'s interval of grid times ends within ``margin_s`` of a grid point (it may be kept)."""
    lo, hi = (times[i - 1] + times[i]) / 2, (times[i] + times[i + 1]) / 2
    return any(
        abs(edge - (times[0] + k * step_s)) <= margin_s + 1e-12
        for edge in (lo, hi)
        for k in range(round((edge - times[0]) / step_s) - 1, round((edge - times[0]) / step_s) + 2)
    )


@pytest.mark.parametrize("times", [variable_rate_times(3), variable_rate_times(8)], ids=["vfr-a", "vfr-b"])
def test_grid_need_without_margin_keeps_exactly_the_frames_the_sampler_takes(times):
    from actionrec.pipeline.sampling import GridNeed

    need = GridNeed(step_s=1 / 16, margin_s=0.0)
    inner = set(range(1, len(times) - 1))
    assert frames_needed(need, times) == frames_taken(times, 1 / 16) & inner


@pytest.mark.parametrize("fps", [10, 25, 29.97, 30, 60, 120])
def test_grid_need_keeps_every_frame_taken_and_others_only_near_a_tie(fps):
    from actionrec.pipeline.sampling import GridNeed

    times = [0.013 + i / fps for i in range(int(fps * 3))]
    taken = frames_taken(times, 1 / 16) & set(range(1, len(times) - 1))
    kept = frames_needed(GridNeed(step_s=1 / 16), times)
    assert kept >= taken
    assert all(near_a_tie(times, i, 1 / 16, 1e-3) for i in kept - taken), sorted(kept - taken)
    if fps >= 25:
        assert len(kept) < 0.7 * len(times)  # the frames it declines are the point of it


def test_grid_need_keeps_what_it_cannot_tell_and_rejects_bad_settings():
    from actionrec.pipeline.sampling import GridNeed

    need = GridNeed(step_s=1 / 16)
    assert need(0.0, 1 / 30, 2 / 30) and need(0.1, 0.5, 0.52)  # no t0 yet: every frame
    need.t0 = 0.0
    assert not need(0.1, 0.105, 0.11)  # between grid points 0.0625 and 0.125: nobody's nearest
    assert need(0.105, 0.105, 0.11) and need(0.1, 0.105, 0.105) and need(0.11, 0.105, 0.1)  # no order
    for step_s, margin_s in [(0, 1e-3), (-0.1, 1e-3), (0.1, -1e-3)]:
        with pytest.raises(ValueError, match=rf"^step_s must be > 0 and margin_s >= 0, got {step_s} and {margin_s}$"):
            GridNeed(step_s=step_s, margin_s=margin_s)


@pytest.mark.parametrize("first_k", [0, 5, 17, 40])
def test_need_from_keeps_exactly_the_frames_samples_from_first_k_take(first_k):
    from actionrec.pipeline.sampling import GridNeed, NeedFrom

    times = variable_rate_times(5)
    inner = set(range(1, len(times) - 1))
    need = NeedFrom(GridNeed(step_s=1 / 16, margin_s=0.0), first_k=first_k)
    assert frames_needed(need, times) == frames_taken(times, 1 / 16, from_k=first_k) & inner
    assert need.need.t0 == times[0] == need.t0  # t0 is the whole file's, set through the chunk's need


def test_need_from_keeps_what_it_cannot_tell_and_a_frame_at_its_first_sample():
    from actionrec.pipeline.sampling import GridNeed, NeedFrom

    need = NeedFrom(GridNeed(step_s=0.25, margin_s=0.0), first_k=4)  # sample 4 at 1.0 s
    assert need(0.0, 0.1, 0.2)  # no t0 yet
    need.t0 = 0.0
    assert need(0.4, 0.5, 0.45) and need(0.45, 0.5, 0.5)  # next frame not after it: kept
    assert not need(0.8, 0.9, 0.99)  # nearest to 0.75 only: before the chunk
    assert need(0.9, 0.98, 1.02)  # nearest to 1.0 (sample 4)
    assert need(0.8, 0.9, 1.1)  # its interval ends at 1.0 exactly: a tie goes to it
    assert not need(0.2, 0.25, 0.3)  # the wrapped need declines it as well (no grid point before 0.275)


@pytest.mark.parametrize(("clip_len", "stride_steps"), [(16, 8), (16, 16), (16, 17), (16, 32), (4, 7), (1, 3)])
def test_samples_used_and_needed_are_those_some_window_takes(clip_len, stride_steps):
    grid = SamplingGrid(window_s=1.0, clip_len=clip_len, stride_steps=stride_steps)
    in_some_window = {w * stride_steps + j for w in range(200) for j in range(clip_len)}
    assert [grid.sample_used(k) for k in range(-3, 120)] == [k in in_some_window for k in range(-3, 120)]
    for n in range(0, 70):
        complete = [
            range(w * stride_steps, w * stride_steps + clip_len) for w in range(n) if w * stride_steps + clip_len <= n
        ]
        expected = [any(k in ks for ks in complete) for k in range(n)]
        needed = grid.samples_needed(n)
        assert needed.dtype == bool and needed.tolist() == expected, n


def test_a_frame_within_the_margin_of_a_tie_is_decoded_on_either_side():
    """The margin widens a frame's interval on both ends: a grid point just past a midpoint, or a tie in doubt.

    Grid step 0.25 s. The frame at 1.1 s is nearest to grid point 1.0 (0.1 s against its previous
    frame's 0.1005 s), which lies 0.25 ms after the midpoint to that frame. The frame at 0.9 s is
    not nearest to 1.0 (its next frame at 1.0995 s is), but the midpoint is only 0.25 ms short of
    it: within the 1 ms margin, so it is decoded rather than risked, also as a chunk's first sample.
    """
    from actionrec.pipeline.sampling import GridNeed, NeedFrom

    need = GridNeed(step_s=0.25)
    need.t0 = 0.0
    assert need(0.8995, 1.1, 1.2)
    assert need(0.8, 0.9, 1.0995)
    assert NeedFrom(need, first_k=4)(0.8, 0.9, 1.0995)
    strict = GridNeed(step_s=0.25, margin_s=0.0)
    strict.t0 = 0.0
    assert strict(0.8995, 1.1, 1.2) and not strict(0.8, 0.9, 1.0995)  # without the margin: only the nearest
