"""The events table beside the exports: ``STEM.events.csv``, ``STEM.events.json``, peak thumbnails.

Events come from :func:`actionrec.heads.detect_events`. Each event gets a JPEG of the source frame
at its peak time, ``STEM.events/N.jpg`` (``N``: the event's 1-based row in the table), read again
from the source with :func:`~actionrec.video.open_video` (a file, a folder of images, or a URL whose
download is reused). A source that cannot be read again (a camera, a stream, frames handed over
in memory) gets no thumbnails, and the tables say why (``thumbnail_note``). Every file is written
atomically (:func:`~actionrec.atomic.atomic_write`); thumbnails of an earlier export that the new
table does not list are removed, so the folder holds exactly the table's pictures.

CSV columns: ``event,label,start_s,end_s,duration_s,peak_score,peak_s,mean_score,windows,rule,
thumbnail,thumbnail_note`` (``thumbnail``: the JPEG's path relative to the table, empty when there
is none; ``thumbnail_note``: why not, empty otherwise). The JSON document (``"schema":
"actionrec.events/1"``) holds the same per event under ``"events"``, with ``null`` for a missing
thumbnail, and the source's note under ``"thumbnail_note"``. Formats: ``docs/events.md``.

Example:
    >>> paths = export_events(events, "data/out", stem="clip", source="clip.mp4")  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['events.csv', 'events.json', 'events thumbnails']
"""

from __future__ import annotations

import csv
import json
import os
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_write
from ..errors import ExportError, VideoDecodeError, VideoOpenError
from ..redact import redact_url
from ..version import __version__
from .timeline import _num, _stem_of, csv_text

if TYPE_CHECKING:
    from ..heads.events import ActionEvent
    from ..video.open import SourceLike

EVENTS_SCHEMA_ID = "actionrec.events/1"
CSV_COLUMNS = (
    "event",
    "label",
    "start_s",
    "end_s",
    "duration_s",
    "peak_score",
    "peak_s",
    "mean_score",
    "windows",
    "rule",
    "thumbnail",
    "thumbnail_note",
)
THUMBNAIL_WIDTH_PX = 320
JPEG_QUALITY = 85
_REREADABLE = ("file", "folder", "url")  # kinds of source open_video can read again from the start
_THUMB_NAME = re.compile(r"\d+\.jpg")


@dataclass(frozen=True)
class EventThumbnail:
    """One event's thumbnail: the JPEG written, or why there is none.

    Attributes:
        path: the JPEG, or ``None``.
        note: why there is no JPEG (empty when there is one).
        timestamp_s: the source time of the frame shown (``None`` without a JPEG).
    """

    path: Path | None
    note: str = ""
    timestamp_s: float | None = None


