"""Exports of a :class:`~actionrec.results.Timeline`: JSON, CSV, WebVTT and an annotated video.

- :mod:`~actionrec.export.timeline`: JSON (schema ``actionrec.timeline/2``; ``/1`` stays published), CSV,
  WebVTT
- :mod:`~actionrec.export.files`: :func:`export_timeline` / :func:`export_source`, every format by name
- :mod:`~actionrec.export.video`: the browser-playable annotated video (H.264 MP4 or VP9 WebM)
- :mod:`~actionrec.export.browser`: what browsers play, and an H.264 copy of what they do not
- :mod:`~actionrec.export.view`: the data of the interactive timeline (``timeline_view.js``)
- :mod:`~actionrec.export.report`: the self-contained HTML report (:func:`write_report`)
- :mod:`~actionrec.export.events`: the action events table (CSV, JSON) and its peak thumbnails
- :mod:`~actionrec.export.recording`: a live session's recording (the frames as shown, its timeline)
"""

from .browser import BrowserPlayability, browser_playability, transcode_for_browser
from .events import (
    EVENTS_SCHEMA_ID,
    EventThumbnail,
    events_to_dicts,
    export_events,
    write_event_thumbnails,
    write_events_csv,
    write_events_json,
)
from .files import FORMATS, export_source, export_timeline
from .recording import Recording, RecordingError, SessionRecorder
from .report import write_report
from .timeline import (
    SCHEMA_ID,
    SCHEMA_VERSIONS,
    csv_text,
    head_to_dict,
    read_json,
    read_timeline,
    schema_text,
    timeline_to_dict,
    vtt_cues,
    vtt_time,
    write_csv,
    write_json,
    write_vtt,
)
from .video import VIDEO_CODECS, AnnotatedVideoWriter, CropFn, write_annotated_video
from .view import VIEW_SCHEMA_ID, view_document

__all__ = [
    "EVENTS_SCHEMA_ID",
    "FORMATS",
    "SCHEMA_ID",
    "SCHEMA_VERSIONS",
    "VIDEO_CODECS",
    "VIEW_SCHEMA_ID",
    "AnnotatedVideoWriter",
    "BrowserPlayability",
    "CropFn",
    "EventThumbnail",
    "Recording",
    "RecordingError",
    "SessionRecorder",
    "browser_playability",
    "csv_text",
    "events_to_dicts",
    "export_events",
    "export_source",
    "export_timeline",
    "head_to_dict",
    "read_json",
    "read_timeline",
    "schema_text",
    "timeline_to_dict",
    "transcode_for_browser",
    "view_document",
    "vtt_cues",
    "vtt_time",
    "write_annotated_video",
    "write_csv",
    "write_event_thumbnails",
    "write_events_csv",
    "write_events_json",
    "write_json",
    "write_report",
    "write_vtt",
]
