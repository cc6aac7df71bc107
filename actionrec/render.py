"""Pure drawing functions: the model crop, top-k labels with bars, the time, the stats, a banner.

Every ``draw_*`` function takes a BGR image and returns a **new** image; the input is never
modified and nothing is kept between calls. Text and line sizes follow the frame's short side, so
an overlay reads the same on a 340x256 clip and on a 1920x1080 one. OpenCV's Hershey fonts only
draw ASCII, so every text drawn here is ASCII.

Not split: one family of pure drawing functions sharing the private sizing and panel helpers
(``_Style``, ``_fit``, ``_panel``, ``_text``); a second module would have to make them public.

Example:
    >>> import numpy as np
    >>> from actionrec.results import Prediction
    >>> frame = np.zeros((256, 340, 3), np.uint8)
    >>> p = Prediction.from_logits(np.array([3.0, 1.0, 0.0]), labels=("arm wrestling", "b", "c"),
    ...                            top_k=2, window_index=0, start_s=0.0, end_s=1.0)
    >>> out = annotate(frame, prediction=p, crop_xywh=(42, 0, 256, 256), timestamp_s=1.0)
    >>> out.shape, bool(frame.any())
    ((256, 340, 3), False)
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .results import Prediction, StageTimings, Timeline

FONT = cv2.FONT_HERSHEY_SIMPLEX
CROP_BGR = (0, 215, 255)  # amber-yellow: visible on skin, sky and grass alike
TEXT_BGR = (255, 255, 255)
MUTED_BGR = (190, 190, 190)
TOP_BAR_BGR = (90, 200, 60)  # green: the certain top-1 class
BAR_BGR = (200, 150, 70)  # blue: the runners-up
UNCERTAIN_BGR = (40, 160, 255)  # orange: below the threshold
BANNER_BGR = (150, 40, 190)  # magenta: an open action event (unlike any label or crop colour)
PANEL_BGR = (0, 0, 0)
PANEL_ALPHA = 0.6
LABELS_MAX_W_FRAC = 0.6
PLACEHOLDER_TEXT = "collecting frames..."
# Matching what the viewer would know: a window is shown once its last sample has been seen.
_END_EPS_S = 1e-6


@dataclass(frozen=True)
class _Style:
    """Sizes derived from the frame's short side (all in pixels except ``scale``)."""

    scale: float
    thickness: int
    pad: int
    margin: int
    line_h: int
    baseline: int
    bar_h: int

    @classmethod
    def for_image(cls, image: np.ndarray) -> _Style:
        short = min(image.shape[:2])
        # Grows slower than the frame: 0.42 at 256 px (a Kinetics clip), 1.33 at 1080 px.
        scale = min(2.4, max(0.3, 0.42 * (short / 256) ** 0.8))
        thickness = max(1, round(scale * 1.6))
        (_, text_h), baseline = cv2.getTextSize("Ag", FONT, scale, thickness)
        pad = max(2, round(text_h * 0.45))
        return cls(
            scale=scale,
            thickness=thickness,
            pad=pad,
            margin=max(1, round(short / 60)),
            line_h=text_h + baseline,
            baseline=baseline,
            bar_h=max(2, round(text_h * 0.35)),
        )


def _check_image(image_bgr: np.ndarray) -> None:
    if not isinstance(image_bgr, np.ndarray) or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        got = getattr(image_bgr, "shape", type(image_bgr).__name__)
        raise ValueError(
            f"image_bgr must be an H x W x 3 BGR array, got {got}; "
            "convert grayscale or BGRA with cv2.cvtColor(image, cv2.COLOR_GRAY2BGR / cv2.COLOR_BGRA2BGR)"
        )
    if image_bgr.dtype != np.uint8 or image_bgr.size == 0:
        raise ValueError(
            f"image_bgr must be a non-empty uint8 array, got dtype {image_bgr.dtype}, shape {image_bgr.shape}"
        )


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in 0..1, got {threshold!r}")


def _text_w(text: str, style: _Style) -> int:
    return cv2.getTextSize(text, FONT, style.scale, style.thickness)[0][0]


def _fit(text: str, max_w: int, style: _Style) -> str:
    """``text``, shortened with ``..`` so it fits in ``max_w`` pixels (binary search on length)."""
    if _text_w(text, style) <= max_w:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _text_w(text[:mid] + "..", style) <= max_w:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + ".."


