"""Few-shot custom actions: a head trained in seconds on a handful of clips, with an *unknown* state.

Training (:func:`~actionrec.heads.training.train_actions`) reads each example's windows from
:meth:`Recognizer.analyze_windows <actionrec.pipeline.Recognizer.analyze_windows>`: the decoder's
pooled feature per window (the tensor feeding its classifier, averaged over time), cached on disk
beside the embeddings, so only clips never analysed before touch the encoder. An example's windows
are those whose **centre** lies inside its time range (every window of a whole clip).

Then (:func:`~actionrec.heads.training.fit_actions`), in three parts, each fitted on the examples'
windows (every example weighs the same, however many windows it has):

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
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import HeadError, HeadMismatchError
from ..results import softmax
from .evaluation import ActionsEvaluation, ExampleResult, TrainedOn
from .examples import UNKNOWN, ActionExample, check_action_name

ACTIONS_FORMAT = "actionrec.actions/1"
"""The custom-actions file format written by :meth:`CustomActions.save` (JSON)."""

DEFAULT_C = 1.0
"""Inverse L2 strength of the logistic regression (scikit-learn's default)."""
RADIUS_MARGIN = 1.5
"""An action's unknown radius, as a multiple of the 95th percentile of its held-out examples' distances."""
RADIUS_QUANTILE = 0.95
SOFTNESS = 0.1
"""Width of the unknown ramp around the radius, in radius units."""


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
        z = standardise(features, self.mean, self.scale)
        return with_unknown(class_probabilities(z, self.coef, self.intercept), self._distances(z), self.radii)

    def radius_ratios(self, features: np.ndarray) -> np.ndarray:
        """``[W]`` each window's smallest distance to an action in units of its radius.

        Below 1: like some action's examples; above 1: mostly *unknown*.
        """
        z = standardise(np.asarray(features), self.mean, self.scale)
        return (self._distances(z) / self.radii).min(axis=1)

    def _distances(self, z: np.ndarray) -> np.ndarray:
        return nearest_distances(z, self.windows, self.window_actions, len(self.actions))

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


# -- the arithmetic the head and its training share ----------------------------------------------


def standardise(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(features - mean) / scale`` in float64."""
    return (np.asarray(features, np.float64) - mean) / scale


def class_probabilities(z: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """``[W, A]`` softmax of the logistic regression's scores of standardised windows ``z``."""
    return softmax(z @ coef.T + intercept)


def nearest_distances(z: np.ndarray, windows: np.ndarray, window_actions: np.ndarray, num_actions: int) -> np.ndarray:
    """``[W, A]`` RMS distance of each window to the nearest training window of each action."""
    f = max(z.shape[1], 1)
    sq = (z**2).sum(axis=1)[:, None] - 2 * (z @ windows.T) + (windows**2).sum(axis=1)[None, :]
    d = np.sqrt(np.maximum(sq, 0.0) / f)
    out = np.empty((len(z), num_actions))
    for a in range(num_actions):
        out[:, a] = d[:, window_actions == a].min(axis=1) if len(z) else 0.0
    return out


def with_unknown(probs: np.ndarray, distances: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """``[W, A + 1]``: the actions' ``probs`` scaled by ``1 - unknown``, then the unknown share of each window."""
    ratio = (distances / radii).min(axis=1) if distances.shape[1] else np.zeros(len(distances))
    x = np.clip((ratio - 1.0) / SOFTNESS, -60.0, 60.0)
    unknown = 1.0 / (1.0 + np.exp(-x))
    return np.concatenate([probs * (1.0 - unknown)[:, None], unknown[:, None]], axis=1)
