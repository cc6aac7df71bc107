"""The notebook's few-shot step: examples on the sample clips, the evaluation's pictures.

Training itself is :func:`actionrec.heads.train_actions`; this module only gives the walk-through
its examples (time ranges of the two pinned sample clips, or uploads) and draws what the user
checks before trusting the head: the leave-one-example-out confusion matrix and a thumbnail of
every example. Pure functions returning :class:`~actionrec.notebook.display.NotebookFigure`.

Example:
    >>> examples = sample_examples()                                    # doctest: +SKIP
    >>> head = nu.train_actions(nu.Recognizer(models), examples)         # doctest: +SKIP
    >>> plot_confusion(head.evaluation)                                  # doctest: +SKIP
    >>> example_thumbnails(examples)                                     # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..heads import UNKNOWN, ActionExample, ActionsEvaluation, CustomActions
from .display import MUTED, TOP_COLOR, UNCERTAIN_COLOR, NotebookFigure, _figure, _rgb
from .session import read_frames

SAMPLE_RANGES: dict[str, tuple[str, tuple[tuple[float, float], ...]]] = {
    "arm wrestling": ("arm_wrestling", ((0.0, 3.5), (3.5, 7.0), (7.0, 10.0))),
    "flipping pancake": ("flipping_pancake", ((0.0, 3.5), (3.5, 7.0), (7.0, 10.4))),
}
"""The walk-through's examples: action -> (pinned sample clip, time ranges of it in seconds)."""


def sample_examples(
    clips: Mapping[str, str | os.PathLike[str]] | None = None,
    *,
    data_base_url: str | None = None,
    offline: bool = False,
) -> tuple[ActionExample, ...]:
    """Three time-range examples of each of the two pinned sample clips (:data:`SAMPLE_RANGES`).

    Args:
        clips: sample name -> a local copy (``arm_wrestling``, ``flipping_pancake``); missing
            ones are fetched and verified (:func:`~actionrec.models.fetch_sample`).
        data_base_url: mirror for the sample clips (``AR_DATA_BASE_URL``).
        offline: never download; fail if a clip is not cached.

    Raises:
        DownloadError: a clip cannot be fetched (or ``OfflineError`` when offline and not cached).
    """
    from ..models import fetch_sample

    clips = dict(clips or {})
    examples = []
    for action, (sample, ranges) in SAMPLE_RANGES.items():
        path = clips.get(sample) or fetch_sample(sample, data_base_url=data_base_url, offline=offline, progress=False)
        examples += [ActionExample(action, str(path), start, end) for start, end in ranges]
    return tuple(examples)


def upload_examples(action: str, paths: Sequence[str | os.PathLike[str]]) -> tuple[ActionExample, ...]:
    """One whole-clip example of ``action`` per uploaded file (e.g. ``UploadPanel`` paths).

    Raises:
        HeadError: ``action`` cannot name an action (empty, ``unknown``).
    """
    return tuple(ActionExample(action, str(p)) for p in paths)


def plot_confusion(evaluation: ActionsEvaluation) -> NotebookFigure:
    """The leave-one-example-out confusion matrix: examples per true action (rows) and prediction.

    The diagonal is green, misses orange; the title gives the accuracy.
    """
    matrix = evaluation.confusion
    rows, cols = evaluation.actions, (*evaluation.actions, UNKNOWN)
    fig = _figure(1.2 + 1.05 * len(cols), 0.9 + 0.55 * len(rows))
    ax = fig.subplots()
    ax.imshow(np.zeros(matrix.shape), cmap="Greys", vmin=0, vmax=1, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            n = int(matrix[i, j])
            color = TOP_COLOR if i == j and n else UNCERTAIN_COLOR if n else MUTED
            ax.text(j, i, str(n), ha="center", va="center", color=color, fontsize=13, fontweight="bold")
    ax.set_xticks(range(len(cols)), cols, rotation=20, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("predicted (left out of training)")
    ax.set_ylabel("example's action")
    right = len(evaluation.results) - len(evaluation.missed)
    ax.set_title(f"leave-one-example-out: {right} of {len(evaluation.results)} right ({evaluation.accuracy:.0%})")
    return fig


def example_thumbnails(
    examples: Sequence[ActionExample] | CustomActions, *, evaluation: ActionsEvaluation | None = None, columns: int = 6
) -> NotebookFigure:
    """A thumbnail of each example (its clip at the middle of its range), titled with its action.

    Args:
        examples: the examples, or a trained head (its examples and evaluation).
        evaluation: marks each example's leave-one-out prediction (a miss in orange).
        columns: thumbnails per row.

    Raises:
        ValueError: no examples.
        VideoOpenError, VideoDecodeError: an example's clip cannot be read.
    """
    if isinstance(examples, CustomActions):
        evaluation = evaluation or examples.evaluation
        examples = [e for e, _ in examples.examples]
    if not examples:
        raise ValueError("no examples to show")
    predicted = {i: r for i, r in enumerate(evaluation.results)} if evaluation is not None else {}
    n = len(examples)
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    fig = _figure(1.9 * columns, 1.9 * rows + 0.3)
    axes = np.atleast_1d(fig.subplots(rows, columns)).reshape(-1)
    middles = [(e.start_s + e.end_s) / 2 if e.start_s is not None and e.end_s is not None else 0.0 for e in examples]
    images = {}  # one pass over each clip, whatever number of its ranges are examples
    for source in dict.fromkeys(e.source for e in examples):
        mine = [i for i, e in enumerate(examples) if e.source == source]
        for i, frame in zip(mine, read_frames(source, at_s=[middles[i] for i in mine]), strict=True):
            images[i] = frame.image_bgr
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        e = examples[i]
        ax.imshow(_rgb(images[i]))
        span = f"{e.start_s:g}-{e.end_s:g} s" if e.start_s is not None else "whole clip"
        title, color = f"{e.action}\n{os.path.basename(e.source)} {span}", "black"
        if i in predicted and not predicted[i].correct:
            title, color = f"{title}\nleft out: {predicted[i].predicted}", UNCERTAIN_COLOR
        ax.set_title(title, fontsize=8, color=color, fontweight="normal")
    return fig


def describe_actions(head: CustomActions) -> str:
    """What the head recognises, what it was trained on, and its evaluation, as text."""
    windows = sum(n for _, n in head.examples)
    lines = [
        f"{head.name}: {', '.join(head.actions)} (+ {UNKNOWN})",
        f"trained on {len(head.examples)} examples ({windows} windows) of {head.trained_on.describe()}",
        str(head.evaluation),
    ]
    return "\n".join(lines)
