"""Source doctor: can this machine run the tutorial, and what to fix when it cannot.

``python -m actionrec doctor`` (or ``notebook_utils.doctor()`` in the notebook) checks OpenVINO and
its devices, local cameras, the browser camera and secure context (notebook only), which codecs
OpenCV decodes here (tiny clips made with PyAV), https download support (nothing is fetched), the
upload limit, free disk for the models and the model files. One row per check: a verdict, what was
found, and the fix. FAIL means a default path of the tutorial will not work (e.g. H.264, the sample
clip's codec, does not decode); WARN means an optional one will not (no local camera, AV1 files).

This module holds the report types, :func:`run_doctor` and the ``doctor`` command; the checks
themselves live in :mod:`actionrec.doctor_checks` and are re-exported here.

Example:
    >>> report = run_doctor(cameras=())   # doctest: +SKIP
    >>> print(report.to_text())           # doctest: +SKIP
    >>> report.ok, report.get("decode H.264").verdict   # doctest: +SKIP
    (True, 'OK')
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from . import settings
from .cli import command

# The checks live in doctor_checks (it imports Check from here only when a check runs); their
# names are re-exported so ``from actionrec.doctor import check_codec, FIXES`` keeps working.
from .doctor_checks import (
    CODEC_NAMES,
    ENCODERS,
    FIXES,
    IPYWIDGETS_UPLOAD_BYTES,
    MODEL_HEADROOM_BYTES,
    SAMPLE_FRAMES,
    SAMPLE_SIZE_PX,
    check_browser,
    check_cameras,
    check_codec,
    check_disk,
    check_https,
    check_model_files,
    check_openvino,
    check_upload_limit,
    model_plan,
)
from .errors import ModelNotFoundError
from .registry import MODELS, PRECISIONS
from .settings import ENV_MAX_UPLOAD_MB

__all__ = [
    "CODEC_NAMES",
    "ENCODERS",
    "ENV_MAX_UPLOAD_MB",
    "FIXES",
    "IPYWIDGETS_UPLOAD_BYTES",
    "MODEL_HEADROOM_BYTES",
    "SAMPLE_FRAMES",
    "SAMPLE_SIZE_PX",
    "VERDICTS",
    "BrowserStatus",
    "Check",
    "DoctorReport",
    "Verdict",
    "check_browser",
    "check_cameras",
    "check_codec",
    "check_disk",
    "check_https",
    "check_model_files",
    "check_openvino",
    "check_upload_limit",
    "run_doctor",
    "run_doctor_cli",
]

Verdict = Literal["OK", "WARN", "FAIL", "SKIP"]
VERDICTS: tuple[str, ...] = ("OK", "WARN", "FAIL", "SKIP")


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table.

    Attributes:
        name: what was checked, e.g. ``"decode H.264"``.
        verdict: ``OK``; ``WARN`` (an optional path will not work); ``FAIL`` (a default path will
            not work); ``SKIP`` (not checked here).
        detail: what was found.
        fix: what to do; required for WARN and FAIL.
    """

    name: str
    verdict: Verdict
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a check needs a name")
        if self.verdict not in VERDICTS:
            raise ValueError(f"check {self.name!r}: verdict {self.verdict!r} is not one of {VERDICTS}")
        if self.verdict in ("WARN", "FAIL") and not self.fix:
            raise ValueError(f"check {self.name!r}: a {self.verdict} needs a fix telling the user what to do")


