"""``python -m actionrec analyze INPUT...``: batch analysis with exports and a summary per file.

Each input is analysed on its own: any error of one input (the project's own, or a ``ValueError``
or ``RuntimeError`` from OpenVINO, PyAV, numpy...) prints one ``FAILED path: Type: message`` line
and the others still complete; Ctrl+C stops the batch. The exit code is non-zero when any input
failed. A folder expands to the files in it (an image
folder, holding only images, is one image-sequence input). With ``--ray`` the inputs run on Ray
workers (:mod:`actionrec.cli.analyze_ray`, docs/distributed.md); exports and lines are the same.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from pathlib import Path

from .. import settings
from ..errors import ActionRecError
from ..redact import redact_text, redact_url
from .analyze_ray import add_ray_args, analyses, check_ray_args
from .common import add_device_args, add_model_args, devices_from_args, resolve_from_args

FORMATS = ("json", "csv", "vtt", "mp4", "html")
_OV_LOCATION = re.compile(r"Exception from \S+:\d+:?")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def expand_inputs(inputs: list[str]) -> list[str]:
    """Folders become their files (sorted); image-only folders, URLs and camera indices stay."""
    out: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
            if files and all(f.suffix.lower() in IMAGE_SUFFIXES for f in files):
                out.append(item)
            elif files:
                out.extend(str(f) for f in files)
            else:
                out.append(item)  # an empty folder: open_video reports it
        else:
            out.append(item)
    return out


def parse_formats(text: str) -> tuple[str, ...]:
    """``"json,csv"`` -> ``("json", "csv")``; unknown names raise ``argparse.ArgumentTypeError``."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        shown = ", ".join(bad) if bad else repr(text)
        raise argparse.ArgumentTypeError(f"unknown format(s) {shown}; valid: {','.join(FORMATS)}")
    return names


def add_args(p: argparse.ArgumentParser) -> None:
    """Add the ``analyze`` flags to ``p``: inputs, model flags, window/stride/top-k/smoothing, exports."""
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, folders or http(s) URLs")
    add_model_args(p)
    add_device_args(p)
    p.add_argument("--window-s", type=float, default=settings.DEFAULT_WINDOW_S, help="seconds per window")
    p.add_argument("--stride-s", type=float, default=settings.DEFAULT_STRIDE_S, help="seconds between windows")
    p.add_argument("--top-k", type=int, default=settings.DEFAULT_TOP_K, help="classes kept per window")
    p.add_argument(
        "--smooth", type=int, default=settings.DEFAULT_SMOOTHING, help="windows averaged per prediction (centred)"
    )
    p.add_argument("--threshold", type=float, default=0.0, help="top-1 probability below which a span is uncertain")
    p.add_argument("--out", help="export folder (default: data/out/)")
    p.add_argument("--formats", type=parse_formats, default=("json", "csv", "vtt"), help="any of json,csv,vtt,mp4,html")
    p.add_argument("--webm", action="store_true", help="annotated video as VP9 WebM instead of H.264 MP4")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    add_events_arg(p)
    add_groups_arg(p)
    add_actions_arg(p)
    p.add_argument(
        "--max-download-mb",
        type=_megabytes,
        help="refuse URL inputs larger than this many MB, counted on the bytes received "
        "(env AR_MAX_DOWNLOAD_MB; default: the upload limit AR_MAX_UPLOAD_MB, 2048)",
    )
    add_ray_args(p)


def add_events_arg(p: argparse.ArgumentParser) -> None:
    """``--events RULES`` (repeatable): an event rule or a rules file (docs/events.md)."""
    p.add_argument(
        "--events",
        action="append",
        metavar="RULES",
        help="an event rule, e.g. 'clapping > 0.6 for 1.5s', or a rules file (JSON or one rule per line); "
        "repeatable; writes STEM.events.csv/.json and thumbnails, and lists the events (docs/events.md)",
    )


def event_rules(args: argparse.Namespace) -> tuple | None:
    """The ``--events`` rules (``None`` without ``--events``); read before any model is loaded.

    Raises:
        HeadError: a malformed rule or rules file.
    """
    if not getattr(args, "events", None):
        return None
    from ..heads.event_rules import load_rules

    return load_rules(args.events)


