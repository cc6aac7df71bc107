"""Exports of a :class:`~actionrec.results.Timeline`: JSON, CSV, WebVTT and an annotated video.

- :mod:`~actionrec.export.timeline`: JSON (schema ``actionrec.timeline/2``; ``/1`` stays published), CSV,
  WebVTT, :func:`export_timeline`
- :mod:`~actionrec.export.video`: the browser-playable annotated video (H.264 MP4 or VP9 WebM)
- :mod:`~actionrec.export.events`: the action events table (CSV, JSON) and its peak thumbnails
- :mod:`~actionrec.export.recording`: a live session's recording (the frames as shown, its timeline)
"""

from .events import (
    EVENTS_SCHEMA_ID,
    EventThumbnail,
    events_to_dicts,
    export_events,
    write_event_thumbnails,
    write_events_csv,
    write_events_json,
)
from .recording import Recording, RecordingError, SessionRecorder
from .timeline import (
    FORMATS,
    SCHEMA_ID,
    SCHEMA_VERSIONS,
    csv_text,
    export_source,
    export_timeline,
    head_to_dict,
    read_json,
    schema_text,
    timeline_to_dict,
    vtt_time,
    write_csv,
    write_json,
    write_vtt,
)
from .video import VIDEO_CODECS, AnnotatedVideoWriter, CropFn, write_annotated_video

__all__ = [
    "EVENTS_SCHEMA_ID",
    "FORMATS",
    "SCHEMA_ID",
    "SCHEMA_VERSIONS",
    "VIDEO_CODECS",
    "AnnotatedVideoWriter",
    "CropFn",
    "EventThumbnail",
    "Recording",
    "RecordingError",
    "SessionRecorder",
    "csv_text",
    "events_to_dicts",
    "export_events",
    "export_source",
    "export_timeline",
    "head_to_dict",
    "read_json",
    "schema_text",
    "timeline_to_dict",
    "vtt_time",
    "write_annotated_video",
    "write_csv",
    "write_event_thumbnails",
    "write_events_csv",
    "write_events_json",
    "write_json",
    "write_vtt",
]
