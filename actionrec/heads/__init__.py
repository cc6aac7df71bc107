"""What is applied to the decoder's outputs: label groups, custom actions, action events.

A head (:class:`~actionrec.pipeline.decoded.Head`) turns a window's decoder outputs (logits and
the pooled feature) into probabilities over its own classes; the recognizers
(:class:`~actionrec.pipeline.Recognizer`, :class:`~actionrec.pipeline.LiveRecognizer`) take one
with ``head=``, and everything after them (top-k, smoothing, thresholds, segments, exports, the
player) reads those classes like the model's own. Events are found on any timeline's scores.

- :mod:`~actionrec.heads.groups`: :class:`LabelGroups` (label groups and allow-lists, with an
  explicit ``other``), :func:`load_groups` (a file or a shipped example: :func:`example_groups`)
"""

from .groups import OTHER, LabelGroups, example_groups, load_groups

__all__ = [
    "OTHER",
    "LabelGroups",
    "example_groups",
    "load_groups",
]
