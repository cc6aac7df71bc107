"""Notebook-only parts: widgets (anywidget front ends), plots, the walk-through steps.

Nothing here is needed by the engine or the CLI. The public names below load on first use, so
importing this package imports neither ipywidgets, anywidget nor matplotlib;
``notebook_utils.py`` re-exports them beside the engine's (:data:`actionrec.__all__`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes

# public name -> the module it is imported from
EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "embedding_heatmap",
            "file_links",
            "plot_timeline",
            "show_frame_with_crop",
            "topk_bars",
            "video_html",
            "window_strip",
        ),
        "actionrec.notebook.display",
    ),
    **dict.fromkeys(
        (
            "clip_for",
            "decode_window",
            "describe_models",
            "describe_timeline",
            "encode_window",
            "export_all",
            "read_frame",
            "sample_window",
            "video_summary",
        ),
        "actionrec.notebook.session",
    ),
    **dict.fromkeys(("ModelChoice", "UploadPanel", "choose_live_source", "doctor"), "actionrec.notebook.panels"),
    **dict.fromkeys(
        ("describe_actions", "example_thumbnails", "plot_confusion", "sample_examples", "upload_examples"),
        "actionrec.notebook.actions_panel",
    ),
    **dict.fromkeys(("LivePlayer", "PlayerReport"), "actionrec.notebook.player"),
    **dict.fromkeys(("draw_event_markers", "events_table"), "actionrec.notebook.events_view"),
    "ChunkedUpload": "actionrec.notebook.upload",
    "GroupEditor": "actionrec.notebook.groups_editor",
    "BrowserCamera": "actionrec.notebook.browser_camera",
    "TimelineWidget": "actionrec.notebook.timeline_widget",
    **dict.fromkeys(("show_comparison", "show_explanation"), "actionrec.notebook.insight_view"),
}

__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, EXPORTS, globals())

if TYPE_CHECKING:
    from .actions_panel import describe_actions, example_thumbnails, plot_confusion, sample_examples, upload_examples
    from .browser_camera import BrowserCamera
    from .display import (
        embedding_heatmap,
        file_links,
        plot_timeline,
        show_frame_with_crop,
        topk_bars,
        video_html,
        window_strip,
    )
    from .events_view import draw_event_markers, events_table
    from .groups_editor import GroupEditor
    from .insight_view import show_comparison, show_explanation
    from .panels import ModelChoice, UploadPanel, choose_live_source, doctor
    from .player import LivePlayer, PlayerReport
    from .session import (
        clip_for,
        decode_window,
        describe_models,
        describe_timeline,
        encode_window,
        export_all,
        read_frame,
        sample_window,
        video_summary,
    )
    from .timeline_widget import TimelineWidget
    from .upload import ChunkedUpload
