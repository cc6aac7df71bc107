"""actionrec: human action recognition with OpenVINO (Open Model Zoo action-recognition-0001).

The engine behind ``action_recognition.ipynb``, usable without Jupyter (``python -m actionrec
--help``, or ``actionrec --help`` once installed). ``import actionrec`` is light: each public name
below is imported from its concern's folder on first use (PEP 562), so OpenVINO, OpenCV and
matplotlib load only when they are needed.

One folder per concern, lowest layer first: ``errors``, ``settings``; ``atomic``, ``results``;
``download``, ``render``; :mod:`actionrec.models` and :mod:`actionrec.video`;
:mod:`actionrec.pipeline`; :mod:`actionrec.heads` (custom actions...); :mod:`actionrec.export`;
:mod:`actionrec.insight` (which frames mattered, A/B compare); :mod:`actionrec.doctor` and ``bench``;
:mod:`actionrec.cli`; :mod:`actionrec.notebook` (widgets, not imported here).

Example:
    >>> import actionrec
    >>> actionrec.RecognizerOptions(stride_s=0.25).top_k
    5
    >>> files = actionrec.resolve_model(precision="FP16")              # doctest: +SKIP
    >>> models = actionrec.compile_models(files, device="CPU")         # doctest: +SKIP
    >>> timeline = actionrec.Recognizer(models).analyze("clip.mp4")    # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_attributes
from .version import __version__

# public name -> the module it is imported from (each package's __init__ re-exports its public names)
EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "ActionRecError",
            "ChecksumMismatchError",
            "ClipTooShortError",
            "DeviceNotAvailableError",
            "DownloadError",
            "ExportError",
            "HeadError",
            "HeadMismatchError",
            "LabelsError",
            "ModelNotFoundError",
            "ModelOutputError",
            "OfflineError",
            "UploadError",
            "AnalysisCancelledError",
            "CompareError",
            "OutsideClipError",
            "VideoDecodeError",
            "VideoOpenError",
        ),
        "actionrec.errors",
    ),
    **dict.fromkeys(("Prediction", "Segment", "StageTimings", "Timeline"), "actionrec.results"),
    **dict.fromkeys(
        (
            "ActionModels",
            "ModelFiles",
            "available_devices",
            "compile_models",
            "fetch_labels",
            "fetch_sample",
            "load_labels",
            "resolve_model",
        ),
        "actionrec.models",
    ),
    **dict.fromkeys(
        (
            "Frame",
            "LiveFrameSource",
            "ResolvedSource",
            "VideoInfo",
            "VideoSource",
            "VideoStats",
            "aopen_video",
            "open_video",
            "resolve_source",
        ),
        "actionrec.video",
    ),
    **dict.fromkeys(
        (
            "EncodedVideo",
            "LiveRecognizer",
            "Recognizer",
            "RecognizerOptions",
            "SamplingGrid",
            "crop_rect",
            "preprocess",
        ),
        "actionrec.pipeline",
    ),
    **dict.fromkeys(
        ("ActionExample", "ActionsEvaluation", "CustomActions", "parse_example", "train_actions"), "actionrec.heads"
    ),
    **dict.fromkeys(
        (
            "AnnotatedVideoWriter",
            "export_source",
            "export_timeline",
            "read_json",
            "read_timeline",
            "write_annotated_video",
            "write_report",
        ),
        "actionrec.export",
    ),
    **dict.fromkeys(
        (
            "ActionEvent",
            "EventRule",
            "EventTracker",
            "LabelGroups",
            "detect_events",
            "example_groups",
            "load_groups",
            "load_rules",
            "parse_rule",
        ),
        "actionrec.heads",
    ),
    "export_events": "actionrec.export",
    **dict.fromkeys(
        ("CompareConfig", "Comparison", "Explanation", "compare", "explain", "write_comparison", "write_explanation"),
        "actionrec.insight",
    ),
    **dict.fromkeys(("Check", "DoctorReport", "run_doctor"), "actionrec.doctor"),
    "main": "actionrec.cli",
}

__all__ = sorted(EXPORTS)


__getattr__, __dir__ = lazy_attributes(__name__, EXPORTS, globals())

if TYPE_CHECKING:  # what a type checker and an IDE see; at run time the names load on first use
    from .cli import main
    from .doctor import Check, DoctorReport, run_doctor
    from .errors import (
        ActionRecError,
        AnalysisCancelledError,
        ChecksumMismatchError,
        ClipTooShortError,
        CompareError,
        DeviceNotAvailableError,
        DownloadError,
        ExportError,
        HeadError,
        HeadMismatchError,
        LabelsError,
        ModelNotFoundError,
        ModelOutputError,
        OfflineError,
        OutsideClipError,
        UploadError,
        VideoDecodeError,
        VideoOpenError,
    )
    from .export import (
        AnnotatedVideoWriter,
        export_events,
        export_source,
        export_timeline,
        read_json,
        read_timeline,
        write_annotated_video,
        write_report,
    )
    from .heads import (
        ActionEvent,
        ActionExample,
        ActionsEvaluation,
        CustomActions,
        EventRule,
        EventTracker,
        LabelGroups,
        detect_events,
        example_groups,
        load_groups,
        load_rules,
        parse_example,
        parse_rule,
        train_actions,
    )
    from .insight import (
        CompareConfig,
        Comparison,
        Explanation,
        compare,
        explain,
        write_comparison,
        write_explanation,
    )
    from .models import (
        ActionModels,
        ModelFiles,
        available_devices,
        compile_models,
        fetch_labels,
        fetch_sample,
        load_labels,
        resolve_model,
    )
    from .pipeline import (
        EncodedVideo,
        LiveRecognizer,
        Recognizer,
        RecognizerOptions,
        SamplingGrid,
        crop_rect,
        preprocess,
    )
    from .results import Prediction, Segment, StageTimings, Timeline
    from .video import (
        Frame,
        LiveFrameSource,
        ResolvedSource,
        VideoInfo,
        VideoSource,
        VideoStats,
        aopen_video,
        open_video,
        resolve_source,
    )
