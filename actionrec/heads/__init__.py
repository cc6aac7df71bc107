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

from .actions import ACTIONS_FORMAT, CustomActions
from .evaluation import ActionsEvaluation, ExampleResult, TrainedOn
from .event_rules import EventRule, check_rule_labels, load_rules, parse_rule, read_rules_file
from .events import ActionEvent, EventTracker, detect_events
from .examples import UNKNOWN, ActionExample, examples_from_folder, parse_example
from .groups import OTHER, LabelGroups, example_groups, load_groups
from .training import ExampleFeatures, collect_features, fit_actions, train_actions

__all__ = [
    "ACTIONS_FORMAT",
    "OTHER",
    "UNKNOWN",
    "ActionEvent",
    "ActionExample",
    "ActionsEvaluation",
    "CustomActions",
    "EventRule",
    "EventTracker",
    "ExampleFeatures",
    "ExampleResult",
    "LabelGroups",
    "TrainedOn",
    "check_rule_labels",
    "collect_features",
    "detect_events",
    "example_groups",
    "examples_from_folder",
    "fit_actions",
    "load_groups",
    "load_rules",
    "parse_example",
    "parse_rule",
    "read_rules_file",
    "train_actions",
]
