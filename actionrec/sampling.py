"""Time-based sampling: one global grid, nearest frames, windows of grid samples.

Samples sit on the grid ``t0 + k * step_s`` with ``step_s = window_s / clip_len`` (default
1.0 s / 16 = 62.5 ms) and ``t0`` the first frame's timestamp; each grid point takes the nearest
decoded frame. So a window of ``clip_len`` consecutive samples covers ``window_s`` whatever the
source frame rate or machine speed. A window is ``clip_len`` consecutive samples; the stride is a
whole number of grid steps, so every sample is encoded once whatever the stride.

Example:
    >>> grid = SamplingGrid.from_seconds(window_s=1.0, clip_len=16, stride_s=0.5)
    >>> grid.step_s, grid.stride_steps, grid.stride_s
    (0.0625, 8, 0.5)
    >>> grid.count_windows(num_samples=160)
    19
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


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
        >>> out = [x for t in (0.0, 0.04, 0.09, 0.26) for x in s.push(F(timestamp_s=t, index=0))]
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

    def _emit(self, g: float, frame: F) -> Sample[F]:
        dup = frame.index == self._last_frame_id
        self._last_frame_id = frame.index
        sample = Sample(self.next_k, g, frame, dup)
        self.next_k += 1
        return sample