def check_event_labels(rules: tuple | None, labels: tuple[str, ...]) -> None:
    """Every ``--events`` rule names one of the timeline's classes (the head's, else the model's).

    Raises:
        HeadError: a class the timeline does not have (the closest names given).
    """
    if rules is not None:
        from ..heads.event_rules import check_rule_labels

        check_rule_labels(rules, labels)


def add_groups_arg(p: argparse.ArgumentParser) -> None:
    """``--groups FILE``: label groups instead of the model's classes (docs/groups.md)."""
    from ..heads.groups import example_groups

    p.add_argument(
        "--groups",
        metavar="FILE",
        help="sum the model's classes into label groups plus 'other': a .json/.toml groups file or a "
        f"shipped example ({', '.join(example_groups())}); see docs/groups.md",
    )


def groups_head(args: argparse.Namespace, models):
    """The :class:`~actionrec.heads.LabelGroups` of ``--groups`` read against ``models``' labels, or ``None``.

    Raises:
        HeadError: the file is missing or malformed, or names a label the model does not have.
    """
    if not getattr(args, "groups", None):
        return None
    from ..heads.groups import load_groups

    return load_groups(args.groups, labels=models.labels)


def add_actions_arg(p: argparse.ArgumentParser) -> None:
    """``--actions FILE``: custom actions (``python -m actionrec learn``) instead of the model's classes."""
    p.add_argument(
        "--actions",
        metavar="FILE",
        help="classify into the custom actions of FILE (from `python -m actionrec learn`) plus unknown",
    )


def actions_head(args: argparse.Namespace, models):
    """The custom-action head of ``--actions`` (checked against ``models``), or ``None`` without it.

    Raises:
        HeadError: the file is missing or malformed, or ``--groups`` is given too.
        HeadMismatchError: it was trained on other models.
    """
    from ..errors import HeadError
    from ..heads import CustomActions

    if not getattr(args, "actions", None):
        return None
    if getattr(args, "groups", None):
        raise HeadError("--actions and --groups cannot be combined: a timeline has one set of classes; give one")
    head = CustomActions.load(settings.resolve_path(args.actions))
    head.check_models(models)
    return head