def write_event_thumbnails(
    events: Sequence[ActionEvent],
    source: SourceLike | None,
    folder: str | os.PathLike[str],
    *,
    width_px: int = THUMBNAIL_WIDTH_PX,
    max_download_mb: float | None = None,
) -> tuple[EventThumbnail, ...]:
    """A JPEG of the first source frame at or after each event's peak time: ``folder/N.jpg``.

    The source is read once, in order, up to the last peak. Frames wider than ``width_px`` are
    scaled down (aspect kept).

    Args:
        events: the events, in table order (``N`` is 1-based).
        source: the analysed source again (a path, a URL, an image folder); anything that cannot be
            read again, or ``None``, gives no thumbnails (each says why).
        folder: where the JPEGs go (created when needed); other ``N.jpg`` files in it are removed.
        width_px: the thumbnails' largest width.
        max_download_mb: for a URL not downloaded yet (see :func:`~actionrec.video.open_video`).

    Returns:
        One :class:`EventThumbnail` per event, in order.

    Raises:
        ExportError: a JPEG cannot be encoded or written.
    """
    from ..video.open import open_video, resolve_source

    note = _unreadable(source, resolve_source) if source is not None else "no source given: no thumbnail"
    if note or not events:
        _remove_stale(Path(folder), keep=set())
        return tuple(EventThumbnail(None, note) for _ in events)
    targets = sorted({e.peak_s for e in events})
    found: dict[float, Any] = {}

    def needed(prev_s: float, t_s: float) -> bool:  # some peak lies in (prev_s, t_s]: this frame is its first
        i = bisect_right(targets, prev_s)
        return i < len(targets) and targets[i] <= t_s

    try:
        with open_video(source, progress=False, frame_filter=needed, max_download_mb=max_download_mb) as video:
            pending = 0
            for frame in video:
                while pending < len(targets) and targets[pending] <= frame.timestamp_s + 1e-9:
                    found[targets[pending]] = frame
                    pending += 1
                if pending == len(targets):
                    break
    except (VideoOpenError, VideoDecodeError) as exc:
        _remove_stale(Path(folder), keep=set())
        return tuple(EventThumbnail(None, f"the source cannot be read again ({exc}): no thumbnail") for _ in events)
    out_dir = Path(folder)
    results = []
    for n, event in enumerate(events, 1):
        frame = found.get(event.peak_s)
        if frame is None:
            results.append(EventThumbnail(None, f"the video ends before the peak at {event.peak_s:.2f} s"))
            continue
        path = out_dir / f"{n}.jpg"
        _write_jpeg(frame.image_bgr, path, width_px=width_px)
        results.append(EventThumbnail(path, "", float(frame.timestamp_s)))
    _remove_stale(out_dir, keep={r.path.name for r in results if r.path is not None})
    return tuple(results)


def _unreadable(source: Any, resolve_source: Any) -> str:
    """Why ``source`` cannot be read again from the start (``""`` when it can)."""
    try:
        resolved = resolve_source(source, fetch=False)
    except (VideoOpenError, ValueError) as exc:
        return f"the source cannot be read again ({exc}): no thumbnails"
    if resolved.kind in _REREADABLE:
        return ""
    return f"{resolved.display} ({resolved.kind}) cannot be read again: no thumbnails"


def _write_jpeg(image_bgr: Any, path: Path, *, width_px: int) -> None:
    import cv2

    h, w = image_bgr.shape[:2]
    if w > width_px:
        image_bgr = cv2.resize(image_bgr, (width_px, max(1, round(h * width_px / w))), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ExportError(f"OpenCV could not JPEG-encode the {w}x{h} thumbnail for {path}")
    with atomic_write(path, "wb") as f:
        f.write(jpeg.tobytes())


def _remove_stale(folder: Path, *, keep: set[str]) -> None:
    """Remove ``N.jpg`` thumbnails of an earlier export that this table does not list."""
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if _THUMB_NAME.fullmatch(p.name) and p.name not in keep:
            p.unlink(missing_ok=True)


def _thumb_cells(thumbnails: Sequence[EventThumbnail] | None, n: int, base: Path) -> list[tuple[str | None, str]]:
    """Per event: the thumbnail's path relative to ``base`` (``None``: none) and its note."""
    if thumbnails is None:
        return [(None, "no thumbnail made")] * n
    if len(thumbnails) != n:
        raise ValueError(f"{len(thumbnails)} thumbnails for {n} events; give one per event (or None)")
    cells = []
    for t in thumbnails:
        if t.path is None:
            cells.append((None, t.note))
        else:
            try:
                rel = Path(t.path).resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                rel = str(t.path)
            cells.append((rel, ""))
    return cells


def events_to_dicts(
    events: Sequence[ActionEvent], *, thumbnails: Sequence[EventThumbnail] | None = None, base: Path = Path()
) -> list[dict[str, Any]]:
    """The events as JSON data: :meth:`ActionEvent.to_dict` plus ``event`` (1-based), ``thumbnail`` and its note."""
    cells = _thumb_cells(thumbnails, len(events), base)
    return [
        {"event": n, **e.to_dict(), "thumbnail": path, "thumbnail_note": note}
        for n, (e, (path, note)) in enumerate(zip(events, cells, strict=True), 1)
    ]


def write_events_csv(
    events: Sequence[ActionEvent],
    path: str | os.PathLike[str],
    *,
    thumbnails: Sequence[EventThumbnail] | None = None,
) -> Path:
    r"""One row per event, columns :data:`CSV_COLUMNS` (labels and rules through :func:`csv_text`; lines end ``\n``).

    Raises:
        ExportError: the file cannot be written.
    """
    rows = events_to_dicts(events, thumbnails=thumbnails, base=Path(path).parent)
    with atomic_write(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    row["event"],
                    csv_text(row["label"]),
                    *(_num(row[k]) for k in ("start_s", "end_s", "duration_s", "peak_score", "peak_s", "mean_score")),
                    row["windows"],
                    csv_text(row["rule"]),
                    csv_text(row["thumbnail"] or ""),
                    row["thumbnail_note"],
                ]
            )
    return Path(path)


