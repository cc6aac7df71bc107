"""Time-based sampling: one global grid, nearest frames, windows of grid samples.

Samples sit on the grid ``t0 + k * step_s`` with ``step_s = window_s / clip_len`` (default
1.0 s / 16 = 62.5 ms) and ``t0`` the first frame's timestamp; each grid point takes the nearest
decoded frame. So a window of ``clip_len`` consecutive samples covers ``window_s`` whatever the
source frame rate or machine speed. A window is ``clip_len`` consecutive samples; the stride is a
whole number of grid steps, so every sample is encoded at most once whatever the stride (and, with a
stride longer than the window, only the samples some window takes: :meth:`SamplingGrid.sample_used`).

Example:
    >>> grid = SamplingGrid.from_seconds(window_s=1.0, clip_len=16, stride_s=0.5)
    >>> grid.step_s, grid.stride_steps, grid.stride_s
    (0.0625, 8, 0.5)
    >>> grid.count_windows(num_samples=160)
    19
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np


class _Timed(Protocol):
    timestamp_s: float
    index: int


F = TypeVar("F", bound=_Timed)


@dataclass(frozen=True)
class SamplingGrid:
    """The sampling and window geometry (all times in seconds).

    Attributes:
        window_s: requested window length (``clip_len`` samples span it).
        clip_len: samples per window, read from the decoder.
        stride_steps: grid steps between window starts (>= 1).
    """

    window_s: float
    clip_len: int
    stride_steps: int

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise ValueError(f"window_s must be > 0 seconds, got {self.window_s}")
        if self.clip_len < 1:
            raise ValueError(f"clip_len must be >= 1, got {self.clip_len}")
        if self.stride_steps < 1:
            raise ValueError(f"stride must be at least one grid step ({self.step_s * 1000:.1f} ms)")

    @classmethod
    def from_seconds(cls, *, window_s: float, clip_len: int, stride_s: float) -> SamplingGrid:
        """Round ``stride_s`` to the nearest whole grid step (see :attr:`stride_s` for the result).

        Raises:
            ValueError: ``stride_s`` is shorter than half a grid step.
        """
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0 seconds, got {window_s}")
        step = window_s / clip_len
        steps = round(stride_s / step)
        if steps < 1:
            raise ValueError(
                f"stride_s={stride_s} s is shorter than one sample interval ({step * 1000:.1f} ms = "
                f"window_s {window_s} s / {clip_len} samples); use stride_s >= {step:.4f}"
            )
        return cls(window_s=window_s, clip_len=clip_len, stride_steps=steps)

    @property
    def step_s(self) -> float:
        """Time between grid samples."""
        return self.window_s / self.clip_len

    @property
    def stride_s(self) -> float:
        """Effective stride after rounding to whole steps."""
        return self.stride_steps * self.step_s

    def time_of(self, k: int, t0: float = 0.0) -> float:
        """Grid time of sample ``k`` (computed, never accumulated, so no drift)."""
        return t0 + k * self.step_s

    def count_windows(self, num_samples: int) -> int:
        """Complete windows in ``num_samples`` consecutive grid samples."""
        if num_samples < self.clip_len:
            return 0
        return (num_samples - self.clip_len) // self.stride_steps + 1

    def window_samples(self, w: int) -> range:
        """Grid sample indices of window ``w``."""
        start = w * self.stride_steps
        return range(start, start + self.clip_len)

    def sample_used(self, k: int) -> bool:
        """Whether some window takes grid sample ``k``: all do unless the stride is longer than a window.

        With a stride of more than ``clip_len`` steps (a quick scan), the samples between two windows
        belong to none and need no encoding. (The last samples of a file may belong only to a window
        that never completes: they count as used, since where the file ends is not known while
        encoding.)
        """
        return k >= 0 and k % self.stride_steps < self.clip_len

    def samples_needed(self, num_samples: int) -> np.ndarray:
        """``[num_samples]`` bool: the samples the complete windows of ``num_samples`` samples take."""
        needed = np.zeros(num_samples, bool)
        for w in range(self.count_windows(num_samples)):
            ks = self.window_samples(w)
            needed[ks.start : ks.stop] = True
        return needed

    def window_span(self, w: int, t0: float = 0.0) -> tuple[float, float]:
        """``(start_s, end_s)`` of window ``w``: its first grid time, its last grid time + one step."""
        ks = self.window_samples(w)
        return self.time_of(ks[0], t0), self.time_of(ks[-1], t0) + self.step_s

    def coverage_s(self, first_frame_s: float, last_frame_s: float) -> float:
        """Video time a window really covers: its last sample's frame time − its first's + one step."""
        return last_frame_s - first_frame_s + self.step_s

    def samples_in(self, span_s: float) -> int:
        """Grid samples from a first frame at 0 to a last frame at ``span_s`` (inclusive)."""
        return int(span_s / self.step_s + 1e-9) + 1


@dataclass(frozen=True)
class Sample(Generic[F]):
    """Grid sample ``k``: the frame nearest to its grid time.

    Attributes:
        k: grid index (0-based from the first frame).
        grid_time_s: ``t0 + k * step_s``.
        frame: the chosen frame (anything with ``timestamp_s`` and ``index``).
        duplicated: the same frame already served the previous grid sample.
    """

    k: int
    grid_time_s: float
    frame: F
    duplicated: bool


class GridSampler(Generic[F]):
    """Streams frames in time order and emits grid samples as soon as they are decided.

    Grid point ``g`` is decided when the first frame at or after ``g`` arrives: the nearer of that
    frame and the one before it wins (a tie goes to the earlier frame). Grid points after the last
    frame are never emitted.

    Example:
        >>> from types import SimpleNamespace as F
        >>> s = GridSampler(step_s=0.1)
        >>> out = [x for i, t in enumerate((0.0, 0.04, 0.09, 0.26)) for x in s.push(F(timestamp_s=t, index=i))]
        >>> [(x.k, x.frame.timestamp_s, x.duplicated) for x in out]
        [(0, 0.0, False), (1, 0.09, False), (2, 0.26, False)]
    """

    def __init__(self, *, step_s: float, t0: float | None = None) -> None:
        if not step_s > 0:
            raise ValueError(f"step_s must be > 0, got {step_s}")
        self.step_s = step_s
        self.t0 = t0
        self.next_k = 0
        self._prev: F | None = None
        self._last_frame_id: int | None = None

    def push(self, frame: F) -> Iterator[Sample[F]]:
        """Feed the next frame; yields the grid samples it decides (zero, one or more)."""
        t = frame.timestamp_s
        if self.t0 is None:
            self.t0 = t
        if self._prev is not None and t <= self._prev.timestamp_s:
            # Non-increasing timestamps cannot be placed on the grid; sources fix them upstream.
            self._prev = frame if t == self._prev.timestamp_s else self._prev
            return
        while True:
            g = self.t0 + self.next_k * self.step_s
            if g > t + 1e-9:
                break
            prev = self._prev
            chosen = prev if prev is not None and (g - prev.timestamp_s) <= (t - g) else frame
            yield self._emit(g, chosen)
        self._prev = frame

    def finish(self, last_timestamp_s: float | None) -> Iterator[Sample[F]]:
        """Decide the grid points up to the source's last frame when that frame was not pushed.

        With :class:`NearestFrameFilter` the last frames of a file may be passed over; grid points
        up to the last timestamp then belong to the last pushed frame (the nearest one, since the
        filter only passes over frames that cannot be nearest).
        """
        if self._prev is None or self.t0 is None or last_timestamp_s is None:
            return
        while self.t0 + self.next_k * self.step_s <= last_timestamp_s + 1e-9:
            yield self._emit(self.t0 + self.next_k * self.step_s, self._prev)

    def _emit(self, g: float, frame: F) -> Sample[F]:
        dup = frame.index == self._last_frame_id
        self._last_frame_id = frame.index
        sample = Sample(self.next_k, g, frame, dup)
        self.next_k += 1
        return sample


class NearestFrameFilter:
    """``keep(prev_s, t_s)``: could the frame at ``t_s`` be the nearest one to a grid point?

    A frame is nearest to the grid points between the midpoints to its neighbours. The previous
    frame's time is known; the next one's is not yet (a decoder hands out one frame at a time). On a
    constant-rate source the next gap equals the ones before, so frames that cannot be nearest are
    known in advance: :class:`GridSampler` over the kept frames then picks exactly what it picks
    over all of them, and a file decoder skips the colour conversion of the others (40 % of the
    frames at 30 fps, 67 % at 60 fps; none at 24 fps, where every frame is someone's nearest).

    The filter passes frames over only after ``warmup`` gaps equal within ``tolerance`` to the first
    one, and keeps every frame from the first longer gap on (variable-rate sources: no skipping).
    A longer gap can only be noticed one frame late, so on a file that switches from a constant
    rate to longer gaps, the grid points within half the new gap after the last frame before the
    switch may take the frame next to their nearest one (off by one frame, once per file).
    Set :attr:`t0` to the first frame's time before use.

    Example:
        >>> keep = NearestFrameFilter(step_s=0.0625)
        >>> keep.t0 = 0.0
        >>> [i for i in range(1, 16) if keep((i - 1) / 30, i / 30)]  # 30 fps, 16/s grid
        [1, 2, 3, 4, 6, 7, 8, 9, 11, 13, 15]
    """

    def __init__(self, *, step_s: float, tolerance: float = 0.05, warmup: int = 3) -> None:
        if not step_s > 0 or not 0 <= tolerance < 1:
            raise ValueError("step_s must be > 0 and tolerance in [0, 1)")
        self.step_s = step_s
        self.tolerance = tolerance
        self.warmup = warmup
        self.t0: float | None = None
        self.ref_gap_s: float | None = None
        self.regular_gaps = 0
        self.constant_rate = True

    def __call__(self, prev_s: float, t_s: float) -> bool:
        """True when the frame at ``t_s`` (after one at ``prev_s``) may be nearest to a grid point."""
        gap = t_s - prev_s
        if self.ref_gap_s is None:
            self.ref_gap_s = gap
        limit = self.ref_gap_s * (1 + self.tolerance) + 1e-4
        if gap > limit:
            self.constant_rate = False  # from here on every frame is kept
        self.regular_gaps += 1
        if self.t0 is None or not self.constant_rate or self.regular_gaps <= self.warmup:
            return True
        lo = (prev_s + t_s) / 2  # a grid point at lo or before belongs to an earlier frame (ties too)
        hi = t_s + limit / 2  # after hi, the next frame is nearer
        k = max(0, math.floor((lo - self.t0) / self.step_s) - 1)
        while self.t0 + k * self.step_s <= lo - 1e-6:  # the first grid point after lo (generously)
            k += 1
        return self.t0 + k * self.step_s <= hi + 1e-6


class GridNeed:
    """``need(prev_s, t_s, next_s)``: is the frame at ``t_s`` the nearest one to some grid point?

    The frame's neighbours in presentation order are at ``prev_s`` and ``next_s``; it is nearest to
    the grid points in ``((prev_s + t_s) / 2, (t_s + next_s) / 2]`` (ties go to the earlier frame, as
    in :class:`GridSampler`). Given to :func:`~actionrec.video.open_video` as ``frame_need``, it lets
    the sampled decode leave out non-reference frames no grid point takes: the sampler then picks
    exactly what it picks over every frame. The interval is widened by ``margin_s`` on both sides
    (a frame in doubt is decoded: frame 8 below ties with frame 7 for 0.25 s). Set :attr:`t0` to
    the first frame's time; until then every frame is needed.

    Example:
        >>> need = GridNeed(step_s=0.0625)
        >>> need.t0 = 0.0
        >>> [i for i in range(1, 15) if need((i - 1) / 30, i / 30, (i + 1) / 30)]  # 30 fps, 16/s grid
        [2, 4, 6, 7, 8, 9, 11, 13]
    """

    def __init__(self, *, step_s: float, margin_s: float = 1e-3) -> None:
        if not step_s > 0 or not margin_s >= 0:
            raise ValueError(f"step_s must be > 0 and margin_s >= 0, got {step_s} and {margin_s}")
        self.step_s = step_s
        self.margin_s = margin_s
        self.t0: float | None = None

    def __call__(self, prev_s: float, t_s: float, next_s: float) -> bool:
        """True when a grid point may take the frame at ``t_s`` (or when that cannot be told)."""
        if self.t0 is None or not prev_s < t_s < next_s:
            return True
        lo = (prev_s + t_s) / 2 - self.margin_s
        hi = (t_s + next_s) / 2 + self.margin_s
        k = max(0, math.ceil((lo - self.t0) / self.step_s))
        return self.t0 + k * self.step_s <= hi


class NeedFrom:
    """A :class:`GridNeed` for one chunk of a file: also declines frames no grid point from ``first_k`` on takes.

    A frame is nearest to the grid points up to the midpoint to its next frame; when that midpoint
    (widened by the need's margin) is before grid sample ``first_k``, only samples before the
    chunk could take it. The sampled decode then leaves such non-reference frames out; the grid
    samples from ``first_k`` on are the ones the whole file's run takes (see :class:`GridNeed`).
    """

    def __init__(self, need: GridNeed, *, first_k: int) -> None:
        self.need = need
        self.first_k = first_k

    @property
    def t0(self) -> float | None:
        """The whole file's first frame time (set on the wrapped need)."""
        return self.need.t0

    @t0.setter
    def t0(self, value: float | None) -> None:
        self.need.t0 = value

    def __call__(self, prev_s: float, t_s: float, next_s: float) -> bool:
        """False when the wrapped need declines the frame or only samples before ``first_k`` may take it."""
        if not self.need(prev_s, t_s, next_s):
            return False
        if self.need.t0 is None or not t_s < next_s:
            return True
        start = self.need.t0 + self.first_k * self.need.step_s
        return (t_s + next_s) / 2 + self.need.margin_s >= start
