"""Source doctor: can this machine run the tutorial, and what to fix when it cannot.

``python -m actionrec doctor`` (or ``notebook_utils.doctor()`` in the notebook) checks OpenVINO and
its devices (a GPU and an NPU row: present, or the driver to install), local cameras, the browser
camera and secure context (notebook only), which codecs OpenCV decodes here (tiny clips made with
PyAV), https download support (nothing is fetched), the upload limit, free disk for the models and
the model files. One row per check: a verdict, what was
found, and the fix. FAIL means a default path of the tutorial will not work (e.g. H.264, the sample
clip's codec, does not decode); WARN means an optional one will not (no local camera, AV1 files).

This module runs the checks (:mod:`actionrec.doctor.checks`) into a report
(:mod:`actionrec.doctor.report`); ``python -m actionrec doctor`` lives in :mod:`actionrec.cli.doctor`.

Example:
    >>> report = run_doctor(cameras=())   # doctest: +SKIP
    >>> print(report.to_text())           # doctest: +SKIP
    >>> report.ok, report.get("decode H.264").verdict   # doctest: +SKIP
    (True, 'OK')
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from .. import settings
from ..errors import ModelNotFoundError
from ..models.registry import MODELS, PRECISIONS
from .checks import (
    CODEC_NAMES,
    FIXES,
    check_accelerator,
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
from .report import BrowserStatus, Check, DoctorReport


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
        codecs: codecs to test (see :data:`CODEC_NAMES`).
        required_codecs: those whose failure is a FAIL row (the others WARN).
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
        *(_guard(kind, lambda kind=kind: check_accelerator(kind)) for kind in ("GPU", "NPU")),
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