def write_events_json(
    events: Sequence[ActionEvent],
    path: str | os.PathLike[str],
    *,
    source: str = "",
    thumbnails: Sequence[EventThumbnail] | None = None,
) -> Path:
    """The events table as JSON (``"schema": "actionrec.events/1"``; see the module docstring).

    Raises:
        ExportError: the file cannot be written.
    """
    missing = [t for t in thumbnails or () if t.path is None]
    notes = {t.note for t in missing}
    # One reason for every event (a camera, no source): said once for the whole table as well.
    common = notes.pop() if thumbnails and len(missing) == len(thumbnails) and len(notes) == 1 else ""
    doc = {
        "schema": EVENTS_SCHEMA_ID,
        "generator": f"actionrec {__version__}",
        "source": redact_url(source),
        "thumbnail_note": common,
        "events": events_to_dicts(events, thumbnails=thumbnails, base=Path(path).parent),
    }
    with atomic_write(path, "w") as f:
        f.write(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    return Path(path)


def export_events(
    events: Sequence[ActionEvent],
    out_dir: str | os.PathLike[str],
    *,
    stem: str | None = None,
    source: SourceLike | None = None,
    thumbnails: bool = True,
    max_download_mb: float | None = None,
) -> dict[str, Path]:
    """Write ``STEM.events.csv``, ``STEM.events.json`` and the thumbnails ``STEM.events/N.jpg``.

    Args:
        events: from :func:`actionrec.heads.detect_events` (table order: as given).
        out_dir: destination folder (created when missing).
        stem: file name stem, as for the other exports (default: from ``source`` when it is a path
            or URL, as :func:`~actionrec.export.export_timeline` names its files; else ``"events"``).
        source: the analysed source again, for the thumbnails (see :func:`write_event_thumbnails`).
        thumbnails: ``False``: write none (the tables say so).
        max_download_mb: for a URL source not downloaded yet.

    Returns:
        ``{"events.csv": path, "events.json": path}``, plus ``"events thumbnails": folder`` when
        any thumbnail was written.

    Raises:
        ExportError: a file cannot be written.
    """
    if stem is None:
        stem = _stem_of(redact_url(os.fspath(source))) if isinstance(source, (str, os.PathLike)) else "events"
    out = Path(out_dir)
    folder = out / f"{stem}.events"
    if thumbnails:
        thumbs = write_event_thumbnails(events, source, folder, max_download_mb=max_download_mb)
    else:
        thumbs = tuple(EventThumbnail(None, "thumbnails not requested") for _ in events)
    shown = source if isinstance(source, (str, os.PathLike)) else ("" if source is None else type(source).__name__)
    written = {
        "events.csv": write_events_csv(events, out / f"{stem}.events.csv", thumbnails=thumbs),
        "events.json": write_events_json(events, out / f"{stem}.events.json", source=str(shown), thumbnails=thumbs),
    }
    if any(t.path is not None for t in thumbs):
        written["events thumbnails"] = folder
    return written
