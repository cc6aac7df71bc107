"""Few-shot custom actions: a head trained in seconds on a handful of clips, with an *unknown* state.

Training (:func:`train_actions`) reads each example's windows from
:meth:`Recognizer.analyze_windows <actionrec.pipeline.Recognizer.analyze_windows>`: the decoder's
pooled feature per window (the tensor feeding its classifier, averaged over time), cached on disk
beside the embeddings, so only clips never analysed before touch the encoder. An example's windows
are those whose **centre** lies inside its time range (every window of a whole clip).

Then (:func:`fit_actions`), in three parts, each fitted on the examples' windows (every example
weighs the same, however many windows it has):

1. **standardise**: scikit-learn's ``StandardScaler`` (the scale floored at 1 % of the median
   feature's, so a feature that barely varied among the examples cannot dominate a distance);
2. **classify**: scikit-learn's ``LogisticRegression`` (L2, ``C`` = :data:`DEFAULT_C`) on the
   standardised features gives each action's probability;
3. **unknown**: a window's distance to each action, the RMS distance (over the standardised
   features) to that action's nearest training window, in units of that action's radius. Nearest
   windows rather than a centroid, so an action whose examples spread along one direction (a
   scene getting brighter) does not claim everything around its middle. Each radius is
   calibrated by leave-one-example-out: each example's windows are measured against the windows of
   its action's *other* examples (how far a new example of that action falls), and the radius is
   :data:`RADIUS_MARGIN` × the 95th percentile of those distances (so an action whose examples
   vary more gets a wider radius). With ``ratio`` the smallest distance / radius over the actions,
   a window's *unknown* share is ``sigmoid((ratio - 1) / SOFTNESS)`` (half at the radius, under 1 %
   at half of it), and the actions share the rest in the classifier's proportions, so every row
   sums to 1.

The same leave-one-example-out folds evaluate the head before it is trusted
(:class:`ActionsEvaluation`): each example is predicted (the mean of its windows' probabilities,
*unknown* included, with a radius calibrated without it) by a head fitted without it; the
accuracy and the confusion matrix say how well new examples will be recognised.

The head saves as a small JSON file of format :data:`ACTIONS_FORMAT` (no pickles) recording the
examples, the parameters, the evaluation and what it was trained on (model, precision, decoder
and feature); :meth:`CustomActions.check_models` refuses any other model.

Example:
    >>> recognizer = Recognizer(models)                                      # doctest: +SKIP
    >>> head = train_actions(recognizer, ["waving=a.mp4", "waving=b.mp4@2-6",
    ...                                   "clapping=c.mp4", "clapping=d.mp4"])  # doctest: +SKIP
    >>> print(head.evaluation)                                               # doctest: +SKIP
    >>> head.save("my-actions.json")                                         # doctest: +SKIP
    >>> Recognizer(models, head=CustomActions.load("my-actions.json")).analyze("new.mp4")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import HeadError, HeadMismatchError
from ..redact import redact_url
from .examples import UNKNOWN, ActionExample, check_action_name, parse_example

ACTIONS_FORMAT = "actionrec.actions/1"
"""The custom-actions file format written by :meth:`CustomActions.save` (JSON)."""

DEFAULT_C = 1.0
"""Inverse L2 strength of the logistic regression (scikit-learn's default)."""
RADIUS_MARGIN = 1.5
"""An action's unknown radius, as a multiple of the 95th percentile of its held-out examples' distances."""
RADIUS_QUANTILE = 0.95
SOFTNESS = 0.1
"""Width of the unknown ramp around the radius, in radius units."""
RANGE_SLACK_S = 0.25
"""How far a range may end past a clip's last frame (rounding: ``@5-10`` on a 9.96 s clip)."""
_SCALE_FLOOR = 0.01
_MIN_RADIUS = 1e-3


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


@dataclass(frozen=True)
class ExampleFeatures:
    """One example's windows: their pooled decoder features and spans.

    Attributes:
        example: the example.
        features: ``[n, F]`` float32, one row per window whose centre lies inside the range.
        starts_s, ends_s: those windows' spans.
    """

    example: ActionExample
    features: np.ndarray = field(repr=False)
    starts_s: np.ndarray = field(repr=False)
    ends_s: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or not len(self.features) == len(self.starts_s) == len(self.ends_s):
            raise ValueError(f"features must be [n, F] with n spans, got {self.features.shape}")


@dataclass(frozen=True, eq=False)
class CustomActions:
    """A head over custom actions plus *unknown* (satisfies :class:`~actionrec.pipeline.decoded.Head`).

    Made by :func:`train_actions` / :func:`fit_actions` or :meth:`load`; its probabilities come
    from the decoder's pooled features alone (see the module docstring for the method).

    Attributes:
        name: for displays and exports (``"actions: my-actions.json"``).
        actions: the actions, in column order (``labels`` adds ``"unknown"`` last).
        trained_on: the model facts it is valid for.
        examples: what it was trained on, with each example's window count.
        mean, scale: ``[F]`` standardisation.
        coef, intercept: ``[A, F]`` and ``[A]`` of the multinomial logistic regression.
        windows: ``[N, F]`` the training windows, standardised (rounded to 4 decimals).
        window_actions: ``[N]`` each training window's action (an index into ``actions``).
        radii: ``[A]`` each action's radius: the RMS distance to its nearest training window at
            which a window (not nearer another action in radius units) is half *unknown*.
        evaluation: the leave-one-example-out evaluation.
        c: the regression's ``C``.
    """

    name: str
    actions: tuple[str, ...]
    trained_on: TrainedOn
    examples: tuple[tuple[ActionExample, int], ...]
    mean: np.ndarray = field(repr=False)
    scale: np.ndarray = field(repr=False)
    coef: np.ndarray = field(repr=False)
    intercept: np.ndarray = field(repr=False)
    windows: np.ndarray = field(repr=False)
    window_actions: np.ndarray = field(repr=False)
    radii: np.ndarray = field(repr=False)
    evaluation: ActionsEvaluation
    c: float = DEFAULT_C

    def __post_init__(self) -> None:
        a, f = len(self.actions), self.trained_on.feature_dim
        if a < 2 or len(set(self.actions)) != a:
            raise HeadError(f"custom actions need at least two distinct actions, got {list(self.actions)}")
        for action in self.actions:
            check_action_name(action)
        n = len(self.window_actions) if isinstance(self.window_actions, np.ndarray) else -1
        shapes = {"mean": (f,), "scale": (f,), "coef": (a, f), "intercept": (a,), "windows": (n, f), "radii": (a,)}
        for name, shape in shapes.items():
            array = getattr(self, name)
            if not isinstance(array, np.ndarray) or array.shape != shape or not np.isfinite(array).all():
                got = getattr(array, "shape", type(array).__name__)
                raise HeadError(f"custom actions: {name} must be finite numbers of shape {list(shape)}, got {got}")
        if not set(np.unique(self.window_actions).tolist()) == set(range(a)):
            raise HeadError(f"custom actions: window_actions must name each of the {a} actions, got {n} windows")
        if not (self.scale > 0).all() or not (self.radii > 0).all():
            raise HeadError("custom actions: the scale and the radii must be positive")

    @property
    def labels(self) -> tuple[str, ...]:
        """The head's classes: the actions, then ``"unknown"``."""
        return (*self.actions, UNKNOWN)

    # -- the Head protocol --------------------------------------------------------------------
    def check_models(self, models: Any) -> None:
        """Refuse models other than those it was trained on.

        Raises:
            HeadMismatchError: another model, precision, decoder or feature; says which it needs
                and how to retrain.
        """
        try:
            other = TrainedOn.from_models(models, window_s=0.0, stride_s=0.0)
        except (AttributeError, TypeError, ValueError):
            raise HeadMismatchError(f"{self.name}: {type(models).__name__} are not compiled models") from None
        if other._key() == self.trained_on._key():
            return
        t = self.trained_on
        if other.feature_dim == 0:
            problem = f"these models' decoder ({other.model} {other.precision}) has no pooled feature to read"
        else:
            problem = f"these models are {other.describe()}"
        raise HeadMismatchError(
            f"{self.name} was trained on {t.describe()}, but {problem}. Analyse with the models it was trained "
            f"on (--model {t.model} --precision {t.precision}, and the same --model-dir), or retrain it on "
            f"these: python -m actionrec learn --model {other.model} --precision {other.precision} "
            "--example ACTION=VIDEO ... --out FILE"
        )

    def probabilities(self, logits: np.ndarray, features: np.ndarray) -> np.ndarray:
        """``[W, A + 1]`` probabilities over the actions and *unknown* (rows sum to 1) from ``[W, F]`` features.

        ``logits`` (the model's own classes) are not used.

        Raises:
            HeadMismatchError: ``features`` are not ``[W, feature_dim]``.
        """
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[1] != self.trained_on.feature_dim:
            raise HeadMismatchError(
                f"{self.name} reads features of {self.trained_on.feature_dim} values per window, got an array "
                f"of shape {list(features.shape)}; analyse with {self.trained_on.describe()}"
            )
        z = _standardise(features, self.mean, self.scale)
        return _with_unknown(_class_probs(z, self.coef, self.intercept), self._distances(z), self.radii)

    def radius_ratios(self, features: np.ndarray) -> np.ndarray:
        """``[W]`` each window's smallest distance to an action in units of its radius.

        Below 1: like some action's examples; above 1: mostly *unknown*.
        """
        z = _standardise(np.asarray(features), self.mean, self.scale)
        return (self._distances(z) / self.radii).min(axis=1)

    def _distances(self, z: np.ndarray) -> np.ndarray:
        return _distances(z, self.windows, self.window_actions, len(self.actions))

    # -- the file -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON document of :data:`ACTIONS_FORMAT` (what :meth:`save` writes)."""
        return {
            "format": ACTIONS_FORMAT,
            "actions": list(self.actions),
            "labels": list(self.labels),
            "trained_on": {
                "model": self.trained_on.model,
                "precision": self.trained_on.precision,
                "decoder_id": self.trained_on.decoder_id,
                "feature_name": self.trained_on.feature_name,
                "feature_dim": self.trained_on.feature_dim,
                "window_s": self.trained_on.window_s,
                "stride_s": self.trained_on.stride_s,
            },
            "examples": [
                {"action": e.action, "source": e.source, "start_s": e.start_s, "end_s": e.end_s, "windows": n}
                for e, n in self.examples
            ],
            "scaler": {"mean": self.mean.tolist(), "scale": self.scale.tolist()},
            "classifier": {
                "kind": "logistic_regression",
                "C": self.c,
                "coef": self.coef.tolist(),
                "intercept": self.intercept.tolist(),
            },
            "unknown": {
                "kind": "nearest_window_rms_distance",
                "windows": self.windows.tolist(),
                "window_actions": self.window_actions.tolist(),
                "radii": self.radii.tolist(),
                "softness": SOFTNESS,
                "margin": RADIUS_MARGIN,
                "quantile": RADIUS_QUANTILE,
            },
            "evaluation": {
                "method": "leave-one-example-out",
                "accuracy": self.evaluation.accuracy,
                "confusion": self.evaluation.confusion.tolist(),
                "results": [
                    {"example": i, "predicted": r.predicted, "score": r.score}
                    for i, r in enumerate(self.evaluation.results)
                ],
            },
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the head to ``path`` as JSON (:data:`ACTIONS_FORMAT`), atomically.

        Raises:
            ExportError: the folder cannot be written; nothing is left under ``path``.
        """
        text = json.dumps(self.to_dict(), indent=1)
        with atomic_write(path, "w") as f:
            f.write(text + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CustomActions:
        """Read a file written by :meth:`save`, checking its format and every field.

        Raises:
            HeadError: missing, unreadable, another format, or malformed (says which field).
        """
        p = Path(path)
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise HeadError(
                f"custom-actions file {p} does not exist; train one with "
                "python -m actionrec learn --example ACTION=VIDEO ... --out FILE"
            ) from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise HeadError(f"{p} is not a readable custom-actions JSON file ({type(exc).__name__}: {exc})") from None
        return cls.from_dict(doc, name=f"actions: {p.name}", where=str(p))

    @classmethod
    def from_dict(cls, doc: Any, *, name: str, where: str = "custom actions") -> CustomActions:
        """The head of a :meth:`to_dict` document.

        Raises:
            HeadError: another format or a malformed field.
        """
        if not isinstance(doc, dict) or doc.get("format") != ACTIONS_FORMAT:
            got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise HeadError(
                f"{where} is format {got!r}, not {ACTIONS_FORMAT!r}; train a new one with python -m actionrec learn"
            )
        try:
            actions = tuple(doc["actions"])
            t = doc["trained_on"]
            trained_on = TrainedOn(
                model=str(t["model"]),
                precision=str(t["precision"]),
                decoder_id=str(t["decoder_id"]),
                feature_name=str(t["feature_name"]),
                feature_dim=int(t["feature_dim"]),
                window_s=float(t["window_s"]),
                stride_s=float(t["stride_s"]),
            )
            examples = tuple(
                (
                    ActionExample(
                        action=e["action"],
                        source=str(e["source"]),
                        start_s=None if e["start_s"] is None else float(e["start_s"]),
                        end_s=None if e["end_s"] is None else float(e["end_s"]),
                    ),
                    int(e["windows"]),
                )
                for e in doc["examples"]
            )
            ev = doc["evaluation"]
            results = tuple(
                ExampleResult(
                    example=examples[int(r["example"])][0],
                    windows=examples[int(r["example"])][1],
                    predicted=str(r["predicted"]),
                    score=float(r["score"]),
                )
                for r in ev["results"]
            )
            arrays = {
                "mean": doc["scaler"]["mean"],
                "scale": doc["scaler"]["scale"],
                "coef": doc["classifier"]["coef"],
                "intercept": doc["classifier"]["intercept"],
                "windows": doc["unknown"]["windows"],
                "radii": doc["unknown"]["radii"],
            }
            arrays = {k: np.asarray(v, np.float64) for k, v in arrays.items()}
            arrays["window_actions"] = np.asarray(doc["unknown"]["window_actions"], np.int64)
            return cls(
                name=name,
                actions=actions,
                trained_on=trained_on,
                examples=examples,
                evaluation=ActionsEvaluation(actions=actions, results=results),
                c=float(doc["classifier"]["C"]),
                **arrays,
            )
        except HeadError as exc:
            raise HeadError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise HeadError(f"{where} is a malformed custom-actions file ({type(exc).__name__}: {exc})") from None


# -- training ---------------------------------------------------------------------------------


def train_actions(
    recognizer: Any,
    examples: Iterable[ActionExample | str],
    *,
    progress: bool = False,
    cache: bool = True,
    name: str | None = None,
    c: float = DEFAULT_C,
) -> CustomActions:
    """Train a custom-action head on ``examples`` with ``recognizer``'s models and windows.

    Args:
        recognizer: a :class:`~actionrec.pipeline.Recognizer`: its models and options (window,
            stride) cut the training windows; the head is valid for those models only.
        examples: :class:`~actionrec.heads.ActionExample` s or ``--example`` texts
            (``"waving=clip.mp4"``, ``"clapping=long.mp4@12.5-18"``); at least two actions, each
            with at least two examples (the leave-one-example-out evaluation needs them).
        progress: show progress bars while a clip is encoded.
        cache: read and write the embedding and decoder-output cache (a clip analysed before
            runs no inference).
        name: the head's display name (default ``"actions: A, B, ..."``).
        c: the logistic regression's inverse L2 strength.

    Returns:
        The head, with its :attr:`~CustomActions.evaluation`.

    Raises:
        HeadError: malformed examples, too few of them, a range outside its clip or holding no
            window, or models without a pooled feature.
        VideoOpenError, VideoDecodeError, ClipTooShortError: an example's video cannot be analysed.
    """
    parsed = [e if isinstance(e, ActionExample) else parse_example(e) for e in examples]
    _check_counts(parsed)
    models = recognizer.models
    if not getattr(models, "feature_dim", 0):
        raise HeadError(
            f"{models.model} {models.precision}: its decoder has no pooled feature (the input of its last MatMul), "
            "so custom actions cannot be trained on it; use a decoder of the OMZ action-recognition shape"
        )
    trained_on = TrainedOn.from_models(models, window_s=recognizer.grid.window_s, stride_s=recognizer.grid.stride_s)
    features = collect_features(recognizer, parsed, progress=progress, cache=cache)
    return fit_actions(features, trained_on=trained_on, name=name, c=c)


def collect_features(
    recognizer: Any, examples: Sequence[ActionExample], *, progress: bool = False, cache: bool = True
) -> tuple[ExampleFeatures, ...]:
    """Each example's windows (centre inside its range) from :meth:`Recognizer.analyze_windows`.

    A clip named by several examples is analysed once.

    Raises:
        HeadError: a range outside its clip, or holding no window centre.
    """
    decoded: dict[str, Any] = {}
    out = []
    for example in examples:
        if example.source not in decoded:
            decoded[example.source] = recognizer.analyze_windows(example.source, progress=progress, cache=cache)
        d = decoded[example.source]
        centres = (d.starts_s + d.ends_s) / 2
        if example.start_s is None or example.end_s is None:
            keep = np.ones(len(centres), bool)
        else:
            t0 = float(d.starts_s[0]) if d.num_windows else 0.0
            clip_end = max(float(d.ends_s.max()) if d.num_windows else 0.0, t0 + d.duration_s)
            if example.start_s >= clip_end or example.end_s > clip_end + RANGE_SLACK_S:
                raise HeadError(
                    f"example {example.describe()}: the range is outside the clip, which spans "
                    f"{t0:.2f}-{clip_end:.2f} s; give a range within it"
                )
            keep = (centres >= example.start_s) & (centres <= example.end_s)
        if not keep.any():
            raise HeadError(
                f"example {example.describe()} holds no window centre (windows are {d.window_s:g} s long, "
                f"{d.stride_s:g} s apart); make the range at least {d.window_s:g} s long"
            )
        out.append(
            ExampleFeatures(
                example=example,
                features=np.asarray(d.features[keep], np.float32),
                starts_s=d.starts_s[keep],
                ends_s=d.ends_s[keep],
            )
        )
    return tuple(out)


def fit_actions(
    examples: Sequence[ExampleFeatures], *, trained_on: TrainedOn, name: str | None = None, c: float = DEFAULT_C
) -> CustomActions:
    """Fit the head on examples' features and evaluate it leave-one-example-out (no inference).

    Raises:
        HeadError: fewer than two actions, an action with fewer than two examples, or features
            that are not ``[n, trained_on.feature_dim]``.
    """
    _check_counts([e.example for e in examples])
    actions = tuple(dict.fromkeys(e.example.action for e in examples))
    for e in examples:
        if e.features.shape[1] != trained_on.feature_dim:
            raise HeadError(
                f"example {e.example.describe()} has {e.features.shape[1]} features per window, "
                f"but the models give {trained_on.feature_dim}"
            )
    x = [np.asarray(e.features, np.float64) for e in examples]
    y = [np.full(len(f), actions.index(e.example.action)) for e, f in zip(examples, x, strict=True)]
    from threadpoolctl import threadpool_limits

    # These matrices are small: BLAS threads only contend (measured 20x slower on a loaded 2-core machine).
    with threadpool_limits(limits=1):
        return _fit_and_evaluate(examples, x, y, actions, trained_on=trained_on, name=name, c=c)


def _fit_and_evaluate(
    examples: Sequence[ExampleFeatures],
    x: list[np.ndarray],
    y: list[np.ndarray],
    actions: tuple[str, ...],
    *,
    trained_on: TrainedOn,
    name: str | None,
    c: float,
) -> CustomActions:
    # per example: class probabilities and distances to every action, from a fit without it
    held: list[tuple[np.ndarray, np.ndarray]] = []
    for i in range(len(examples)):
        rest = [j for j in range(len(examples)) if j != i]
        fold = _fit([x[j] for j in rest], [y[j] for j in rest], len(actions), c=c)
        z = _standardise(x[i], fold["mean"], fold["scale"])
        distances = _distances(z, fold["windows"], fold["window_actions"], len(actions))
        held.append((_class_probs(z, fold["coef"], fold["intercept"]), distances))
    own = [actions.index(e.example.action) for e in examples]
    results = []
    classes = (*actions, UNKNOWN)
    for i, e in enumerate(examples):
        radii = _radii(held, own, len(actions), leave_out=i)
        probs = _with_unknown(held[i][0], held[i][1], radii).mean(axis=0)
        k = int(np.argmax(probs))
        shown = _shown(e.example)
        results.append(ExampleResult(example=shown, windows=len(x[i]), predicted=classes[k], score=float(probs[k])))
    full = _fit(x, y, len(actions), c=c)
    return CustomActions(
        name=name or f"actions: {', '.join(actions)}",
        actions=actions,
        trained_on=trained_on,
        examples=tuple((_shown(e.example), len(f)) for e, f in zip(examples, x, strict=True)),
        radii=_radii(held, own, len(actions)),
        evaluation=ActionsEvaluation(actions=actions, results=tuple(results)),
        c=c,
        **full,
    )


def _shown(example: ActionExample) -> ActionExample:
    """The example as recorded: a URL without its credentials or query."""
    shown = redact_url(example.source)
    return example if shown == example.source else ActionExample(example.action, shown, example.start_s, example.end_s)


def _check_counts(examples: Sequence[ActionExample]) -> None:
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.action] = counts.get(e.action, 0) + 1
    if len(counts) < 2:
        raise HeadError(
            f"custom actions need at least two actions, got {list(counts) or 'no example'}; "
            "add examples of another action (--example OTHER=clip.mp4)"
        )
    few = [f"{a!r} has {n}" for a, n in counts.items() if n < 2]
    if few:
        raise HeadError(
            f"each action needs at least two examples (one is left out to test the rest): {', '.join(few)}; "
            "add another clip, or split a longer clip into time ranges (ACTION=VIDEO@START-END)"
        )


def _fit(x: Sequence[np.ndarray], y: Sequence[np.ndarray], num_actions: int, *, c: float) -> dict[str, np.ndarray]:
    """Scaler, logistic regression and standardised windows of the examples ``x`` (each example weighs the same)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    features = np.concatenate(x)
    labels = np.concatenate(y)
    weights = np.concatenate([np.full(len(f), len(features) / (len(x) * len(f))) for f in x])
    scaler = StandardScaler().fit(features, sample_weight=weights)
    scale = np.asarray(scaler.scale_, np.float64)
    positive = scale[scale > 1e-12]
    floor = _SCALE_FLOOR * float(np.median(positive)) if len(positive) else 1.0
    scale = np.where(scale > 1e-12, np.maximum(scale, floor), 1.0)
    mean = np.asarray(scaler.mean_, np.float64)
    z = _standardise(features, mean, scale)
    # An L2-penalised linear model's weights lie in the span of its training rows (the representer
    # theorem), so fitting on the rows' coordinates in that span (an orthonormal basis from the SVD:
    # the same penalty, the same scores) gives the same optimum: a few hundred windows instead of F
    # features keeps training on 20 examples within seconds.
    _, sv, vt = np.linalg.svd(z, full_matrices=False)
    basis = vt[sv > sv.max() * 1e-10].T if sv.size and sv.max() > 0 else np.zeros((z.shape[1], 0))
    basis = basis if basis.shape[1] < z.shape[1] else np.eye(z.shape[1])
    model = LogisticRegression(C=c, max_iter=2000).fit(z @ basis, labels, sample_weight=weights)
    coef = np.asarray(model.coef_, np.float64) @ basis.T
    intercept = np.asarray(model.intercept_, np.float64)
    if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row; softmax of [-z/2, z/2] is its sigmoid
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    # rounded as the file keeps them, so a loaded head computes exactly what the trained one does
    windows = np.round(z, 4)
    return {
        "mean": mean,
        "scale": scale,
        "coef": coef,
        "intercept": intercept,
        "windows": windows,
        "window_actions": labels,
    }


def _radii(
    held: Sequence[tuple[np.ndarray, np.ndarray]], own: Sequence[int], num_actions: int, *, leave_out: int = -1
) -> np.ndarray:
    """Each action's radius from its held-out examples' distances to it (``leave_out`` excluded)."""
    radii = np.empty(num_actions)
    for a in range(num_actions):
        d = [held[i][1][:, a] for i in range(len(held)) if own[i] == a and i != leave_out]
        radii[a] = max(RADIUS_MARGIN * float(np.quantile(np.concatenate(d), RADIUS_QUANTILE)), _MIN_RADIUS)
    return radii


def _standardise(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return (np.asarray(features, np.float64) - mean) / scale


def _class_probs(z: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    scores = z @ coef.T + intercept
    scores -= scores.max(axis=1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=1, keepdims=True)


def _distances(z: np.ndarray, windows: np.ndarray, window_actions: np.ndarray, num_actions: int) -> np.ndarray:
    """``[W, A]`` RMS distance of each window to the nearest training window of each action."""
    f = max(z.shape[1], 1)
    sq = (z**2).sum(axis=1)[:, None] - 2 * (z @ windows.T) + (windows**2).sum(axis=1)[None, :]
    d = np.sqrt(np.maximum(sq, 0.0) / f)
    out = np.empty((len(z), num_actions))
    for a in range(num_actions):
        out[:, a] = d[:, window_actions == a].min(axis=1) if len(z) else 0.0
    return out


def _with_unknown(probs: np.ndarray, distances: np.ndarray, radii: np.ndarray) -> np.ndarray:
    ratio = (distances / radii).min(axis=1) if distances.shape[1] else np.zeros(len(distances))
    x = np.clip((ratio - 1.0) / SOFTNESS, -60.0, 60.0)
    unknown = 1.0 / (1.0 + np.exp(-x))
    return np.concatenate([probs * (1.0 - unknown)[:, None], unknown[:, None]], axis=1)