def _panel(out: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """Darken ``out[y0:y1, x0:x1]`` in place (clipped to the image)."""
    h, w = out.shape[:2]
    x0, x1, y0, y1 = max(0, x0), min(w, x1), max(0, y0), min(h, y1)
    if x1 > x0 and y1 > y0:
        roi = out[y0:y1, x0:x1]
        cv2.addWeighted(roi, 1.0 - PANEL_ALPHA, np.full_like(roi, PANEL_BGR), PANEL_ALPHA, 0.0, dst=roi)


def _text(out: np.ndarray, text: str, x: int, y_top: int, style: _Style, color: tuple[int, int, int]) -> None:
    baseline_y = y_top + style.line_h - style.baseline
    cv2.putText(out, text, (x, baseline_y), FONT, style.scale, color, style.thickness, cv2.LINE_AA)


def _text_panel(out: np.ndarray, lines: Sequence[tuple[str, tuple[int, int, int]]], *, corner: str) -> None:
    """Lines of text in a darkened panel at ``corner`` ("tl", "tr", "bl"), in place."""
    style = _Style.for_image(out)
    h, w = out.shape[:2]
    max_w = max(1, w - 2 * style.margin - 2 * style.pad)
    texts = [(_fit(t, max_w, style), c) for t, c in lines]
    panel_w = max(_text_w(t, style) for t, _ in texts) + 2 * style.pad
    panel_h = len(texts) * (style.line_h + style.pad) + style.pad
    x0 = style.margin if corner in ("tl", "bl") else w - style.margin - panel_w
    y0 = style.margin if corner in ("tl", "tr") else h - style.margin - panel_h
    _panel(out, x0, y0, x0 + panel_w, y0 + panel_h)
    for i, (t, c) in enumerate(texts):
        _text(out, t, x0 + style.pad, y0 + style.pad + i * (style.line_h + style.pad), style, c)


def _rows(prediction: Prediction, top_k: int | None) -> list[tuple[str, float]]:
    k = len(prediction.labels) if top_k is None else min(top_k, len(prediction.labels))
    return [
        (f"{round(s * 100):3d}% {lbl}", s) for lbl, s in zip(prediction.labels[:k], prediction.scores[:k], strict=True)
    ]


def label_text(prediction: Prediction | None, *, top_k: int | None = None, threshold: float = 0.0) -> list[str]:
    """The lines of text :func:`draw_labels` shows, best first (ASCII).

    Args:
        prediction: the window to describe, or ``None`` before the first window is complete.
        top_k: how many classes to list (``None``: all the prediction holds).
        threshold: top-1 probability below which the window is shown as uncertain.

    Returns:
        ``["collecting frames..."]`` for ``None``; otherwise an ``"uncertain ..."`` header when
        the top-1 probability is below ``threshold``, then one ``" 87% label"`` line per class.

    Raises:
        ValueError: ``top_k`` < 1 or ``threshold`` outside 0..1.
    """
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None (all classes of the prediction), got {top_k}")
    _check_threshold(threshold)
    if prediction is None:
        return [PLACEHOLDER_TEXT]
    lines = [text for text, _ in _rows(prediction, top_k)]
    if not prediction.is_certain(threshold):
        lines.insert(0, f"uncertain (top-1 {round(prediction.score * 100)}% < {round(threshold * 100)}%)")
    return lines


def _draw_labels_into(out: np.ndarray, prediction: Prediction | None, top_k: int | None, threshold: float) -> None:
    lines = label_text(prediction, top_k=top_k, threshold=threshold)  # validates the options
    if prediction is None:
        _text_panel(out, [(PLACEHOLDER_TEXT, MUTED_BGR)], corner="tl")
        return
    style = _Style.for_image(out)
    w = out.shape[1]
    certain = prediction.is_certain(threshold)
    rows = _rows(prediction, top_k)
    max_w = max(1, round(w * LABELS_MAX_W_FRAC) - 2 * style.pad)  # leave the top right to the stats
    texts = [_fit(t, max_w, style) for t in lines]
    bar_w = max(1, min(max_w, max(max(_text_w(t, style) for t in texts), round(w * 0.25))))
    row_h = style.line_h + style.pad // 2 + style.bar_h + style.pad
    header_h = 0 if certain else style.line_h + style.pad
    x0 = y0 = style.margin
    panel_w, panel_h = bar_w + 2 * style.pad, style.pad + header_h + len(rows) * row_h
    _panel(out, x0, y0, x0 + panel_w, y0 + panel_h)
    x, y = x0 + style.pad, y0 + style.pad
    if not certain:
        _text(out, texts[0], x, y, style, UNCERTAIN_BGR)
        y += header_h
        texts = texts[1:]
    for i, (text, (_, score)) in enumerate(zip(texts, rows, strict=True)):
        _text(out, text, x, y, style, TEXT_BGR if certain else MUTED_BGR)
        bar_y = y + style.line_h + style.pad // 2
        color = (TOP_BAR_BGR if i == 0 else BAR_BGR) if certain else UNCERTAIN_BGR
        filled = max(1, round(bar_w * score))
        out[bar_y : bar_y + style.bar_h, x : x + bar_w] //= 2  # the empty track, a little darker
        out[bar_y : bar_y + style.bar_h, x : x + filled] = color
        y += row_h


def draw_labels(
    image_bgr: np.ndarray, prediction: Prediction | None, *, top_k: int | None = None, threshold: float = 0.0
) -> np.ndarray:
    """Top-k labels with probability bars in a semi-transparent panel (top left).

    Args:
        image_bgr: ``H x W x 3`` uint8 frame (not modified).
        prediction: the window to show; ``None`` draws a "collecting frames..." placeholder.
        top_k: classes to list (``None``: all the prediction holds).
        threshold: below this top-1 probability the panel says "uncertain" and the bars turn orange.

    Returns:
        A new annotated image of the same shape.

    Raises:
        ValueError: a malformed image, ``top_k`` < 1 or ``threshold`` outside 0..1.
    """
    _check_image(image_bgr)
    out = image_bgr.copy()
    _draw_labels_into(out, prediction, top_k, threshold)
    return out


def _draw_crop_into(out: np.ndarray, crop_xywh: tuple[int, int, int, int], color_bgr: tuple[int, int, int]) -> None:
    x, y, cw, ch = (int(v) for v in crop_xywh)
    if cw < 1 or ch < 1:
        raise ValueError(f"crop_xywh must have a positive width and height, got {tuple(crop_xywh)}")
    h, w = out.shape[:2]
    t = max(2, round(min(h, w) / 250))  # 2 px survives 4:2:0 chroma subsampling in the video export
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + cw), min(h, y + ch)
    if x1 <= x0 or y1 <= y0:
        return  # entirely outside the frame: nothing to draw
    # Lines lie inside the rectangle, so nothing outside the crop changes.
    if y >= 0:
        out[y0 : min(y1, y + t), x0:x1] = color_bgr
    if y + ch <= h:
        out[max(y0, y + ch - t) : y1, x0:x1] = color_bgr
    if x >= 0:
        out[y0:y1, x0 : min(x1, x + t)] = color_bgr
    if x + cw <= w:
        out[y0:y1, max(x0, x + cw - t) : x1] = color_bgr


