"""Action events in the notebook: a table with peak thumbnails, and markers on the timeline plot.

:func:`events_table` shows :func:`~actionrec.heads.detect_events` results as HTML (thumbnails from
:func:`~actionrec.export.export_events`, embedded so the table shows wherever the files are);
:func:`draw_event_markers` adds the events to the top panel of
:func:`~actionrec.notebook.display.plot_timeline` (which calls it when given ``events=``).

Example:
    >>> events = detect_events(timeline, ["red > 0.6 for 1s"])            # doctest: +SKIP
    >>> written = export_events(events, "data/out", stem="clip", source="clip.mp4")  # doctest: +SKIP
    >>> events_table(events, thumbnails_dir=written.get("events thumbnails"))  # doctest: +SKIP
    >>> plot_timeline(timeline, events=events)                            # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..render import format_time

if TYPE_CHECKING:
    from ..heads.events import ActionEvent

EVENT_COLOR = "#b02ab8"  # magenta, the live player's banner colour
MAX_ROWS = 100


def _thumb_src(path: Path) -> str | None:
    """A data URL of the JPEG at ``path`` (``None`` when it is missing)."""
    if not path.is_file():
        return None
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def events_table(
    events: Sequence[ActionEvent],
    *,
    thumbnails_dir: str | os.PathLike[str] | None = None,
    width_px: int = 160,
    max_rows: int = MAX_ROWS,
):
    """An HTML table of events: thumbnail, label, start–end, duration, peak (score and time), mean, rule.

    Args:
        events: the events, in table order (as exported: thumbnail ``N.jpg`` is row ``N``).
        thumbnails_dir: the ``STEM.events`` folder :func:`~actionrec.export.export_events` wrote
            (``None``: no thumbnails column content).
        width_px: thumbnail display width.
        max_rows: rows shown (a note says how many more there are).

    Returns:
        ``IPython.display.HTML``; with no events, a sentence saying so.
    """
    from IPython.display import HTML

    if not events:
        return HTML("<p class='actionrec-events'>No event: no rule's score stayed high enough for long enough.</p>")
    folder = Path(thumbnails_dir) if thumbnails_dir is not None else None
    rows = []
    for n, e in enumerate(events[:max_rows], 1):
        src = _thumb_src(folder / f"{n}.jpg") if folder is not None else None
        thumb = (
            f'<img src="{src}" width="{int(width_px)}" alt="event {n} at {e.peak_s:.2f} s" style="border-radius:3px">'
            if src
            else "<span style='color:#6e7781'>no thumbnail</span>"
        )
        cells = (
            thumb,
            f"<b>{html.escape(e.label)}</b>",
            f"{format_time(e.start_s)} – {format_time(e.end_s)}",
            f"{e.duration_s:.1f} s",
            f"{e.peak_score:.0%} at {format_time(e.peak_s)}",
            f"{e.mean_score:.0%}",
            f"<code>{html.escape(e.rule)}</code>",
        )
        rows.append("<tr>" + "".join(f"<td style='padding:2px 8px'>{c}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th style='text-align:left;padding:2px 8px'>{h}</th>"
        for h in ("peak frame", "event", "from – to", "lasts", "peak", "mean", "rule")
    )
    more = f"<p>… and {len(events) - max_rows} more events</p>" if len(events) > max_rows else ""
    return HTML(
        f"<table class='actionrec-events' style='border-collapse:collapse'><tr>{head}</tr>{''.join(rows)}</table>{more}"
    )


def draw_event_markers(ax: Any, events: Sequence[ActionEvent]) -> None:
    """Shade each event's span on ``ax`` and mark its peak (a triangle at its peak time and score).

    Args:
        ax: a matplotlib ``Axes`` whose x axis is seconds and y axis probability (0..1).
        events: the events to draw; the first gets a legend entry.
    """
    for i, e in enumerate(events):
        ax.axvspan(e.start_s, e.end_s, color=EVENT_COLOR, alpha=0.12, linewidth=0, zorder=0)
        ax.plot(
            [e.peak_s],
            [min(e.peak_score, 1.0)],
            marker="v",
            markersize=9,
            color=EVENT_COLOR,
            linestyle="none",
            zorder=5,
            label="event (peak)" if i == 0 else None,
        )
        ax.annotate(
            e.label,
            (e.peak_s, min(e.peak_score, 1.0)),
            xytext=(0, 7),
            textcoords="offset points",
            ha="center",
            fontsize=8,
            color=EVENT_COLOR,
            fontweight="bold",
        )
