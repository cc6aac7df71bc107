"""Everything ``action_recognition.ipynb`` uses, in one import: ``import notebook_utils as nu``.

The engine's public names (models, runtime, pipeline, video, export, doctor) and the notebook-only
helpers (plots, widgets, the live player, the upload control, the browser camera) are re-exported
here and imported **on first use**: ``import notebook_utils`` itself loads neither OpenVINO nor
ipywidgets, anywidget or matplotlib.

The code lives in the package (:mod:`actionrec` and :mod:`actionrec.notebook`); this file only maps
names to where they live, so the notebook's cells stay a few lines each and nothing here keeps
state between cells.

Example:
    >>> import notebook_utils as nu
    >>> files = nu.resolve_model(precision="FP16")        # doctest: +SKIP
    >>> models = nu.compile_models(files, device="CPU")   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    # engine
    "resolve_model": "actionrec.models",
    "fetch_sample": "actionrec.models",
    "load_labels": "actionrec.models",
    "compile_models": "actionrec.models",
    "available_devices": "actionrec.models",
    "Recognizer": "actionrec.pipeline",
    "LiveRecognizer": "actionrec.pipeline",
    "RecognizerOptions": "actionrec.pipeline",
    "open_video": "actionrec.video",
    "crop_rect": "actionrec.pipeline",
    "preprocess": "actionrec.pipeline",
    "Prediction": "actionrec.results",
    "Timeline": "actionrec.results",
    "export_timeline": "actionrec.export",
    "run_doctor": "actionrec.doctor",
    # pictures
    "show_frame_with_crop": "actionrec.notebook.display",
    "window_strip": "actionrec.notebook.display",
    "embedding_heatmap": "actionrec.notebook.display",
    "topk_bars": "actionrec.notebook.display",
    "plot_timeline": "actionrec.notebook.display",
    "video_html": "actionrec.notebook.display",
    "file_links": "actionrec.notebook.display",
    # walk-through steps
    "clip_for": "actionrec.notebook.session",
    "video_summary": "actionrec.notebook.session",
    "read_frame": "actionrec.notebook.session",
    "sample_window": "actionrec.notebook.session",
    "encode_window": "actionrec.notebook.session",
    "decode_window": "actionrec.notebook.session",
    "describe_models": "actionrec.notebook.session",
    "describe_timeline": "actionrec.notebook.session",
    "export_all": "actionrec.notebook.session",
    # widgets
    "ModelChoice": "actionrec.notebook.panels",
    "UploadPanel": "actionrec.notebook.panels",
    "choose_live_source": "actionrec.notebook.panels",
    "doctor": "actionrec.notebook.panels",
    "LivePlayer": "actionrec.notebook.player",
    "ChunkedUpload": "actionrec.notebook.upload",
    "BrowserCamera": "actionrec.notebook.browser_camera",
    "display": "IPython.display",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import ``name`` from its module on first use (PEP 562), then keep it here."""
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'notebook_utils' has no attribute {name!r}; available: {__all__}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