def draw_crop(
    image_bgr: np.ndarray, crop_xywh: tuple[int, int, int, int], *, color_bgr: tuple[int, int, int] = CROP_BGR
) -> np.ndarray:
    """The rectangle the model sees (its 224x224 input is this crop, resized).

    The lines are drawn just inside the rectangle and clipped to the frame; sides lying outside
    the frame are not drawn.

    Args:
        image_bgr: ``H x W x 3`` uint8 frame (not modified).
        crop_xywh: ``(x, y, width, height)`` in source pixels, e.g. from
            :func:`actionrec.pipeline.crop_rect`.
        color_bgr: line colour.

    Returns:
        A new image with the rectangle.

    Raises:
        ValueError: a malformed image or an empty rectangle.
    """
    _check_image(image_bgr)
    out = image_bgr.copy()
    _draw_crop_into(out, crop_xywh, color_bgr)
    return out


def format_time(timestamp_s: float) -> str:
    """``MM:SS.mmm`` (``H:MM:SS.mmm`` from one hour on), e.g. ``"01:02.500"``."""
    ms = round(max(0.0, timestamp_s) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h}:{m:02d}:{s:02d}.{ms:03d}" if h else f"{m:02d}:{s:02d}.{ms:03d}"


def draw_time(image_bgr: np.ndarray, timestamp_s: float) -> np.ndarray:
    """The source time of the frame (bottom left), e.g. ``01:02.500``.

    Raises:
        ValueError: a malformed image.
    """
    _check_image(image_bgr)
    out = image_bgr.copy()
    _text_panel(out, [(format_time(timestamp_s), TEXT_BGR)], corner="bl")
    return out


def draw_banner(
    image_bgr: np.ndarray, lines: Sequence[str], *, color_bgr: tuple[int, int, int] = BANNER_BGR
) -> np.ndarray:
    """A solid banner at the bottom right, one line of text each (e.g. an open action event).

    Args:
        image_bgr: ``H x W x 3`` uint8 frame (not modified).
        lines: the text lines (ASCII; shortened with ``..`` to fit the frame); none: no banner.
        color_bgr: the banner's fill.

    Returns:
        A new image; an unchanged copy when ``lines`` is empty.

    Raises:
        ValueError: a malformed image.
    """
    _check_image(image_bgr)
    out = image_bgr.copy()
    if not lines:
        return out
    style = _Style.for_image(out)
    h, w = out.shape[:2]
    max_w = max(1, w - 2 * style.margin - 2 * style.pad)
    texts = [_fit(t, max_w, style) for t in lines]
    panel_w = max(_text_w(t, style) for t in texts) + 2 * style.pad
    panel_h = len(texts) * (style.line_h + style.pad) + style.pad
    x0, y0 = max(0, w - style.margin - panel_w), max(0, h - style.margin - panel_h)
    out[y0 : min(h, y0 + panel_h), x0 : min(w, x0 + panel_w)] = color_bgr
    for i, t in enumerate(texts):
        _text(out, t, x0 + style.pad, y0 + style.pad + i * (style.line_h + style.pad), style, TEXT_BGR)
    return out


