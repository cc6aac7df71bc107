"""The source doctor: can this machine run the tutorial, and what to fix when it cannot.

- :mod:`~actionrec.doctor.report`: the types (:class:`Check`, :class:`DoctorReport`, :class:`BrowserStatus`)
- :mod:`~actionrec.doctor.checks`: one function per check
- :mod:`~actionrec.doctor.run`: :func:`run_doctor`
"""

from .checks import (
    CODEC_NAMES,
    ENCODERS,
    FIXES,
    IPYWIDGETS_UPLOAD_BYTES,
    MODEL_HEADROOM_BYTES,
    SAMPLE_FRAMES,
    SAMPLE_SIZE_PX,
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
from .report import VERDICTS, BrowserStatus, Check, DoctorReport, Verdict
from .run import run_doctor

__all__ = [
    "CODEC_NAMES",
    "ENCODERS",
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
    "check_accelerator",
    "check_browser",
    "check_cameras",
    "check_codec",
    "check_disk",
    "check_https",
    "check_model_files",
    "check_openvino",
    "check_upload_limit",
    "model_plan",
    "run_doctor",
]