@dataclass(frozen=True)
class DoctorReport:
    """All checks of one doctor run; a table in the terminal (``to_text``) and the notebook (HTML)."""

    checks: tuple[Check, ...]

    def __post_init__(self) -> None:
        if not all(isinstance(c, Check) for c in self.checks):
            raise TypeError(f"DoctorReport.checks must hold Check objects, got {self.checks!r}")

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return all(c.verdict != "FAIL" for c in self.checks)

    def get(self, name: str) -> Check:
        """The check called ``name``.

        Raises:
            KeyError: no such check (the message lists the names).
        """
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r}; checks: {', '.join(c.name for c in self.checks)}")

    def summary(self) -> str:
        """Counts per verdict, e.g. ``"7 OK, 2 WARN, 0 FAIL, 3 SKIP"``."""
        return ", ".join(f"{sum(c.verdict == v for c in self.checks)} {v}" for v in VERDICTS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"ok": bool, "summary": str, "checks": [{name, verdict, detail, fix}, ...]}``."""
        return {"ok": self.ok, "summary": self.summary(), "checks": [asdict(c) for c in self.checks]}

    def to_text(self, *, detail_width: int = 46, fix_width: int = 56) -> str:
        """One aligned plain-text table (check | verdict | detail | fix); long cells wrap."""
        rows = [("check", "verdict", "detail", "fix"), *((c.name, c.verdict, c.detail, c.fix) for c in self.checks)]
        name_w = max(len(r[0]) for r in rows)
        lines = []
        for name, verdict, detail, fix in rows:
            left = textwrap.wrap(detail, detail_width, break_on_hyphens=False) or [""]
            right = textwrap.wrap(fix, fix_width, break_on_hyphens=False) or [""]
            for k in range(max(len(left), len(right))):
                d, f = (left[k] if k < len(left) else ""), (right[k] if k < len(right) else "")
                head = f"{name:<{name_w}}  {verdict:<7}" if k == 0 else " " * (name_w + 9)
                lines.append(f"{head}  {d:<{detail_width}}  {f}".rstrip())
            if name == "check" and verdict == "verdict":
                lines.append("-" * (name_w + detail_width + fix_width + 13))
        return "\n".join([*lines, "", f"{self.summary()}: {'no failures' if self.ok else 'fix the FAIL rows'}"])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.to_text())  # IPython's plain-text view (e.g. a console kernel)

    def _repr_html_(self) -> str:
        colours = {"OK": "#1a7f37", "WARN": "#9a6700", "FAIL": "#cf222e", "SKIP": "#6e7781"}
        td = "text-align:left;vertical-align:top;padding:2px 8px"
        rows = "".join(
            f"<tr><td style='{td};white-space:nowrap'>{html.escape(c.name)}</td>"
            f"<td style='{td};color:{colours[c.verdict]};font-weight:bold'>{c.verdict}</td>"
            f"<td style='{td}'>{html.escape(c.detail)}</td><td style='{td}'>{html.escape(c.fix)}</td></tr>"
            for c in self.checks
        )
        head = "".join(f"<th style='{td}'>{h}</th>" for h in ("check", "verdict", "detail", "fix"))
        verdict = "no failures" if self.ok else "fix the FAIL rows"
        caption = f"<caption style='text-align:left'><b>Doctor</b>: {self.summary()}: {verdict}</caption>"
        return f"<table class='actionrec-doctor'>{caption}<tr>{head}</tr>{rows}</table>"


@dataclass(frozen=True)
class BrowserStatus:
    """What the browser-camera widget reports about the page (``None`` = not reported).

    Attributes:
        front_end: False in a headless kernel (nbclient), where no widget ever renders.
        secure_context: ``window.isSecureContext``.
        has_media_devices: whether ``navigator.mediaDevices.getUserMedia`` exists.
        camera_permission: ``"granted"``, ``"denied"``, ``"prompt"`` or ``None``.
        error: the ``getUserMedia`` error, e.g. ``"NotFoundError: Requested device not found"``.
    """

    front_end: bool
    secure_context: bool | None = None
    has_media_devices: bool | None = None
    camera_permission: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.camera_permission not in ("granted", "denied", "prompt", None):
            raise ValueError(f"camera_permission {self.camera_permission!r} is not granted, denied, prompt or None")


def run_doctor(
    *,
    cameras: Iterable[int] = range(0, 3),
    codecs: Iterable[str] = tuple(CODEC_NAMES),
    required_codecs: Iterable[str] = ("h264",),
    model: str = settings.DEFAULT_MODEL,
    precision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    browser: BrowserStatus | None = None,
    upload_limit_bytes: int | None = None,
    capture_factory: Callable[[int], Any] | None = None,
    camera_timeout_s: float = 2.0,
) -> DoctorReport:
    """Run every check and return the report; what it finds never raises.

    Args:
        cameras: local camera indices to try; empty skips the check.
        codecs: codecs to test (see :data:`CODEC_NAMES`); ``required_codecs`` FAIL, others WARN.
        model: the model family whose files and disk needs are checked.
        precision: its precision (default ``AR_PRECISION`` or FP16).
        cache_dir: as ``--cache-dir`` (env ``AR_CACHE_DIR``).
        model_dir: as ``--model-dir`` (env ``AR_MODEL_DIR``).
        browser: what the browser-camera widget reported; ``None`` (command line) skips those checks.
        upload_limit_bytes: the upload limit; ``None`` checks the one the upload widget applies
            (``AR_MAX_UPLOAD_MB`` megabytes, else 2 GB).
        capture_factory: ``index -> VideoCapture``-like (default ``cv2.VideoCapture``).
        camera_timeout_s: bound on opening one camera and reading one frame.

    Returns:
        A :class:`DoctorReport`; ``report.ok`` is False when any check FAILs.

    Raises:
        ValueError: an unknown codec name.
    """
    codecs, required = tuple(codecs), set(required_codecs)
    unknown = [c for c in (*codecs, *required) if c not in CODEC_NAMES]
    if unknown:
        raise ValueError(f"codec {unknown[0]!r} is not known; valid: {', '.join(CODEC_NAMES)}")
    precision = precision or settings.env_str(settings.ENV_PRECISION, settings.DEFAULT_PRECISION)
    cache, local = settings.cache_dir(cache_dir), settings.model_dir(model_dir)
    checks = [
        _guard("OpenVINO", check_openvino),
        _guard(
            "local camera", lambda: check_cameras(cameras, capture_factory=capture_factory, timeout_s=camera_timeout_s)
        ),
        *check_browser(browser),
    ]
    with tempfile.TemporaryDirectory(prefix="ar-doctor-") as tmp:
        for c in codecs:
            checks.append(
                _guard(f"decode {CODEC_NAMES[c]}", lambda c=c: check_codec(c, workdir=tmp, required=c in required))
            )
    checks += [
        _guard("https downloads", check_https),
        _guard("upload limit", lambda: check_upload_limit(upload_limit_bytes)),
    ]
    try:
        plan = model_plan(model, precision, cache, local)
    except ModelNotFoundError as exc:
        fix = FIXES["model_name"].format(models=", ".join(MODELS), precisions=", ".join(PRECISIONS))
        checks += [
            Check("disk space", "SKIP", "unknown model"),
            Check("model files", "FAIL", str(exc).split(";")[0], fix),
        ]
        return DoctorReport(tuple(checks))
    fetch = FIXES["fetch"].format(model=model, precision=precision) + (f" --cache-dir {cache_dir}" if cache_dir else "")
    checks += [
        _guard("disk space", lambda: check_disk(plan, cache=cache)),
        _guard("model files", lambda: check_model_files(plan, fetch_cmd=fetch)),
    ]
    return DoctorReport(tuple(checks))


def _guard(name: str, check: Callable[[], Check]) -> Check:
    # The doctor must finish and show every row: a check that crashes becomes its own FAIL row.
    try:
        return check()
    except Exception as exc:  # reported to the user as a FAIL row with its message, never swallowed
        return Check(name, "FAIL", f"the check crashed: {type(exc).__name__}: {exc}", FIXES["crash"])


def _doctor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cameras", default="0,1,2", help="camera indices to try, comma-separated (default: %(default)s)")
    p.add_argument("--no-cameras", action="store_true", help="do not try local cameras")
    p.add_argument("--codecs", default=",".join(CODEC_NAMES), help="codecs to test (default: %(default)s)")
    p.add_argument(
        "--model", default=settings.DEFAULT_MODEL, help="model whose files are checked (default: %(default)s)"
    )
    precision = settings.env_str(settings.ENV_PRECISION, settings.DEFAULT_PRECISION)
    p.add_argument("--precision", default=precision, choices=PRECISIONS, help="env AR_PRECISION; default: %(default)s")
    p.add_argument("--cache-dir", help="verified download cache (env AR_CACHE_DIR; default: model/)")
    p.add_argument("--model-dir", help="models on disk in the OMZ layout (env AR_MODEL_DIR)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")


@command("doctor", _doctor_args)
def run_doctor_cli(args: argparse.Namespace) -> int:
    """Check this machine: OpenVINO, cameras, codecs, https, upload limit, disk, model files."""
    try:
        cameras = () if args.no_cameras else tuple(int(i) for i in args.cameras.split(",") if i.strip())
        codecs = tuple(c.strip().lower() for c in args.codecs.split(",") if c.strip())
        report = run_doctor(
            cameras=cameras,
            codecs=codecs,
            model=args.model,
            precision=args.precision,
            cache_dir=args.cache_dir,
            model_dir=args.model_dir,
        )
    except ValueError as exc:
        print(f"error: --cameras {args.cameras!r} / --codecs {args.codecs!r}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    return 0 if report.ok else 1