def stats_text(
    *, fps: float | None = None, timings: StageTimings | None = None, coverage_s: float | None = None
) -> list[str]:
    """The lines :func:`draw_stats` shows (empty when nothing is given)."""
    lines = []
    if fps is not None:
        lines.append(f"{fps:.1f} fps")
    if timings is not None:
        for name in ("decode", "preprocess", "encoder", "decoder", "draw"):
            lines.append(f"{name} {getattr(timings, name + '_ms'):.1f} ms")
    if coverage_s is not None:
        lines.append(f"window {coverage_s:.2f} s")
    return lines


def draw_stats(
    image_bgr: np.ndarray,
    *,
    fps: float | None = None,
    timings: StageTimings | None = None,
    coverage_s: float | None = None,
) -> np.ndarray:
    """End-to-end frames/s, per-stage milliseconds and window coverage (top right).

    Args:
        image_bgr: ``H x W x 3`` uint8 frame (not modified).
        fps: end-to-end video frames per second.
        timings: per-stage ms (decode, preprocess, encoder, decoder, draw).
        coverage_s: seconds of video the shown window really covers.

    Returns:
        A new image; an unchanged copy when all three are ``None``.

    Raises:
        ValueError: a malformed image.
    """
    _check_image(image_bgr)
    out = image_bgr.copy()
    lines = stats_text(fps=fps, timings=timings, coverage_s=coverage_s)
    if lines:
        _text_panel(out, [(t, TEXT_BGR) for t in lines], corner="tr")
    return out


def annotate(
    image_bgr: np.ndarray,
    *,
    prediction: Prediction | None,
    crop_xywh: tuple[int, int, int, int] | None = None,
    timestamp_s: float | None = None,
    top_k: int | None = None,
    threshold: float = 0.0,
    fps: float | None = None,
    timings: StageTimings | None = None,
    coverage_s: float | None = None,
) -> np.ndarray:
    """Everything at once, with a single copy: crop, labels, time and (when given) stats.

    Args:
        image_bgr: ``H x W x 3`` uint8 frame (not modified).
        prediction: the window to show (``None``: the placeholder); see :func:`prediction_at`.
        crop_xywh: the model crop in source pixels (``None``: not drawn).
        timestamp_s: the frame's source time (``None``: not drawn).
        top_k: labels drawn, as in :func:`draw_labels`.
        threshold: top-1 probability below which the labels say "uncertain".
        fps: the display rate (stats, :func:`draw_stats`, are drawn when any of the three is given).
        timings: the window's stage timings.
        coverage_s: the window's coverage.

    Returns:
        A new annotated image.

    Raises:
        ValueError: a malformed image or option.
    """
    _check_image(image_bgr)
    out = image_bgr.copy()
    if crop_xywh is not None:
        _draw_crop_into(out, crop_xywh, CROP_BGR)
    _draw_labels_into(out, prediction, top_k, threshold)
    if timestamp_s is not None:
        _text_panel(out, [(format_time(timestamp_s), TEXT_BGR)], corner="bl")
    lines = stats_text(fps=fps, timings=timings, coverage_s=coverage_s)
    if lines:
        _text_panel(out, [(t, TEXT_BGR) for t in lines], corner="tr")
    return out


def prediction_at(timeline: Timeline | Sequence[Prediction], timestamp_s: float) -> Prediction | None:
    """The prediction a viewer would know at source time ``timestamp_s``.

    That is the latest window whose ``end_s <= timestamp_s`` (a window is known once its last
    sample has been seen), or ``None`` before the first window ends. Binary search, O(log n);
    windows are assumed in time order with non-decreasing ``end_s`` (equal-length windows, as a
    :class:`~actionrec.results.Timeline` holds).

    Args:
        timeline: a :class:`~actionrec.results.Timeline` or a sequence of predictions.
        timestamp_s: source time of the frame being shown.

    Returns:
        The prediction to show, or ``None``.
    """
    predictions = timeline.predictions if isinstance(timeline, Timeline) else timeline
    i = bisect_right(predictions, timestamp_s + _END_EPS_S, key=lambda p: p.end_s)
    return predictions[i - 1] if i else None