def _megabytes(text: str) -> float:
    """``--max-download-mb``: a positive number of megabytes (``argparse.ArgumentTypeError`` otherwise)."""
    try:
        settings.max_download_bytes(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of megabytes; e.g. 500") from None
    return float(text)


def run_analyze(args: argparse.Namespace) -> int:
    """Analyse videos: timeline of top-k actions, exported as JSON/CSV/WebVTT/annotated video."""
    from ..export.files import export_source
    from ..models.runtime import compile_models
    from ..pipeline import Recognizer, RecognizerOptions

    if not 0.0 <= args.threshold <= 1.0:
        raise ActionRecError(f"--threshold {args.threshold} is not a probability; use a value in 0..1")
    try:  # a malformed AR_MAX_DOWNLOAD_MB is one clear line before any work, not one per URL input
        settings.max_download_bytes(args.max_download_mb)
    except ValueError as exc:
        raise ActionRecError(str(exc)) from None
    check_ray_args(args)
    rules = event_rules(args)  # a malformed rule is one clear line before any work
    files = resolve_from_args(args)
    models = compile_models(files, **devices_from_args(args), hint="THROUGHPUT", cache_dir=args.cache_dir)
    head = actions_head(args, models) or groups_head(args, models)  # --actions refuses --groups
    try:
        options = RecognizerOptions(
            window_s=args.window_s, stride_s=args.stride_s, top_k=args.top_k, smoothing=args.smooth
        )
        recognizer = Recognizer(models, options=options, head=head)
    except ValueError as exc:
        raise ActionRecError(str(exc)) from None
    check_event_labels(rules, recognizer.head.labels if recognizer.head is not None else models.labels)
    out_dir = settings.resolve_path(args.out) if args.out else settings.data_dir("out")
    failed = 0
    used_stems: set[str] = set()
    for item, analyse in analyses(args, recognizer, files, expand_inputs(args.inputs)):  # --ray: on Ray workers
        shown = redact_url(item)  # an input URL's credentials and query never reach the output
        try:
            timeline = analyse()
            stem = _unique_stem(shown, used_stems)
            events = _detect(timeline, rules)
            formats = tuple("webm" if (f == "mp4" and args.webm) else f for f in args.formats)
            written = export_source(
                timeline,
                item,
                out_dir,
                formats=formats,
                stem=stem,
                input_hw=models.input_size_hw,
                threshold=args.threshold,
                max_download_mb=args.max_download_mb,
                events=events,
            )
            written |= _export_events(events, out_dir, stem=stem, source=item, args=args)
        except Exception as exc:  # one input's failure never ends the batch; Ctrl+C (not an Exception) does
            failed += 1
            print(f"FAILED {shown}: {redact_text(failure_line(exc), str(item))}", file=sys.stderr)
            if getattr(args, "verbose", False):
                traceback.print_exc()
            continue
        print(summary(shown, timeline, written, threshold=args.threshold, events=events))
    if failed:
        print(f"{failed} of {len(expand_inputs(args.inputs))} input(s) failed", file=sys.stderr)
    return 1 if failed else 0


def _detect(timeline, rules) -> tuple | None:
    """The events of ``timeline`` under ``rules`` (``None`` without ``--events``)."""
    if rules is None:
        return None
    from ..heads.events import detect_events

    return detect_events(timeline, rules)


def _export_events(events, out_dir: Path, *, stem: str, source: str, args: argparse.Namespace) -> dict:
    """``STEM.events.csv``, ``STEM.events.json`` and the peak thumbnails (``{}`` without ``--events``)."""
    if events is None:
        return {}
    from ..export.events import export_events

    return export_events(events, out_dir, stem=stem, source=source, max_download_mb=args.max_download_mb)


def failure_line(exc: BaseException) -> str:
    r"""``Type: message`` on one line, for a ``FAILED path: ...`` line (``--verbose`` adds the traceback).

    The message's lines are joined with "; ", leaving out OpenVINO's ``Exception from FILE:LINE:``
    source locations (its real message follows them).

    Example:
        >>> failure_line(RuntimeError("Exception from src/core.cpp:99:\nshape [1,3] is not [1,4]\n"))
        'RuntimeError: shape [1,3] is not [1,4]'
    """
    lines = [line.strip() for line in str(exc).splitlines()]
    kept = [line for line in lines if line and not _OV_LOCATION.fullmatch(line)]
    return f"{type(exc).__name__}: {'; '.join(kept) or '(no message)'}"


def _unique_stem(item: str, used: set[str]) -> str:
    base = Path(item.rstrip("/")).stem or "video"
    stem, n = base, 1
    while stem in used:
        n += 1
        stem = f"{base}-{n}"
    used.add(stem)
    return stem


def summary(item: str, timeline, written: dict, *, threshold: float = 0.0, events=None) -> str:
    """A short per-file summary: windows, the top segments, the events and the files written.

    Args:
        item: the input's name as shown (a URL through :func:`actionrec.redact.redact_url`).
        timeline: its analysis.
        written: ``{format: path}`` of the exports.
        threshold: top-1 probability below which a segment is uncertain.
        events: action events (one line each); ``None``: no events section.
    """
    head = (
        f"{item}: {len(timeline)} windows over {timeline.duration_s:.1f} s "
        f"(window {timeline.window_s:g} s, stride {timeline.stride_s:g} s, {timeline.frames_decoded} frames"
        + (f", {timeline.frames_corrupt} corrupt skipped" if timeline.frames_corrupt else "")
        + (", TRUNCATED: analysed what decodes" if timeline.truncated else "")
        + ")"
    )
    tops = timeline.top_segments(3, threshold=threshold)
    lines = [head] + ([f"  classes: {timeline.head} ({len(timeline.labels)})"] if timeline.head else [])
    lines += [f"  {s.label:<32} {s.start_s:6.1f}–{s.end_s:6.1f} s  mean {s.mean_score:.0%}" for s in tops] or [
        "  (no segment above the threshold)"
    ]
    if events is not None:
        lines.append(f"  {len(events)} event(s)" + (":" if events else ""))
        lines += [
            f"    {e.label:<30} {e.start_s:6.1f}–{e.end_s:6.1f} s  peak {e.peak_score:.0%} at {e.peak_s:.1f} s  "
            f"mean {e.mean_score:.0%}  ({e.rule})"
            for e in events
        ]
    lines += [f"  wrote {fmt}: {path}" for fmt, path in written.items()]
    return "\n".join(lines)
