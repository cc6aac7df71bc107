"""Occlusion of time steps: replace one embedding of a window, run the decoder again, measure the drop.

Only the decoder runs (the embeddings come from the cache or one encoder pass), so explaining a
window costs ``1 + 2 * clip_len`` decoder calls (33 for the OMZ models) and a whole video
``1 + clip_len`` per window (the mean baseline only). What the drop means, and what it does not,
is in ``docs/explain.md``.

Example:
    >>> win = explain_window(models, encoded, grid=grid, at_s=2.0)  # doctest: +SKIP
    >>> win.ranked("mean")[:3]                                       # doctest: +SKIP
    (5, 4, 6)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ClipTooShortError, OutsideClipError
from ..models.runtime import ActionModels
from ..pipeline.encoded import EncodedVideo
from ..pipeline.jobs import InferJobs, logits_of
from ..pipeline.sampling import SamplingGrid
from ..results import softmax
from .report import Moment, VideoExplanation, WindowExplanation

CHUNK_WINDOWS = 64  # windows occluded per batch of decoder requests: bounds memory on long videos


def decode_inputs(models: ActionModels, inputs: np.ndarray) -> np.ndarray:
    """Run the decoder on each ``[clip_len, D]`` input of ``inputs`` (``[M, clip_len, D]``), asynchronously.

    Returns:
        ``[M, num_classes]`` logits, in the order of ``inputs``.

    Raises:
        ModelOutputError: the decoder's output does not hold one value per label.
    """
    out = np.empty((len(inputs), models.num_classes), np.float32)

    def done(request: Any, i: int) -> None:
        out[i] = logits_of(request.get_output_tensor(0).data, num_classes=models.num_classes)

    optimal = int(models.decoder.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    jobs = InferJobs(models.decoder, max(1, min(len(inputs), optimal)), done)
    try:
        for i in range(len(inputs)):
            jobs.start_async({0: np.ascontiguousarray(inputs[i][None], np.float32)}, i)
        jobs.wait_all()
    finally:
        jobs.drain()  # never free a queue with requests running
    return out


def occluded(window: np.ndarray, baseline: str) -> np.ndarray:
    """``[T, T, D]``: ``window`` (``[T, D]``) T times, copy ``t`` with sample ``t`` replaced.

    ``"mean"`` puts the window's mean embedding in its place; ``"neighbour"`` the previous sample's
    (the next one's for sample 0).

    Raises:
        ValueError: an unknown ``baseline``, or a window of fewer than 2 samples.

    Example:
        >>> w = np.arange(6, dtype=np.float32).reshape(3, 2)
        >>> occluded(w, "neighbour")[0].tolist(), occluded(w, "mean")[2].tolist()
        ([[2.0, 3.0], [2.0, 3.0], [4.0, 5.0]], [[0.0, 1.0], [2.0, 3.0], [2.0, 3.0]])
    """
    t_len = len(window)
    if t_len < 2:
        raise ValueError(f"occlusion needs a window of at least 2 samples, got {t_len}")
    out = np.repeat(window[None], t_len, axis=0)
    idx = np.arange(t_len)
    if baseline == "mean":
        out[idx, idx] = window.mean(axis=0)
    elif baseline == "neighbour":
        out[idx, idx] = window[np.where(idx == 0, 1, idx - 1)]
    else:
        raise ValueError(f"baseline {baseline!r} is not 'mean' or 'neighbour'")
    return out


def window_at(encoded: EncodedVideo, grid: SamplingGrid, at_s: float) -> int:
    """The window of ``grid`` a viewer means by ``at_s``: among those whose span holds it, the most centred.

    A time inside the clip but outside every complete window (its last fraction of a second)
    gives the nearest window.

    Raises:
        ClipTooShortError: the clip holds no complete window.
        OutsideClipError: ``at_s`` lies outside the clip's frames (the message gives the span).
    """
    windows = grid.count_windows(encoded.num_samples)
    if windows == 0:
        raise ClipTooShortError(
            f"{encoded.source} is too short for one window of {grid.clip_len} samples ({grid.window_s:g} s); "
            "use a longer clip"
        )
    first = float(encoded.frame_times_s[0]) if encoded.num_samples else encoded.t0_s
    last = float(encoded.frame_times_s[-1])
    if not (np.isfinite(at_s) and first - 1e-6 <= at_s <= last + grid.step_s):
        last_end = grid.window_span(windows - 1, encoded.t0_s)[1]
        raise OutsideClipError(
            f"at_s={at_s} s is outside the clip {encoded.source}: it spans {first:.2f}–{last:.2f} s "
            f"(its {windows} windows cover {encoded.t0_s:.2f}–{last_end:.2f} s); give a time in that span"
        )
    centres = np.array([sum(grid.window_span(w, encoded.t0_s)) / 2 for w in range(windows)])
    return int(np.argmin(np.abs(centres - at_s)))


def explain_window(
    models: ActionModels,
    encoded: EncodedVideo,
    *,
    grid: SamplingGrid,
    at_s: float | None = None,
    window_index: int | None = None,
) -> WindowExplanation:
    """Occlude each time step of one window, with both baselines, and measure its top class's drop.

    Args:
        models: the compiled models (only the decoder runs).
        encoded: the video's embeddings (:class:`~actionrec.pipeline.EncodedVideo`).
        grid: the sampling grid the windows follow (the recognizer's).
        at_s: the time to explain (the window chosen by :func:`window_at`); or
        window_index: the window itself. Give exactly one.

    Returns:
        Per sample, the drop of the window's top-1 probability under each baseline.

    Raises:
        ValueError: neither or both of ``at_s`` and ``window_index``; an index out of range.
        OutsideClipError, ClipTooShortError: see :func:`window_at`.
    """
    if (at_s is None) == (window_index is None):
        raise ValueError("give exactly one of at_s (seconds) and window_index")
    if window_index is None:
        window_index = window_at(encoded, grid, float(at_s))
    windows = grid.count_windows(encoded.num_samples)
    if not 0 <= window_index < windows:
        raise ValueError(f"window_index={window_index} is out of range: {encoded.source} has {windows} windows")
    ks = grid.window_samples(window_index)
    emb = encoded.embeddings[ks.start : ks.stop]
    inputs = np.concatenate([emb[None], occluded(emb, "mean"), occluded(emb, "neighbour")])
    probs = softmax(decode_inputs(models, inputs))
    c = int(np.argmax(probs[0]))
    t_len = len(emb)
    p0 = float(probs[0, c])
    by_mean, by_neighbour = probs[1 : 1 + t_len], probs[1 + t_len :]
    start_s, end_s = grid.window_span(window_index, encoded.t0_s)
    return WindowExplanation(
        source=encoded.source,
        window_index=window_index,
        start_s=start_s,
        end_s=end_s,
        label=models.labels[c],
        class_index=c,
        probability=p0,
        sample_times_s=tuple(encoded.frame_times_s[ks.start : ks.stop]),
        frame_indices=tuple(int(i) for i in encoded.frame_indices[ks.start : ks.stop]),
        duplicated=tuple(bool(d) for d in encoded.duplicated[ks.start : ks.stop]),
        drop_mean=tuple(p0 - by_mean[:, c]),
        drop_neighbour=tuple(p0 - by_neighbour[:, c]),
        label_after_mean=tuple(models.labels[int(i)] for i in np.argmax(by_mean, axis=1)),
    )


def explain_video(
    models: ActionModels, encoded: EncodedVideo, *, grid: SamplingGrid, top_n: int = 5, min_gap_s: float = 0.5
) -> VideoExplanation:
    """The moments of the whole video whose removal changes the top label most.

    Every window has each sample replaced by the window's mean embedding in turn (``clip_len``
    decoder calls per window); a sample's importance is its largest drop of a window's top-1
    probability over the windows that take it.

    Args:
        models: the compiled models.
        encoded: the video's embeddings.
        grid: the recognizer's grid (its stride sets how many windows take each sample).
        top_n: moments listed.
        min_gap_s: the least time between two listed moments (one moment per action, not
            ``clip_len`` neighbours of the same one).

    Raises:
        ClipTooShortError: the clip holds no complete window.
        ValueError: ``top_n`` < 1 or a negative ``min_gap_s``.
    """
    if top_n < 1 or min_gap_s < 0:
        raise ValueError(f"top_n must be >= 1 and min_gap_s >= 0, got {top_n} and {min_gap_s}")
    windows = grid.count_windows(encoded.num_samples)
    if windows == 0:
        raise ClipTooShortError(f"{encoded.source} is too short for one window of {grid.clip_len} samples")
    n = encoded.num_samples
    importance = np.zeros(n)
    best_window = np.full(n, -1)
    best_after = np.zeros(n, np.int64)
    changes = np.zeros(n, np.int64)
    taken = np.zeros(n, np.int64)
    top = np.zeros(windows, np.int64)
    for first in range(0, windows, CHUNK_WINDOWS):
        ws = range(first, min(windows, first + CHUNK_WINDOWS))
        inputs = []
        for w in ws:
            ks = grid.window_samples(w)
            emb = encoded.embeddings[ks.start : ks.stop]
            inputs += [emb[None], occluded(emb, "mean")]
        probs = softmax(decode_inputs(models, np.concatenate(inputs))).reshape(len(ws), 1 + grid.clip_len, -1)
        for j, w in enumerate(ws):
            ks = np.arange(grid.window_samples(w).start, grid.window_samples(w).stop)
            c = int(np.argmax(probs[j, 0]))
            top[w] = c
            drops = probs[j, 0, c] - probs[j, 1:, c]
            after = np.argmax(probs[j, 1:], axis=1)
            better = (drops > importance[ks]) | (best_window[ks] < 0)
            importance[ks[better]] = drops[better]
            best_window[ks[better]] = w
            best_after[ks[better]] = after[better]
            changes[ks] += after != c
            taken[ks] += 1
    moments: list[Moment] = []
    times = encoded.frame_times_s
    for k in sorted(np.flatnonzero(taken), key=lambda k: (-importance[k], k)):
        if len(moments) == top_n:
            break
        if any(abs(float(times[k]) - m.time_s) < min_gap_s for m in moments):
            continue
        w = int(best_window[k])
        moments.append(
            Moment(
                time_s=float(times[k]),
                sample_index=int(k),
                drop=float(importance[k]),
                window_index=w,
                label=models.labels[int(top[w])],
                label_after=models.labels[int(best_after[k])],
                label_changes=int(changes[k]),
                windows=int(taken[k]),
            )
        )
    return VideoExplanation(
        source=encoded.source,
        moments=tuple(moments),
        sample_times_s=tuple(float(t) for t in times),
        importance=tuple(float(v) for v in importance),
        windows=windows,
        min_gap_s=min_gap_s,
    )
