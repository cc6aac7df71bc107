"""Pictures for the notebook: matplotlib figures and small HTML views, all pure functions.

Every plotting function returns a :class:`NotebookFigure` (a matplotlib ``Figure`` that displays
itself as a PNG in any IPython front end, without pyplot, so nothing is shown twice and no global
figure state is kept). ``fig.savefig(path)`` works as usual. :func:`video_html` and
:func:`file_links` return ``IPython.display.HTML`` whose relative URLs Jupyter serves.

Not split: one picture per walk-through step, each a small independent function over the same
figure helpers.

Example:
    >>> fig = plot_timeline(timeline, top_n=5, threshold=0.3)  # doctest: +SKIP
    >>> fig.savefig("timeline.png")                             # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..pipeline.preprocess import crop_rect
from ..results import UNCERTAIN, Prediction, Timeline

if TYPE_CHECKING:
    from ..heads.events import ActionEvent

CROP_COLOR = "#ffb000"  # amber: the model crop, the same hue as the video overlay
TOP_COLOR = "#2e9e44"  # green: a certain top-1 class
OTHER_COLOR = "#4c78a8"  # blue: runners-up
UNCERTAIN_COLOR = "#f58518"  # orange: below the threshold
MUTED = "#6e7781"
EMBED_LIMIT_BYTES = 40 * 1024**2  # larger videos outside the notebook's folder are linked, not embedded
_RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.bbox": "tight",
}


class NotebookFigure(Figure):
    """A matplotlib figure that IPython displays as a PNG (no pyplot, no duplicate output)."""

    png_dpi = 110

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=self.png_dpi, bbox_inches="tight", facecolor="white")
        return buf.getvalue()


def _figure(width_in: float, height_in: float) -> NotebookFigure:
    with matplotlib.rc_context(_RC):
        return NotebookFigure(figsize=(width_in, height_in), layout="constrained")


def _rgb(image_bgr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image_bgr[..., ::-1])


def _crop(image_bgr: np.ndarray, crop_xywh: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = crop_xywh
    return image_bgr[y : y + h, x : x + w]


def show_frame_with_crop(
    image_bgr: np.ndarray, *, input_hw: tuple[int, int] = (224, 224), timestamp_s: float | None = None
) -> NotebookFigure:
    """The whole frame with the rectangle the model sees, and that crop as the model gets it.

    Args:
        image_bgr: one ``H x W x 3`` uint8 BGR frame.
        input_hw: the encoder's input (height, width); the crop is what "resize the short side,
            centre-crop" keeps (see :func:`actionrec.pipeline.crop_rect`).
        timestamp_s: the frame's time, shown in the title.

    Returns:
        A two-panel figure.
    """
    import cv2

    h, w = image_bgr.shape[:2]
    x, y, cw, ch = crop_rect((w, h), input_hw=input_hw)
    model_in = cv2.resize(_crop(image_bgr, (x, y, cw, ch)), input_hw[::-1], interpolation=cv2.INTER_AREA)
    fig = _figure(10, 4.2)
    left, right = fig.subplots(1, 2, width_ratios=[w / h, 1.0])
    left.imshow(_rgb(image_bgr))
    left.add_patch(Rectangle((x - 0.5, y - 0.5), cw, ch, fill=False, edgecolor=CROP_COLOR, linewidth=2.5))
    when = f" at {timestamp_s:.2f} s" if timestamp_s is not None else ""
    left.set_title(f"source frame{when}: {w}×{h} px", loc="left")
    left.text(x + 6, y + 6, f"crop {cw}×{ch}", color="black", va="top", fontsize=9,
              bbox={"facecolor": CROP_COLOR, "edgecolor": "none", "pad": 2})  # fmt: skip
    right.imshow(_rgb(model_in))
    right.set_title(f"encoder input: {input_hw[1]}×{input_hw[0]} BGR", loc="left")
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    for side in ("left", "right", "top", "bottom"):
        right.spines[side].set(visible=True, color=CROP_COLOR, linewidth=2.5)
    return fig


def window_strip(
    frames: Sequence[np.ndarray],
    times_s: Sequence[float],
    *,
    crop_xywh: tuple[int, int, int, int] | None = None,
    duplicated: Sequence[bool] | None = None,
    columns: int = 8,
) -> NotebookFigure:
    """The frames of one window as a strip, each with its time.

    Args:
        frames: BGR images in time order (the window's samples).
        times_s: each frame's timestamp.
        crop_xywh: show only this rectangle of each frame (the model crop); ``None``: whole frames.
        duplicated: marks frames that repeat the previous sample (a source slower than the grid).
        columns: images per row.

    Returns:
        A grid of thumbnails titled with the window's span and sampling interval.

    Raises:
        ValueError: ``frames`` is empty or its length differs from ``times_s``.
    """
    if not frames or len(frames) != len(times_s):
        raise ValueError(f"need one time per frame, got {len(frames)} frames and {len(times_s)} times")
    n = len(frames)
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    fig = _figure(1.5 * columns, 1.75 * rows + 0.5)
    axes = np.atleast_1d(fig.subplots(rows, columns)).reshape(-1)
    dup = list(duplicated) if duplicated is not None else [False] * n
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        image = _crop(frames[i], crop_xywh) if crop_xywh is not None else frames[i]
        ax.imshow(_rgb(image))
        label = f"#{i}  {times_s[i]:.3f} s" + ("  (repeat)" if dup[i] else "")
        ax.set_title(label, fontsize=8.5, color=UNCERTAIN_COLOR if dup[i] else "black", fontweight="normal")
    span = times_s[-1] - times_s[0]
    step_ms = 1000 * span / (n - 1) if n > 1 else 0.0
    fig.suptitle(
        f"{n} samples from {times_s[0]:.2f} s to {times_s[-1]:.2f} s, about {step_ms:.1f} ms apart",
        x=0.0, ha="left", fontweight="bold", fontsize=11,
    )  # fmt: skip
    return fig


def embedding_heatmap(embeddings: np.ndarray, *, times_s: Sequence[float] | None = None) -> NotebookFigure:
    """The ``[samples, features]`` embeddings of one window as a heat strip.

    Args:
        embeddings: ``[T, D]`` float array (T = clip length, D = 512 for the OMZ encoder).
        times_s: the samples' times, to label the rows.

    Returns:
        A heat map, one row per sample (time flows down), one column per feature.

    Raises:
        ValueError: ``embeddings`` is not two-dimensional.
    """
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be [samples, features], got shape {emb.shape}")
    t, d = emb.shape
    fig = _figure(10, 1.2 + 0.13 * t)
    ax = fig.subplots()
    lo, hi = (float(v) for v in np.percentile(emb, [1, 99])) if emb.size else (0.0, 1.0)
    if hi <= lo:  # mostly constant (e.g. a sparse test encoder): scale to the full range instead
        lo, hi = float(emb.min()), max(float(emb.max()), float(emb.min()) + 1e-6)
    image = ax.imshow(emb, aspect="auto", cmap="magma", vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_xlabel(f"feature (0…{d - 1})")
    ax.set_ylabel("sample")
    if times_s is not None and len(times_s) == t:
        ticks = list(range(0, t, max(1, t // 4)))
        ax.set_yticks(ticks, [f"{times_s[k]:.2f} s" for k in ticks])
    ax.set_title(f"{t} embeddings × {d} features (one row per sampled frame)", loc="left")
    fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03, label="value")
    return fig


def topk_bars(prediction: Prediction, *, threshold: float = 0.0) -> NotebookFigure:
    """Horizontal bars of the window's top-k probabilities, best on top.

    Args:
        prediction: one window's result.
        threshold: top-1 probability below which the window counts as uncertain (orange bars and
            a dashed line at the threshold).

    Returns:
        A bar chart titled with the window's span.
    """
    k = len(prediction.labels)
    certain = prediction.is_certain(threshold)
    fig = _figure(7.5, 0.9 + 0.42 * k)
    ax = fig.subplots()
    y = np.arange(k)[::-1]
    colors = [(TOP_COLOR if i == 0 else OTHER_COLOR) if certain else UNCERTAIN_COLOR for i in range(k)]
    ax.barh(y, prediction.scores, color=colors, height=0.7)
    ax.set_yticks(y, prediction.labels)
    for yi, score in zip(y, prediction.scores, strict=True):
        ax.text(score + 0.01, yi, f"{score * 100:.1f}%", va="center", fontsize=9)
    if threshold > 0:
        ax.axvline(threshold, color=MUTED, linestyle="--", linewidth=1, label=f"threshold {threshold:.0%}")
        ax.legend(loc="lower right", frameon=False, fontsize=8.5)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("probability")
    verdict = "" if certain else "  (uncertain)"
    ax.set_title(f"window {prediction.start_s:.2f}–{prediction.end_s:.2f} s: top {k}{verdict}", loc="left")
    return fig


def _class_probs(timeline: Timeline) -> np.ndarray:
    """``[windows, classes]`` probabilities (top-k only when the full vector is not kept)."""
    out = np.zeros((len(timeline.predictions), len(timeline.labels)))
    for i, p in enumerate(timeline.predictions):
        if p.probs is not None:
            out[i] = p.probs
        else:
            out[i, list(p.class_ids)] = p.scores
    return out


def _segment_spans(timeline: Timeline, segments) -> list[tuple[float, float]]:
    """Each segment's span on the plot: halfway between the centres of neighbouring windows.

    A window describes the time around its centre, so a change of class is drawn midway between
    the centres of the last window of one segment and the first of the next; the first segment
    starts at the first window's start and the last ends at the last window's end.
    """
    preds = timeline.predictions
    centres = [(p.start_s + p.end_s) / 2 for p in preds]
    spans, first = [], 0
    for i, seg in enumerate(segments):
        last = first + seg.windows - 1
        lo = preds[0].start_s if i == 0 else (centres[first - 1] + centres[first]) / 2
        hi = preds[-1].end_s if i == len(segments) - 1 else (centres[last] + centres[last + 1]) / 2
        spans.append((lo, hi))
        first = last + 1
    return spans


def _fits(text: str, width_s: float, *, axis_width_in: float, axis_span_s: float, fontsize: float) -> bool:
    char_in = 0.62 * fontsize / 72  # a bold sans-serif character, roughly
    return len(text) * char_in + 0.08 <= width_s / axis_span_s * axis_width_in


def plot_timeline(
    timeline: Timeline, *, top_n: int = 5, threshold: float = 0.0, events: Sequence[ActionEvent] = ()
) -> NotebookFigure:
    """What happens when: the top classes' probabilities over time, and the merged segments.

    Top panel: the probability of the ``top_n`` classes (ranked by their highest probability in
    any window) at each window's centre; spans whose top-1 is below ``threshold`` are shaded grey.
    Bottom panel: consecutive windows with the same top-1 class merged into segments (labelled
    with their mean top-1 probability when there is room); uncertain segments hatched.

    Args:
        timeline: from :meth:`actionrec.pipeline.Recognizer.analyze`.
        top_n: classes drawn in the top panel.
        threshold: top-1 probability below which a window is uncertain.
        events: action events (:func:`actionrec.heads.detect_events`) to mark on the top panel:
            their spans shaded, a triangle at each peak (:func:`~actionrec.notebook.events_view.draw_event_markers`).

    Returns:
        A two-panel figure sharing the time axis.

    Raises:
        ValueError: the timeline holds no window, or ``top_n`` < 1.
    """
    if not timeline.predictions:
        raise ValueError(f"timeline of {timeline.source!r} holds no window to plot")
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    probs = _class_probs(timeline)
    ranked = [int(c) for c in np.argsort(-probs.max(axis=0), kind="stable")[:top_n]]
    palette = matplotlib.colormaps["tab10"].colors
    color_of = {timeline.labels[c]: palette[i % len(palette)] for i, c in enumerate(ranked)}
    centres = np.array([(p.start_s + p.end_s) / 2 for p in timeline.predictions])
    segments = timeline.segments(threshold=threshold)
    spans = _segment_spans(timeline, segments)
    x_lo, x_hi = min(spans[0][0], 0.0), max(spans[-1][1], timeline.duration_s)

    fig = _figure(10, 4.8)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3.2, 1])
    for seg, (lo, hi) in zip(segments, spans, strict=True):
        if seg.uncertain:
            top.axvspan(lo, hi, color="#ececec", zorder=0, linewidth=0)
    for c in ranked:
        name = timeline.labels[c]
        top.plot(
            centres,
            probs[:, c],
            marker="o" if len(centres) <= 80 else None,
            markersize=3.5,
            linewidth=1.8,
            color=color_of[name],
            label=name,
        )
    if threshold > 0:
        top.axhline(threshold, color=MUTED, linestyle="--", linewidth=1, label=f"threshold {threshold:.0%}")
    if events:
        from .events_view import draw_event_markers

        draw_event_markers(top, events)
    top.set_ylim(0, 1.02)
    top.set_ylabel("probability")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    name = Path(str(timeline.source)).name or str(timeline.source)
    what = ", ".join(x for x in (timeline.model, timeline.precision, timeline.devices_text) if x)
    fig.suptitle(f"{name}: top {len(ranked)} classes over time", x=0.01, ha="left", fontsize=11, fontweight="bold")
    top.set_title(f"{what} · window {timeline.window_s:g} s, stride {timeline.stride_s:g} s",
                  loc="left", fontsize=8.5, color=MUTED, fontweight="normal")  # fmt: skip

    for seg, (lo, hi) in zip(segments, spans, strict=True):
        color = "#d9d9d9" if seg.uncertain else color_of.get(seg.label, "#9aa5b1")
        bottom.broken_barh([(lo, hi - lo)], (0, 1), facecolors=color, edgecolor="white", linewidth=1,
                           hatch="///" if seg.uncertain else None)  # fmt: skip
        for text in (UNCERTAIN,) if seg.uncertain else (f"{seg.label} {seg.mean_score:.0%}", seg.label):
            if _fits(text, hi - lo, axis_width_in=7.9, axis_span_s=x_hi - x_lo, fontsize=8.5):
                bottom.text((lo + hi) / 2, 0.5, text, ha="center", va="center", fontsize=8.5, fontweight="bold",
                            color="#444444" if seg.uncertain else "white")  # fmt: skip
                break
    bottom.set_ylim(0, 1)
    bottom.set_yticks([])
    bottom.spines["left"].set_visible(False)
    bottom.set_ylabel("segments", rotation=0, ha="right", va="center")
    bottom.set_xlabel("time (s)")
    bottom.set_xlim(x_lo, x_hi)
    return fig


# -- HTML views ------------------------------------------------------------------------------------


def _relative(path: Path, base: Path) -> Path | None:
    """``path`` relative to ``base``, or ``None`` when it lies outside ``base``."""
    try:
        return path.resolve().relative_to(base.resolve())
    except ValueError:
        return None


def _url(rel: Path) -> str:
    from urllib.parse import quote

    return quote(rel.as_posix())


def video_html(path: str | os.PathLike[str], *, width_px: int = 640, base_dir: str | os.PathLike[str] | None = None):
    """An HTML5 ``<video>`` element for an exported annotated video (H.264 MP4 or VP9 WebM).

    Jupyter serves files under the notebook's folder, so a video there is referenced by a URL
    relative to the notebook (nothing is copied into the notebook). A video elsewhere is embedded
    as a data URL when it is small enough, else a note says where it is.

    Args:
        path: the video file.
        width_px: display width.
        base_dir: the notebook's folder (default: the current folder, which is the notebook's
            folder in a Jupyter kernel).

    Returns:
        ``IPython.display.HTML``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    from IPython.display import HTML

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no video at {p}; export it first (formats including 'mp4')")
    mime = "video/webm" if p.suffix.lower() == ".webm" else "video/mp4"
    rel = _relative(p, Path(base_dir) if base_dir is not None else Path.cwd())
    url = _url(rel) if rel is not None else None
    size = p.stat().st_size
    if url is None and size <= EMBED_LIMIT_BYTES:
        url = f"data:{mime};base64," + base64.b64encode(p.read_bytes()).decode("ascii")
    if url is None:
        return HTML(
            f"<p>The annotated video is at <code>{html.escape(str(p))}</code> ({size / 1024**2:.1f} MB): it lies "
            "outside the notebook's folder and is too large to embed, so open it with a video player.</p>"
        )
    # ``src`` on the <video> itself, not on a <source>: JupyterLab rewrites relative URLs to its file
    # server after the element is created, and only a changed media ``src`` makes the browser reload.
    return HTML(
        f'<video class="actionrec-video" src="{url}" controls muted playsinline preload="auto" '
        f'width="{int(width_px)}" style="max-width:100%;border-radius:4px;background:#000">'
        "Your browser cannot play this video.</video>"
        f'<div style="color:{MUTED};font-size:12px">{html.escape(p.name)} ({size / 1024**2:.1f} MB)</div>'
    )


def file_links(paths: Mapping[str, str | os.PathLike[str]], *, base_dir: str | os.PathLike[str] | None = None):
    """A list of the written files, each a link Jupyter opens, with its size.

    Args:
        paths: ``{format: path}``, e.g. from :func:`actionrec.export.export_timeline`.
        base_dir: the notebook's folder (default: the current folder).

    Returns:
        ``IPython.display.HTML``.
    """
    from IPython.display import HTML

    base = Path(base_dir) if base_dir is not None else Path.cwd()
    items = []
    for name, path in paths.items():
        p = Path(path)
        size = f"{p.stat().st_size / 1024:.1f} KB" if p.is_file() else "missing"
        rel = _relative(p, base)
        shown = html.escape(str(p if rel is None else rel))
        link = f'<a href="{_url(rel)}" target="_blank">{shown}</a>' if rel is not None else f"<code>{shown}</code>"
        items.append(f"<li><b>{html.escape(name.upper())}</b>: {link} ({size})</li>")
    return HTML(f"<ul class='actionrec-files' style='margin:4px 0'>{''.join(items)}</ul>")
