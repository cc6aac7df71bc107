"""Every export of a timeline at once: :func:`export_timeline` and :func:`export_source`.

The front of :mod:`actionrec.export`: it writes the text formats (:mod:`.timeline`), the
annotated video (:mod:`.video`) and the HTML report (:mod:`.report`) by name, each atomically.

Example:
    >>> paths = export_timeline(timeline, "data/out", formats=("json", "csv", "vtt"))  # doctest: +SKIP
    >>> paths["json"]  # doctest: +SKIP
    PosixPath('data/out/demo.json')
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..results import Timeline
from .browser import browser_playability
from .report import write_report
from .timeline import _stem_of, write_csv, write_json, write_vtt
from .video import CropFn, write_annotated_video

if TYPE_CHECKING:
    from ..heads.events import ActionEvent
    from ..video.open import SourceLike

FORMATS = ("json", "csv", "vtt", "mp4", "webm", "html")


def _names(formats: Sequence[str] | str) -> list[str]:
    return [f.strip().lower() for f in formats.split(",")] if isinstance(formats, str) else list(formats)


def export_timeline(
    timeline: Timeline,
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] | str = ("json", "csv", "vtt"),
    stem: str | None = None,
    frames: Iterable[Any] | None = None,
    crop_fn: CropFn | None = None,
    threshold: float = 0.0,
    events: Sequence[ActionEvent] | None = None,
    video: str | os.PathLike[str] | None = None,
) -> dict[str, Path]:
    """Write the requested formats into ``out_dir``.

    Files: ``STEM.json``, ``STEM.csv``, ``STEM.vtt``, ``STEM.annotated.mp4`` / ``.webm``
    (the ``.annotated`` part keeps an export in the source's folder from replacing the source),
    ``STEM.html`` (the self-contained report, :func:`~actionrec.export.report.write_report`).

    Args:
        timeline: the analysed video.
        out_dir: destination folder (created when missing).
        formats: names among ``json``, ``csv``, ``vtt``, ``mp4`` (H.264), ``webm`` (VP9), ``html``
            (the report), as a sequence or a comma-separated string.
        stem: file name without suffix (default: from ``timeline.source``).
        frames: the source frames again, needed by ``mp4``/``webm``.
        crop_fn: for the video, see :func:`write_annotated_video`.
        threshold: top-1 probability below which windows count as uncertain.
        events: action events for the JSON's ``"events"`` and the report (the events table
            itself: :func:`actionrec.export.export_events`).
        video: the video the report plays; default: the annotated video written in the same call,
            else ``timeline.source`` when it is a local file browsers play, else none.

    Returns:
        ``{format name: path written}``.

    Raises:
        ValueError: an unknown format name, or a video format without ``frames``.
        ExportError: a file cannot be written.
    """
    names = _names(formats)
    unknown = [f for f in names if f not in FORMATS]
    if unknown or not names:
        what = f"unknown export format(s) {unknown}" if unknown else "no export format given"
        raise ValueError(f"{what}; valid: {', '.join(FORMATS)}")
    names = list(dict.fromkeys(names))
    names.sort(key=lambda n: n == "html")  # the report last: it plays the annotated video
    videos = [f for f in names if f in ("mp4", "webm")]
    if videos and frames is None:
        raise ValueError(f"format {videos[0]!r} (the annotated video) needs the source frames: pass frames=...")
    if len(videos) == 2 and iter(frames) is frames:
        raise ValueError("mp4 and webm together need frames that can be iterated twice (a list, not an iterator)")
    stem = stem or _stem_of(timeline.source)
    out = Path(out_dir)
    written: dict[str, Path] = {}
    for name in names:
        if name == "json":
            written[name] = write_json(timeline, out / f"{stem}.json", threshold=threshold, events=events)
        elif name == "csv":
            written[name] = write_csv(timeline, out / f"{stem}.csv", threshold=threshold)
        elif name == "vtt":
            written[name] = write_vtt(timeline, out / f"{stem}.vtt", threshold=threshold)
        elif name == "html":
            shown = video if video is not None else written.get("mp4") or written.get("webm") or _playable(timeline)
            written[name] = write_report(
                timeline, out / f"{stem}.html", video=shown, events=events or (), threshold=threshold
            )
        else:
            target = out / f"{stem}.annotated.{name}"
            written[name] = write_annotated_video(frames, timeline, target, crop_fn=crop_fn, threshold=threshold)
    return written


def _playable(timeline: Timeline) -> Path | None:
    """``timeline.source`` when it is a local file browsers play as it is, else ``None``."""
    source = Path(timeline.source) if timeline.source and "://" not in timeline.source else None
    return source if source is not None and source.is_file() and browser_playability(source).playable else None


def export_source(
    timeline: Timeline,
    source: SourceLike,
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] | str = ("json", "csv", "vtt"),
    stem: str | None = None,
    input_hw: tuple[int, int] = (224, 224),
    threshold: float = 0.0,
    max_download_mb: float | None = None,
    events: Sequence[ActionEvent] | None = None,
) -> dict[str, Path]:
    """:func:`export_timeline` for an analysed ``source``, re-reading its frames for a video format.

    Args:
        timeline: the analysed video.
        source: the same source again, as for :func:`~actionrec.video.open_video` (a path, a URL:
            its download is reused, ...); opened only for ``mp4``/``webm``. The report (``html``)
            plays the annotated video written with it, else ``source`` when it is a local file
            browsers play.
        out_dir: destination folder.
        formats: see :func:`export_timeline` (a list, or one comma-separated string).
        stem: file name without suffix (default: from the timeline's source).
        input_hw: the encoder's input size; the annotated video outlines its model crop.
        threshold: top-1 probability below which windows are uncertain.
        max_download_mb: a URL not downloaded yet is refused beyond this many megabytes
            (default ``AR_MAX_DOWNLOAD_MB``, else the upload limit, 2 GB).
        events: action events for the JSON's ``"events"`` (see :func:`export_timeline`).

    Returns:
        ``{format: path}`` of every file written.

    Raises:
        ValueError: unknown format.
        ExportError: a file cannot be written.
        VideoOpenError: ``source`` cannot be read again.
    """
    names = _names(formats)
    local = Path(source) if isinstance(source, (str, os.PathLike)) and "://" not in os.fspath(source) else None
    playable = "html" in names and local is not None and local.is_file() and browser_playability(local).playable
    video = local if playable else None
    if not {"mp4", "webm"} & set(names):
        return export_timeline(
            timeline, out_dir, formats=names, stem=stem, threshold=threshold, events=events, video=video
        )
    from ..pipeline.preprocess import crop_rect
    from ..video.open import open_video

    with open_video(source, progress=False, max_download_mb=max_download_mb) as frames:
        return export_timeline(
            timeline,
            out_dir,
            formats=names,
            stem=stem,
            frames=frames,
            crop_fn=lambda img: crop_rect((img.shape[1], img.shape[0]), input_hw=input_hw),
            threshold=threshold,
            events=events,
        )
