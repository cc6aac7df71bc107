"""An independent, brute-force oracle for the sampling grid and windows (no shared code)."""

from __future__ import annotations

import itertools
import math


def oracle_windows(times_s: list[float], *, window_s: float, clip_len: int, stride_s: float) -> list[dict]:
    """Expected windows for frames at ``times_s``: start/end times, chosen frames, coverage."""
    step = window_s / clip_len
    stride_steps = max(1, round(stride_s / step))
    t0 = times_s[0]
    grid = []
    k = 0
    while t0 + k * step <= times_s[-1] + 1e-9:
        g = t0 + k * step
        best = min(range(len(times_s)), key=lambda i: (abs(times_s[i] - g), i))  # tie: earlier frame
        grid.append((g, best))
        k += 1
    out = []
    w = 0
    while w * stride_steps + clip_len <= len(grid):
        ks = range(w * stride_steps, w * stride_steps + clip_len)
        chosen = [grid[k][1] for k in ks]
        out.append(
            {
                "start_s": grid[ks[0]][0],
                "end_s": grid[ks[-1]][0] + step,
                "frames": chosen,
                "coverage_s": times_s[chosen[-1]] - times_s[chosen[0]] + step,
                "duplicated": sum(a == b for a, b in itertools.pairwise(chosen)),
            }
        )
        w += 1
    return out


def expected_window_count(duration_s: float, *, window_s: float, clip_len: int, stride_s: float) -> int:
    """Closed form for a constant-rate source whose last frame is at ``duration_s``."""
    step = window_s / clip_len
    n = math.floor(duration_s / step + 1e-9) + 1
    s = max(1, round(stride_s / step))
    return 0 if n < clip_len else (n - clip_len) // s + 1
