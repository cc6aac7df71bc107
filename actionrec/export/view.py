"""The data of the interactive timeline view, shared by the HTML report and the notebook widget.

:func:`view_document` turns a :class:`~actionrec.results.Timeline` (and further lanes: label
groups, custom actions, each a timeline with a ``head``; and action events) into one JSON-able
document; ``timeline_view.js`` draws it under a ``<video>``. Each lane carries the timeline's JSON
export (:func:`~actionrec.export.timeline.timeline_to_dict`), so the view shows exactly the
windows and segments a ``.json`` export holds, and the subtitles are the WebVTT export's cues.

Example:
    >>> doc = view_document(timeline, lanes=[grouped], events=events, threshold=0.3)  # doctest: +SKIP
    >>> [lane["name"] for lane in doc["lanes"]]  # doctest: +SKIP
    ['top-1', 'groups: sports']
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..results import Timeline
from .timeline import head_to_dict, timeline_to_dict, vtt_cues

if TYPE_CHECKING:
    from ..heads.events import ActionEvent

VIEW_SCHEMA_ID = "actionrec.view/1"
_ASSETS = ("timeline_view.js", "timeline_view.css")


def lane_name(timeline: Timeline) -> str:
    """What a lane is called: ``"top-1"`` for the model's own classes, else the timeline's head.

    Example:
        >>> lane_name(timeline)  # doctest: +SKIP
        'top-1'
    """
    head = head_to_dict(timeline)
    return "top-1" if head["kind"] == "model" else timeline.head


def view_document(
    timeline: Timeline,
    *,
    lanes: Sequence[Timeline] = (),
    events: Sequence[ActionEvent] = (),
    threshold: float = 0.0,
) -> dict[str, Any]:
    """The view document of ``timeline``: plain JSON data for ``timeline_view.js``.

    Args:
        timeline: the analysed video (the first lane, its windows and segments).
        lanes: further timelines of the same video under another head (label groups, custom
            actions), one lane each, in order.
        events: action events (:func:`actionrec.heads.detect_events`): a lane of their own.
        threshold: top-1 probability below which windows and segments are uncertain (grey).

    Returns:
        ``{"schema": "actionrec.view/1", "duration_s", "window_s", "stride_s", "threshold",
        "settings", "lanes": [{"name", "timeline"}], "events", "cues"}``: each lane's
        ``"timeline"`` is its JSON export (:func:`timeline_to_dict`; the first one with the
        ``events``), ``"cues"`` the WebVTT export's cues of ``timeline`` as ``{"start_s", "end_s",
        "text"}``, ``"settings"`` what the analysis used (model, precision, device, window, ...).

    Raises:
        ValueError: ``threshold`` is not in 0..1, or a lane is another video than ``timeline``.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in 0..1, got {threshold!r}")
    for lane in lanes:
        if lane.source != timeline.source:
            raise ValueError(
                f"lane {lane_name(lane)!r} is of {lane.source!r}, not of {timeline.source!r}: every lane must be "
                "a timeline of the same video (recognizer.timeline(decoded, head=...))"
            )
    events_data = [e.to_dict() for e in events]
    main = timeline_to_dict(timeline, threshold=threshold, events=list(events) or None)  # as write_json writes it
    docs = [main] + [timeline_to_dict(lane, threshold=threshold) for lane in lanes]
    keys = ("source", "model", "precision", "device", "decoder_device", "window_s", "stride_s", "top_k", "smoothing")
    keys += ("generator",)
    return {
        "schema": VIEW_SCHEMA_ID,
        "duration_s": max([timeline.duration_s] + [w["end_s"] for d in docs for w in d["windows"][-1:]]),
        "window_s": timeline.window_s,
        "stride_s": timeline.stride_s,
        "threshold": threshold,
        "settings": {key: main[key] for key in keys} | {"threshold": threshold, "head": main["head"]["name"]},
        "lanes": [{"name": lane_name(tl), "timeline": d} for tl, d in zip((timeline, *lanes), docs, strict=True)],
        "events": events_data,
        "cues": [{"start_s": a, "end_s": b, "text": text} for a, b, text in vtt_cues(timeline, threshold=threshold)],
    }


def view_assets() -> tuple[str, str]:
    """The timeline component's source: ``(javascript, css)`` (shipped beside this module)."""
    folder = resources.files(__package__)
    js, css = (folder.joinpath(name).read_text(encoding="utf-8") for name in _ASSETS)
    return js, css
