"""The text exports of a :class:`~actionrec.results.Timeline`: JSON, CSV and WebVTT.

Every file is written to a temporary name in its destination folder and renamed over the final
name only once it is complete (:func:`atomic_write`), so an interrupted export (an error, Ctrl+C,
a full disk) never leaves a half-written file under its final name. The formats are described in
``docs/export-formats.md``; the JSON schema ships as ``actionrec/schemas/timeline-v2.schema.json``
(version 1, where the uncertain state was the label ``"uncertain"``, stays published beside it).

Labels are text from the user: CSV cells that a spreadsheet would run as a formula get a leading
``'``, WebVTT cue text is escaped and kept on one line.

The three text formats of one timeline share their cell and time helpers; every format at once
(:func:`~actionrec.export.files.export_timeline`), the annotated video (:mod:`.video`), the HTML
report (:mod:`.report`) and the events table (:mod:`.events`) live beside it.

Example:
    >>> write_json(timeline, "data/out/demo.json", threshold=0.3)  # doctest: +SKIP
    PosixPath('data/out/demo.json')
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_write
from ..errors import ExportError
from ..results import Timeline
from ..version import __version__

if TYPE_CHECKING:
    from ..heads.events import ActionEvent

SCHEMA_VERSION = 2
SCHEMA_ID = f"actionrec.timeline/{SCHEMA_VERSION}"
SCHEMA_RESOURCE = f"schemas/timeline-v{SCHEMA_VERSION}.schema.json"
SCHEMA_VERSIONS = (1, 2)  # every schema published in actionrec/schemas/; read_json reads them all
# A cell starting with one of these is a formula to Excel, LibreOffice or Sheets (OWASP CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


# -- JSON --------------------------------------------------------------------------------------


def schema_text(version: int = SCHEMA_VERSION) -> str:
    """A published JSON Schema (draft 2020-12) of the JSON export, as text.

    Args:
        version: ``2`` (what :func:`write_json` writes) or ``1`` (the previous version).

    Raises:
        ValueError: no schema of that version is published.
    """
    if version not in SCHEMA_VERSIONS:
        raise ValueError(f"no timeline schema version {version!r}; published: {SCHEMA_VERSIONS}")
    resource = f"schemas/timeline-v{version}.schema.json"
    return resources.files(__package__.partition(".")[0]).joinpath(resource).read_text(encoding="utf-8")


def timeline_to_dict(
    timeline: Timeline,
    *,
    threshold: float = 0.0,
    extra: dict | None = None,
    events: Sequence[ActionEvent] | None = None,
) -> dict[str, Any]:
    """The JSON document of ``timeline`` (schema ``actionrec.timeline/2``), as plain Python data.

    Args:
        timeline: the analysed video.
        threshold: top-1 probability below which windows (and their segments) are
            ``"uncertain": true``; labels stay the real class names.
        extra: free-form JSON-serialisable data stored under ``"extra"``.
        events: action events (:func:`actionrec.heads.detect_events`) stored under ``"events"``;
            ``None``: no ``"events"`` key (an empty sequence gives ``"events": []``).
    """
    doc = {
        "schema": SCHEMA_ID,
        "generator": f"actionrec {__version__}",
        "source": timeline.source,
        "model": timeline.model,
        "precision": timeline.precision,
        "device": timeline.device,
        "decoder_device": timeline.decoder_device,
        "num_classes": len(timeline.labels),
        "window_s": timeline.window_s,
        "stride_s": timeline.stride_s,
        "step_s": timeline.step_s,
        "clip_len": timeline.clip_len,
        "top_k": timeline.top_k,
        "smoothing": timeline.smoothing,
        "threshold": threshold,
        "frames_decoded": timeline.frames_decoded,
        "frames_corrupt": timeline.frames_corrupt,
        "truncated": timeline.truncated,
        "duration_s": timeline.duration_s,
        "head": head_to_dict(timeline),
        "windows": [
            {
                "index": p.window_index,
                "start_s": p.start_s,
                "end_s": p.end_s,
                "coverage_s": p.coverage_s,
                "duplicated": p.duplicated,
                "missing": p.missing,
                "uncertain": not p.is_certain(threshold),
                "top_k": [
                    {"label": lbl, "class_id": cid, "score": s}
                    for lbl, cid, s in zip(p.labels, p.class_ids, p.scores, strict=True)
                ],
                "timings_ms": {
                    name: getattr(p.timings, f"{name}_ms")
                    for name in ("decode", "preprocess", "encoder", "decoder", "draw")
                },
            }
            for p in timeline.predictions
        ],
        "segments": [
            {
                "label": s.label,
                "uncertain": s.uncertain,
                "start_s": s.start_s,
                "end_s": s.end_s,
                "mean_score": s.mean_score,
                "windows": s.windows,
            }
            for s in timeline.segments(threshold=threshold)
        ],
        "extra": dict(extra or {}),
    }
    if events is not None:
        doc["events"] = [e.to_dict() for e in events]
    return doc


def head_to_dict(timeline: Timeline) -> dict[str, Any]:
    """The JSON export's ``"head"``: what the classes are, and all of them in ``class_id`` order.

    ``kind``: ``"model"`` for the decoder's own classes (``name`` is then the model), else the
    head's name up to ``": "`` (``"groups: sports.json"`` -> ``"groups"``), or ``"custom"``.
    """
    kind, sep, _ = timeline.head.partition(": ")
    kind = "model" if not timeline.head else kind.strip() if sep and kind.strip() else "custom"
    return {"kind": kind, "name": timeline.head or timeline.model, "labels": list(timeline.labels)}


def write_json(
    timeline: Timeline,
    path: str | os.PathLike[str],
    *,
    threshold: float = 0.0,
    extra: dict | None = None,
    events: Sequence[ActionEvent] | None = None,
) -> Path:
    """Write the timeline as JSON (schema ``actionrec.timeline/2``, see ``docs/export-formats.md``).

    Args:
        timeline: the analysed video.
        path: the ``.json`` file to write (atomically).
        threshold: top-1 probability below which windows and segments are ``"uncertain": true``.
        extra: free-form JSON-serialisable data stored under ``"extra"`` (e.g. the CLI arguments).
        events: action events stored under ``"events"`` (``None``: no such key).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ExportError: ``extra`` is not JSON-serialisable, or the file cannot be written.
    """
    try:
        json.dumps(extra, allow_nan=False)  # checked before anything is written
    except (TypeError, ValueError) as exc:
        raise ExportError(
            f"cannot write {path}: {exc}; 'extra' must hold only JSON data (str, numbers, bool, None, lists, dicts)"
        ) from exc
    doc = timeline_to_dict(timeline, threshold=threshold, extra=extra, events=events)
    with atomic_write(path, "w") as f:  # written as encoded: the text is never whole in memory
        json.dump(doc, f, indent=1, ensure_ascii=False, allow_nan=False)
        f.write("\n")
    return Path(path)


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON export back, checking its schema version.

    Returns:
        The document as a dict (see :func:`timeline_to_dict`): version 2, or a version 1 file as
        it was written (its ``"schema"`` says which; in version 1 an uncertain segment's label is
        ``"uncertain"`` and windows have no ``"uncertain"`` field).

    Raises:
        ExportError: the file is missing, not JSON, or not an ``actionrec.timeline/1`` or ``/2``
            document.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"cannot read {path} as a timeline JSON export: {exc}") from exc
    version = doc.get("schema") if isinstance(doc, dict) else None
    readable = [f"actionrec.timeline/{v}" for v in SCHEMA_VERSIONS]
    if version not in readable:
        hint = "upgrade actionrec to read it" if str(version).startswith("actionrec.timeline/") else "not an export"
        raise ExportError(
            f"{path} has schema {version!r}; this actionrec {__version__} reads "
            f"{' and '.join(map(repr, readable))} only ({hint})"
        )
    for key in ("windows", "segments"):
        if not isinstance(doc.get(key), list):
            raise ExportError(f"{path} is malformed: {key!r} must be a list, got {type(doc.get(key)).__name__}")
    return doc


def read_timeline(path: str | os.PathLike[str]) -> Timeline:
    """A JSON export (schema version 2) back as the :class:`~actionrec.results.Timeline` it was written from.

    So a file analysed earlier, or a recorded live session, can be shown again (e.g. in the
    notebook's timeline widget) without running a model. Window timings come back; the model crop
    (not in the export) does not.

    Raises:
        ExportError: as :func:`read_json`; a version 1 file (it does not list its classes); a window
            that does not make a valid prediction (the message names it).
    """
    from ..results import Prediction, StageTimings

    doc = read_json(path)
    if doc["schema"] != SCHEMA_ID:
        raise ExportError(f"{path} is {doc['schema']!r}, which does not list its classes; analyse the video again")
    try:
        head = doc["head"]
        predictions = tuple(
            Prediction(
                window_index=int(w["index"]),
                start_s=float(w["start_s"]),
                end_s=float(w["end_s"]),
                labels=tuple(str(c["label"]) for c in w["top_k"]),
                scores=tuple(float(c["score"]) for c in w["top_k"]),
                class_ids=tuple(int(c["class_id"]) for c in w["top_k"]),
                coverage_s=float(w["coverage_s"]),
                duplicated=int(w["duplicated"]),
                missing=int(w["missing"]),
                timings=StageTimings(**{f"{k}_ms": float(v) for k, v in w.get("timings_ms", {}).items()}),
            )
            for w in doc["windows"]
        )
        return Timeline(
            source=str(doc["source"]),
            labels=tuple(str(label) for label in head["labels"]),
            predictions=predictions,
            window_s=float(doc["window_s"]),
            stride_s=float(doc["stride_s"]),
            step_s=float(doc["step_s"]),
            clip_len=int(doc["clip_len"]),
            top_k=int(doc["top_k"]),
            model=str(doc["model"]),
            precision=str(doc["precision"]),
            device=str(doc["device"]),
            decoder_device=str(doc.get("decoder_device") or doc["device"]),  # files before it: one device
            smoothing=int(doc["smoothing"]),
            frames_decoded=int(doc["frames_decoded"]),
            frames_corrupt=int(doc["frames_corrupt"]),
            truncated=bool(doc["truncated"]),
            duration_s=float(doc["duration_s"]),
            head="" if head["kind"] == "model" else str(head["name"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportError(f"{path} is malformed: {type(exc).__name__}: {exc}") from exc


# -- CSV and WebVTT ----------------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{float(x):.6f}".rstrip("0").rstrip(".")  # 0.0625, 1, 0.000003: no exponent, no noise


def csv_text(text: str) -> str:
    """A text cell a spreadsheet shows as text: a leading ``'`` when it would start a formula.

    ``=``, ``+``, ``-``, ``@`` (and their full-width forms), a tab or a carriage return at the start
    make Excel, LibreOffice and Google Sheets evaluate the cell (OWASP "CSV injection").

    Example:
        >>> print(csv_text("=1+2"), csv_text("-x"), csv_text("arm wrestling"), sep=" | ")
        '=1+2 | '-x | arm wrestling
    """
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def write_csv(timeline: Timeline, path: str | os.PathLike[str], *, threshold: float = 0.0) -> Path:
    r"""One row per window: ``window,start_s,end_s,coverage_s,duplicated,missing,label_1,score_1,...,uncertain``.

    There are ``timeline.top_k`` label/score pairs (empty cells when a window holds fewer), the
    real class names even for an uncertain window; scores are probabilities 0..1; the last column
    ``uncertain`` is ``true`` when the top-1 probability is below ``threshold``, else ``false``.
    Labels pass through :func:`csv_text` (no cell starts a formula); lines end with ``\n``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ExportError: the file cannot be written.
    """
    k = timeline.top_k
    header = ["window", "start_s", "end_s", "coverage_s", "duplicated", "missing"]
    header += [f"{name}_{i}" for i in range(1, k + 1) for name in ("label", "score")] + ["uncertain"]
    with atomic_write(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for p in timeline.predictions:
            row = [p.window_index, _num(p.start_s), _num(p.end_s), _num(p.coverage_s), p.duplicated, p.missing]
            for i in range(k):
                row += [csv_text(p.labels[i]), _num(p.scores[i])] if i < len(p.labels) else ["", ""]
            writer.writerow([*row, "false" if p.is_certain(threshold) else "true"])
    return Path(path)


def vtt_time(seconds: float) -> str:
    """``HH:MM:SS.mmm`` as WebVTT wants it, e.g. ``vtt_time(62.5) == "00:01:02.500"``."""
    ms = round(max(0.0, seconds) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    return f"{h:02d}:{m:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def write_vtt(timeline: Timeline, path: str | os.PathLike[str], *, threshold: float = 0.0) -> Path:
    """WebVTT subtitles: one cue per segment, e.g. ``arm wrestling (87%)``.

    Segments whose windows are below ``threshold`` (uncertain) get **no cue**: the caption
    disappears while the model is unsure (a class named "uncertain" is a class: it gets its cue).
    Cue times are the segments' source times (what happens when), contiguous and never
    overlapping. Cue text escapes ``&``, ``<`` and ``>`` (so no ``-->`` either) and line breaks
    become spaces: a label can never end a cue or start another.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ExportError: the file cannot be written.
    """
    made_by = _one_line(" ".join(x for x in (f"actionrec {__version__}", timeline.model, timeline.precision) if x))
    lines = ["WEBVTT", "", f"NOTE {made_by}", ""]
    for n, (start_s, end_s, text) in enumerate(vtt_cues(timeline, threshold=threshold), 1):
        lines += [str(n), f"{vtt_time(start_s)} --> {vtt_time(end_s)}", text, ""]
    with atomic_write(path, "w", newline="\n") as f:
        f.write("\n".join(lines))
    return Path(path)


def vtt_cues(timeline: Timeline, *, threshold: float = 0.0) -> list[tuple[float, float, str]]:
    """The WebVTT export's cues as ``(start_s, end_s, text)``: what :func:`write_vtt` writes.

    Times are whole milliseconds (a cue lasts at least 1 ms); the text is escaped cue text. The
    timeline view builds its subtitles from these, so they are the export's captions exactly.
    """
    cues = []
    for seg in timeline.segments(threshold=threshold):
        if seg.uncertain:
            continue
        start_ms, end_ms = round(seg.start_s * 1000), round(seg.end_s * 1000)
        text = _one_line(f"{seg.label} ({round(seg.mean_score * 100)}%)")
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        cues.append((start_ms / 1000, max(end_ms, start_ms + 1) / 1000, text))
    return cues


def _one_line(text: str) -> str:
    """``text`` with every line break (and run of them) as one space: a WebVTT line stays one line."""
    return _LINE_BREAKS.sub(" ", text)


def _stem_of(source: str) -> str:
    """A file stem for ``source`` (a path or URL): its name without suffix, in safe characters."""
    name = Path(source.rstrip("/").split("?", 1)[0]).stem if source else ""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "timeline"
