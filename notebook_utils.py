"""Everything ``action_recognition.ipynb`` uses, in one import: ``import notebook_utils as nu``.

The engine's public names (:data:`actionrec.__all__`: models, video, pipeline, results, export,
doctor) and the notebook-only ones (:data:`actionrec.notebook.__all__`: plots, the walk-through
steps, widgets, the live player, the upload control, the browser camera) are re-exported here and
imported **on first use**: ``import notebook_utils`` itself loads neither OpenVINO nor ipywidgets,
anywidget or matplotlib.

This file stays beside the notebook and is not installed (other notebook collections ship a
module of this name); it keeps no state between cells.

Example:
    >>> import notebook_utils as nu
    >>> "Recognizer" in nu.__all__ and "LivePlayer" in nu.__all__
    True
    >>> files = nu.resolve_model(precision="FP16")        # doctest: +SKIP
    >>> models = nu.compile_models(files, device="CPU")   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import actionrec
import actionrec.notebook
from actionrec.lazy import lazy_attributes

_EXPORTS: dict[str, str] = {
    **actionrec.EXPORTS,
    **actionrec.notebook.EXPORTS,
    "display": "IPython.display",  # IPython's display(), for the live player's widget
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for readers, IDEs and type checkers; a test keeps it equal to __all__
    from IPython.display import display

    from actionrec import (
        ActionEvent,
        ActionExample,
        ActionModels,
        ActionRecError,
        ActionsEvaluation,
        AnalysisCancelledError,
        AnnotatedVideoWriter,
        Check,
        ChecksumMismatchError,
        ClipTooShortError,
        CompareConfig,
        CompareError,
        Comparison,
        CustomActions,
        DeviceNotAvailableError,
        DoctorReport,
        DownloadError,
        EncodedVideo,
        EventRule,
        EventTracker,
        Explanation,
        ExportError,
        Frame,
        HeadError,
        HeadMismatchError,
        LabelGroups,
        LabelsError,
        LiveFrameSource,
        LiveRecognizer,
        ModelFiles,
        ModelNotFoundError,
        ModelOutputError,
        OfflineError,
        OutsideClipError,
        Prediction,
        Recognizer,
        RecognizerOptions,
        ResolvedSource,
        SamplingGrid,
        Segment,
        StageTimings,
        Timeline,
        UploadError,
        VideoDecodeError,
        VideoInfo,
        VideoOpenError,
        VideoSource,
        VideoStats,
        aopen_video,
        available_devices,
        compare,
        compile_models,
        crop_rect,
        detect_events,
        example_groups,
        explain,
        export_events,
        export_source,
        export_timeline,
        fetch_labels,
        fetch_sample,
        load_groups,
        load_labels,
        load_rules,
        main,
        open_video,
        parse_example,
        parse_rule,
        preprocess,
        read_json,
        read_timeline,
        resolve_model,
        resolve_source,
        run_doctor,
        train_actions,
        write_annotated_video,
        write_comparison,
        write_explanation,
        write_report,
    )
    from actionrec.notebook import (
        BrowserCamera,
        ChunkedUpload,
        GroupEditor,
        LivePlayer,
        ModelChoice,
        PlayerReport,
        TimelineWidget,
        UploadPanel,
        choose_live_source,
        clip_for,
        decode_window,
        describe_actions,
        describe_models,
        describe_timeline,
        doctor,
        draw_event_markers,
        embedding_heatmap,
        encode_window,
        events_table,
        example_thumbnails,
        export_all,
        file_links,
        plot_confusion,
        plot_timeline,
        read_frame,
        sample_examples,
        sample_window,
        show_comparison,
        show_explanation,
        show_frame_with_crop,
        topk_bars,
        upload_examples,
        video_html,
        video_summary,
        window_strip,
    )
