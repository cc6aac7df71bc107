"""Training custom actions: examples' windows from the cache, the fit, leave-one-example-out.

:func:`train_actions` reads each example's windows (:func:`collect_features`), then
:func:`fit_actions` fits the head and evaluates it; the method is in :mod:`actionrec.heads.actions`.

Example:
    >>> head = train_actions(Recognizer(models), ["waving=a.mp4", "waving=b.mp4@2-6",
    ...                                           "clapping=c.mp4", "clapping=d.mp4"])  # doctest: +SKIP
    >>> print(head.evaluation)                                                        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import HeadError
from ..redact import redact_url
from .actions import (
    DEFAULT_C,
    RADIUS_MARGIN,
    RADIUS_QUANTILE,
    CustomActions,
    class_probabilities,
    nearest_distances,
    standardise,
    with_unknown,
)
from .evaluation import ActionsEvaluation, ExampleResult, TrainedOn
from .examples import UNKNOWN, ActionExample, parse_example

RANGE_SLACK_S = 0.25
"""How far a range may end past a clip's last frame (rounding: ``@5-10`` on a 9.96 s clip)."""
_SCALE_FLOOR = 0.01
_MIN_RADIUS = 1e-3


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
        z = standardise(x[i], fold["mean"], fold["scale"])
        distances = nearest_distances(z, fold["windows"], fold["window_actions"], len(actions))
        held.append((class_probabilities(z, fold["coef"], fold["intercept"]), distances))
    own = [actions.index(e.example.action) for e in examples]
    results = []
    classes = (*actions, UNKNOWN)
    for i, e in enumerate(examples):
        radii = _radii(held, own, len(actions), leave_out=i)
        probs = with_unknown(held[i][0], held[i][1], radii).mean(axis=0)
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
    z = standardise(features, mean, scale)
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
