"""Facts a custom-action head is tied to, and its leave-one-example-out evaluation (the types).

Example:
    >>> r = ExampleResult(ActionExample("waving", "a.mp4"), windows=4, predicted="unknown", score=0.7)
    >>> ev = ActionsEvaluation(actions=("waving", "clapping"), results=(r,))
    >>> ev.accuracy, ev.confusion.tolist()
    (0.0, [[0, 0, 1], [0, 0, 0]])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import HeadError
from .examples import UNKNOWN, ActionExample


@dataclass(frozen=True)
class TrainedOn:
    """What a custom-action head was trained on: its features only mean something there.

    Attributes:
        model, precision: the model name and precision (``action-recognition-0001``, ``FP16``).
        decoder_id: the decoder IR's content id (:attr:`ActionModels.decoder_id`).
        feature_name, feature_dim: the pooled-feature tensor's name and size.
        window_s, stride_s: how the training windows were cut.
    """

    model: str
    precision: str
    decoder_id: str
    feature_name: str
    feature_dim: int
    window_s: float
    stride_s: float

    @classmethod
    def from_models(cls, models: Any, *, window_s: float, stride_s: float) -> TrainedOn:
        """The facts of compiled models (:class:`~actionrec.models.ActionModels`)."""
        return cls(
            model=str(models.model),
            precision=str(models.precision),
            decoder_id=str(models.decoder_id),
            feature_name=str(models.feature_name),
            feature_dim=int(models.feature_dim),
            window_s=float(window_s),
            stride_s=float(stride_s),
        )

    def describe(self) -> str:
        """E.g. ``action-recognition-0001 FP16 (decoder 1a2b3c4d5e6f, feature '670' of 512 values)``."""
        return (
            f"{self.model} {self.precision} (decoder {self.decoder_id[:12] or '?'}, "
            f"feature {self.feature_name!r} of {self.feature_dim} values)"
        )

    def _key(self) -> tuple[str, str, str, str, int]:
        return (self.model, self.precision, self.decoder_id, self.feature_name, self.feature_dim)


@dataclass(frozen=True)
class ExampleResult:
    """How one example fared when left out of training.

    Attributes:
        example: the example.
        windows: its windows.
        predicted: the class its windows' mean probabilities pick (an action or ``"unknown"``).
        score: that mean probability.
    """

    example: ActionExample
    windows: int
    predicted: str
    score: float

    @property
    def correct(self) -> bool:
        """Predicted as its own action."""
        return self.predicted == self.example.action


@dataclass(frozen=True)
class ActionsEvaluation:
    """Leave-one-example-out evaluation of a custom-action head.

    Attributes:
        actions: the actions, in the head's column order.
        results: one per example, in training order.

    Raises:
        HeadError: a result's action or prediction is not one of ``actions`` (or ``unknown``).
    """

    actions: tuple[str, ...]
    results: tuple[ExampleResult, ...]

    def __post_init__(self) -> None:
        classes = (*self.actions, UNKNOWN)
        for r in self.results:
            if r.example.action not in self.actions or r.predicted not in classes:
                raise HeadError(f"evaluation result {r.example.describe()} -> {r.predicted!r} is not among {classes}")

    @property
    def accuracy(self) -> float:
        """Examples predicted as their own action / examples (``nan`` with none)."""
        return sum(r.correct for r in self.results) / len(self.results) if self.results else math.nan

    @property
    def confusion(self) -> np.ndarray:
        """``[A, A + 1]`` example counts: rows the true action, columns the predicted one, then *unknown*."""
        classes = (*self.actions, UNKNOWN)
        matrix = np.zeros((len(self.actions), len(classes)), np.int64)
        for r in self.results:
            matrix[self.actions.index(r.example.action), classes.index(r.predicted)] += 1
        return matrix

    @property
    def missed(self) -> tuple[ExampleResult, ...]:
        """The examples predicted as something else."""
        return tuple(r for r in self.results if not r.correct)

    def __str__(self) -> str:
        classes = (*self.actions, UNKNOWN)
        right = len(self.results) - len(self.missed)
        width = max(len(c) for c in classes)
        lines = [
            f"leave-one-example-out: {right} of {len(self.results)} examples right (accuracy {self.accuracy:.0%})",
            "confusion (rows: the example's action; columns: predicted)",
            " " * (width + 2) + "  ".join(f"{c:>{max(len(c), 3)}}" for c in classes),
        ]
        for action, row in zip(self.actions, self.confusion, strict=True):
            lines.append(
                f"  {action:<{width}}" + "".join(f"  {n:>{max(len(c), 3)}}" for c, n in zip(classes, row, strict=True))
            )
        lines += [f"  missed: {r.example.describe()} -> {r.predicted} ({r.score:.0%})" for r in self.missed]
        return "\n".join(lines)
