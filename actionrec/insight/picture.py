"""The insight pictures, drawn with OpenCV (no matplotlib: the CLI writes them too), and their PNG files.

:func:`draw_explanation`: a window's 16 thumbnails with, under each, two bars side by side (the
drop of the top class when that sample is replaced by the window's mean embedding, and by its
neighbour's), then the whole video's importance over time with its moments marked.
:func:`draw_comparison`: one lane per configuration (each window green where its top-1 agrees
with the reference, orange where not, the bar's height its probability difference) beside bars
of each configuration's speed and peak memory. Pure functions: each returns a new BGR image.
Text is ASCII (OpenCV's Hershey fonts).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_write
from ..errors import ExportError
from ..render import BAR_BGR, FONT, TOP_BAR_BGR, UNCERTAIN_BGR
from .comparison import Comparison
from .report import Explanation

BG_BGR = (255, 255, 255)
INK_BGR = (40, 40, 40)
GRID_BGR = (215, 215, 215)
MEAN_BGR = BAR_BGR  # blue: replaced by the window's mean
NEIGHBOUR_BGR = UNCERTAIN_BGR  # orange: replaced by the neighbour
WINDOW_BGR = (235, 225, 200)  # pale blue: the explained window on the video lane
MARGIN = 16
SCALE = 0.42


def _text(
    img: np.ndarray, text: str, x: int, y: int, *, scale: float = SCALE, color=INK_BGR, bold: bool = False
) -> None:
    cv2.putText(
        img, text.encode("ascii", "replace").decode(), (x, y), FONT, scale, color, 2 if bold else 1, cv2.LINE_AA
    )


def _bar(
    img: np.ndarray, x0: int, x1: int, y_zero: int, value: float, *, per_unit_px: float, limit_px: int, color
) -> None:
    """A vertical bar from ``y_zero``: up for a positive value, down for a negative one (clipped)."""
    h = round(value * per_unit_px)
    h = max(-limit_px, min(limit_px, h))
    if h > 0:
        img[y_zero - h : y_zero, x0:x1] = color
    elif h < 0:
        img[y_zero : y_zero - h, x0:x1] = color


def draw_explanation(explanation: Explanation, thumbnails: Sequence[np.ndarray]) -> np.ndarray:
    """The window's thumbnails, the two baselines' drops under each, the video's importance lane.

    Args:
        explanation: from :func:`~actionrec.insight.explain`.
        thumbnails: one square BGR image per sample of the window, in order.

    Returns:
        A new BGR image.

    Raises:
        ValueError: not one thumbnail per sample.
    """
    w = explanation.window
    if len(thumbnails) != w.clip_len:
        raise ValueError(f"need one thumbnail per sample ({w.clip_len}), got {len(thumbnails)}")
    size = thumbnails[0].shape[0]
    gap = 6
    width = 2 * MARGIN + w.clip_len * (size + gap) - gap
    bars_h, lane_h = 150, 110
    height = 60 + size + 24 + bars_h + 70 + lane_h + 40
    img = np.full((height, width, 3), BG_BGR, np.uint8)
    _text(img, f"{w.source}: window #{w.window_index} {w.start_s:.2f}-{w.end_s:.2f} s, top class "
          f"'{w.label}' {w.probability:.0%}", MARGIN, 22, scale=0.55, bold=True)  # fmt: skip
    _text(img, "drop of that class's probability when one time step's embedding is replaced "
          "(occlusion of time steps, not pixels):", MARGIN, 44)  # fmt: skip
    y_img = 56
    for t, thumb in enumerate(thumbnails):
        x = MARGIN + t * (size + gap)
        img[y_img : y_img + size, x : x + size] = thumb
        if w.duplicated[t]:
            cv2.rectangle(img, (x, y_img), (x + size - 1, y_img + size - 1), NEIGHBOUR_BGR, 2)
        _text(img, f"#{t} {w.sample_times_s[t]:.2f}s", x + 2, y_img + size + 14, scale=0.36)
    # Bars: zero line two thirds down the panel (drops are mostly positive), one scale for both baselines.
    top = y_img + size + 24
    y_zero = top + int(bars_h * 0.7)
    largest = max(1e-6, max(abs(v) for v in (*w.drop_mean, *w.drop_neighbour)))
    per_unit = (bars_h * 0.7 - 14) / largest
    cv2.line(img, (MARGIN, y_zero), (width - MARGIN, y_zero), INK_BGR, 1)
    for t in range(w.clip_len):
        x = MARGIN + t * (size + gap)
        half = size // 2 - 4
        for j, (value, color) in enumerate(((w.drop_mean[t], MEAN_BGR), (w.drop_neighbour[t], NEIGHBOUR_BGR))):
            x0 = x + 4 + j * (half + 2)
            _bar(img, x0, x0 + half, y_zero, value, per_unit_px=per_unit, limit_px=int(bars_h * 0.3) - 2, color=color)
        best = max(w.drop_mean[t], w.drop_neighbour[t], key=abs)
        _text(img, f"{best:+.0%}", x + 4, top + 10, scale=0.34, color=(110, 110, 110))
    legend_y = top + bars_h + 16
    img[legend_y - 9 : legend_y, MARGIN : MARGIN + 14] = MEAN_BGR
    _text(img, "replaced by the window's mean: how much this moment adds beyond the window's average content",
          MARGIN + 20, legend_y)  # fmt: skip
    img[legend_y + 11 : legend_y + 20, MARGIN : MARGIN + 14] = NEIGHBOUR_BGR
    _text(img, "replaced by its neighbour: how much the change at this step matters (small where frames "
          "look alike, even if the moment matters)", MARGIN + 20, legend_y + 20)  # fmt: skip
    _text(img, f"(bar scale: the largest drop, {largest:.1%}, fills the panel; orange frame: a repeated frame)",
          MARGIN + 20, legend_y + 40, color=(110, 110, 110))  # fmt: skip
    _draw_video_lane(img, explanation, y0=legend_y + 56, height=lane_h, x0=MARGIN, x1=width - MARGIN)
    return img


def _draw_video_lane(img: np.ndarray, explanation: Explanation, *, y0: int, height: int, x0: int, x1: int) -> None:
    v, w = explanation.video, explanation.window
    times = np.asarray(v.sample_times_s)
    values = np.asarray(v.importance)
    t_min, t_max = float(times[0]), float(max(times[-1], times[0] + 1e-3))

    def x_of(t: float) -> int:
        return round(x0 + (t - t_min) / (t_max - t_min) * (x1 - x0))

    _text(img, f"over the whole video ({v.windows} windows): largest drop when each moment is replaced "
          "by its window's mean; the strongest moments numbered", x0, y0, bold=True)  # fmt: skip
    base = y0 + height
    cv2.rectangle(img, (x_of(w.start_s), y0 + 8), (x_of(min(w.end_s, t_max)), base), WINDOW_BGR, -1)
    cv2.line(img, (x0, base), (x1, base), INK_BGR, 1)
    largest = max(1e-6, float(values.max(initial=0.0)))
    per_unit = (height - 24) / largest
    for t, value in zip(times, values, strict=True):
        if value > 0:
            x = x_of(float(t))
            cv2.line(img, (x, base), (x, base - round(value * per_unit)), TOP_BAR_BGR, 2)
    for n, m in enumerate(v.moments, 1):
        x = x_of(m.time_s)
        y = base - round(max(m.drop, 0) * per_unit)
        cv2.circle(img, (x, y), 4, INK_BGR, -1)
        _text(img, str(n), x + 5, max(y0 + 18, y - 4), scale=0.4, bold=True)
    _text(img, f"{t_min:.1f} s", x0, base + 16, scale=0.36)
    _text(img, f"{t_max:.1f} s", x1 - 40, base + 16, scale=0.36)
    _text(img, f"top: {largest:.1%}", x1 - 90, y0 + 20, scale=0.36, color=(110, 110, 110))


def draw_comparison(comparison: Comparison) -> np.ndarray:
    """Per configuration: a lane of windows (green: same top-1 as the reference; orange: not) and its speed and memory.

    Returns:
        A new BGR image.
    """
    runs = comparison.runs
    label_w, lane_w, side_w = 190, 640, 360
    lane_h = 46
    width = 2 * MARGIN + label_w + lane_w + 24 + side_w
    height = 70 + lane_h * len(runs) + 40
    img = np.full((height, width, 3), BG_BGR, np.uint8)
    _text(img, f"{comparison.source}: each configuration against {runs[0].config.name} (the reference)",
          MARGIN, 22, scale=0.55, bold=True)  # fmt: skip
    _text(img, "windows: green = same top-1, orange = another; bar height = mean |prob difference| "
          "(full lane = 0.5)", MARGIN, 44)  # fmt: skip
    fps = [r.video_fps for r in runs if not r.embeddings_cached]
    fps_max = max(fps, default=1.0) or 1.0
    mem_max = max((r.peak_rss_mb for r in runs), default=1.0) or 1.0
    side_x = MARGIN + label_w + lane_w + 24
    half = side_w // 2 - 10
    _text(img, "video frames/s", side_x, 62, scale=0.38, bold=True)
    _text(img, "peak memory (MB)", side_x + half + 20, 62, scale=0.38, bold=True)
    for i, (run, ag) in enumerate(zip(runs, comparison.agreements, strict=True)):
        y = 70 + i * lane_h
        _text(img, run.config.name, MARGIN, y + lane_h // 2 + 4, bold=ag is None)
        lx0, lx1 = MARGIN + label_w, MARGIN + label_w + lane_w
        cv2.rectangle(img, (lx0, y + 4), (lx1, y + lane_h - 4), GRID_BGR, 1)
        if ag is None:
            _text(img, f"reference: {run.windows} windows", lx0 + 8, y + lane_h // 2 + 4, color=(110, 110, 110))
        else:
            n = max(1, len(ag.window_agree))
            for j, (same, diff) in enumerate(zip(ag.window_agree, ag.window_abs_diff, strict=True)):
                cx0 = lx0 + int(j * lane_w / n)
                cx1 = max(cx0 + 1, lx0 + int((j + 1) * lane_w / n) - 1)
                full = lane_h - 10
                bar = max(2, round(min(1.0, diff / 0.5) * full))
                color = TOP_BAR_BGR if same else NEIGHBOUR_BGR
                img[y + lane_h - 5 - bar : y + lane_h - 5, cx0:cx1] = color
            _text(img, f"agree {ag.top1_agreement:.0%}", lx1 - 100, y + 16, scale=0.38)
        bar_y0, bar_y1 = y + 10, y + lane_h - 10
        if run.embeddings_cached:
            _text(img, "cached", side_x, bar_y1, scale=0.38, color=(110, 110, 110))
        else:
            fw = round(run.video_fps / fps_max * (half - 50))
            img[bar_y0:bar_y1, side_x : side_x + max(1, fw)] = BAR_BGR
            _text(img, f"{run.video_fps:.1f}", side_x + fw + 4, bar_y1, scale=0.38)
        mx = side_x + half + 20
        mw = round(run.peak_rss_mb / mem_max * (half - 50))
        img[bar_y0:bar_y1, mx : mx + max(1, mw)] = (150, 150, 150)
        _text(img, f"{run.peak_rss_mb:.0f}", mx + mw + 4, bar_y1, scale=0.38)
    return img


def write_png(image_bgr: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """``image_bgr`` as a PNG at ``path``, atomically (a temp file renamed over it).

    Raises:
        ExportError: the image cannot be encoded, or the folder cannot be written.
    """
    ok, data = cv2.imencode(".png", image_bgr)
    if not ok:
        raise ExportError(f"OpenCV could not encode a {image_bgr.shape} image as PNG for {path}")
    with atomic_write(path, "wb") as f:
        f.write(data.tobytes())
    return Path(path)
