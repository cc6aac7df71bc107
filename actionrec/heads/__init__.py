"""What is applied to the decoder's outputs: label groups, custom actions, action events.

A head (:class:`~actionrec.pipeline.decoded.Head`) turns a window's decoder outputs (logits and
the pooled feature) into probabilities over its own classes; the recognizers
(:class:`~actionrec.pipeline.Recognizer`, :class:`~actionrec.pipeline.LiveRecognizer`) take one
with ``head=``, and everything after them (top-k, smoothing, thresholds, segments, exports, the
player) reads those classes like the model's own. Events are found on any timeline's scores.

- :mod:`~actionrec.heads.groups`: :class:`LabelGroups` (label groups and allow-lists, with an
  explicit ``other``), :func:`load_groups` (a file or a shipped example: :func:`example_groups`)
- :mod:`~actionrec.heads.event_rules` and :mod:`~actionrec.heads.events`: :class:`EventRule`,
  :func:`parse_rule`, :func:`load_rules`; :class:`ActionEvent`, :func:`detect_events` and the
  live :class:`EventTracker`
"""

from .event_rules import EventRule, check_rule_labels, load_rules, parse_rule, read_rules_file
from .events import ActionEvent, EventTracker, detect_events
from .groups import OTHER, LabelGroups, example_groups, load_groups

__all__ = [
    "OTHER",
    "ActionEvent",
    "EventRule",
    "EventTracker",
    "LabelGroups",
    "check_rule_labels",
    "detect_events",
    "example_groups",
    "load_groups",
    "load_rules",
    "parse_rule",
    "read_rules_file",
]
