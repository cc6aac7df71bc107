"""What is applied to the decoder's outputs: label groups, custom actions, action events.

A head (:class:`~actionrec.pipeline.decoded.Head`) turns a window's decoder outputs (logits and
the pooled feature) into probabilities over its own classes; the recognizers
(:class:`~actionrec.pipeline.Recognizer`, :class:`~actionrec.pipeline.LiveRecognizer`) take one
with ``head=``, and everything after them (top-k, smoothing, thresholds, segments, exports, the
player) reads those classes like the model's own. Events are found on any timeline's scores.
"""

from .event_rules import EventRule, check_rule_labels, load_rules, parse_rule, read_rules_file
from .events import ActionEvent, EventTracker, detect_events

__all__ = [
    "ActionEvent",
    "EventRule",
    "EventTracker",
    "check_rule_labels",
    "detect_events",
    "load_rules",
    "parse_rule",
    "read_rules_file",
]
