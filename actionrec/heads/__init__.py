"""What is applied to the decoder's outputs: label groups, custom actions, action events.

A head (:class:`~actionrec.pipeline.decoded.Head`) turns a window's decoder outputs (logits and
the pooled feature) into probabilities over its own classes; the recognizers
(:class:`~actionrec.pipeline.Recognizer`, :class:`~actionrec.pipeline.LiveRecognizer`) take one
with ``head=``, and everything after them (top-k, smoothing, thresholds, segments, exports, the
player) reads those classes like the model's own. Events are found on any timeline's scores.
"""

from .actions import ACTIONS_FORMAT, CustomActions
from .evaluation import ActionsEvaluation, ExampleResult, TrainedOn
from .examples import UNKNOWN, ActionExample, examples_from_folder, parse_example
from .training import ExampleFeatures, collect_features, fit_actions, train_actions

__all__ = [
    "ACTIONS_FORMAT",
    "UNKNOWN",
    "ActionExample",
    "ActionsEvaluation",
    "CustomActions",
    "ExampleFeatures",
    "ExampleResult",
    "TrainedOn",
    "collect_features",
    "examples_from_folder",
    "fit_actions",
    "parse_example",
    "train_actions",
]
