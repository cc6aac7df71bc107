"""Typed results: one window's :class:`Prediction`, a video's :class:`Timeline`, its segments.

Raw decoder logits become a :class:`Prediction` at one point (:meth:`Prediction.from_logits`);
everything downstream (smoothing, thresholds, segments, exports, drawing) reads these types.

Example:
    >>> import numpy as np
    >>> p = Prediction.from_logits(np.array([0.0, 2.0, 1.0]), labels=("a", "b", "c"), top_k=2,
    ...                            window_index=0, start_s=0.0, end_s=1.0)
    >>> p.labels, [round(s, 3) for s in p.scores]
    (('b', 'c'), [0.665, 0.245])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from numbers import Integral
from typing import Any

import numpy as np

from .redact import redact_url

UNCERTAIN = "uncertain"  # the word displays show for the uncertain state; never a label (a class may have this name)
# What a re-ranked or smoothed window keeps from the one it was made from (all but its classes).
_CARRIED = ("coverage_s", "duplicated", "missing", "timings", "crop_xywh")


def describe_devices(encoder_device: str, decoder_device: str = "") -> str:
    """``"CPU"`` when both models run there, else ``"GPU encoder, CPU decoder"``.

    Example:
        >>> describe_devices("GPU", "CPU")
        'GPU encoder, CPU decoder'
    """
    if not decoder_device or decoder_device == encoder_device:
        return encoder_device
    return f"{encoder_device or '?'} encoder, {decoder_device} decoder"


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis, in float64 (one array: computed in place)."""
    z = np.array(logits, dtype=np.float64)  # a copy: the caller's logits are not changed
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    return np.divide(z, z.sum(axis=-1, keepdims=True), out=z)


def smooth_probs(probs: np.ndarray, windows: int) -> np.ndarray:
    """Centred moving average of ``[W, C]`` probabilities over ``windows`` rows (shorter at the ends).

    Row ``i`` is the mean of rows ``i - (windows - 1) // 2`` .. ``i + windows // 2`` that exist.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if windows <= 1 or len(probs) == 0:
        return probs
    before, after = (windows - 1) // 2, windows // 2
    csum = np.vstack([np.zeros((1, probs.shape[1])), np.cumsum(probs, axis=0)])
    n = len(probs)
    idx = np.arange(n)
    lo, hi = np.maximum(0, idx - before), np.minimum(n, idx + after + 1)
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds spent per stage for one window (averaged per frame where it applies)."""

    decode_ms: float = 0.0
    preprocess_ms: float = 0.0
    encoder_ms: float = 0.0
    decoder_ms: float = 0.0
    draw_ms: float = 0.0

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not (value >= 0.0):
                raise ValueError(f"{name} must be a non-negative number of ms, got {value!r}")


@dataclass(frozen=True)
class Prediction:
    """Top-k classes of one window, stamped with the time span it covers.

    Attributes:
        window_index: 0-based index of the window in its video or stream.
        start_s: time of the window's first grid sample.
        end_s: time of its last grid sample plus one grid step.
        labels: top-k class names, best first.
        scores: their softmax probabilities (0..1), descending.
        class_ids: their indices in the decoder output.
        coverage_s: seconds of video really covered (last sample's frame time − first's + one step).
        duplicated: grid samples served by a frame already used by the previous sample.
        missing: grid samples without a frame (dropped under load, or a gap in the source).
        timings: per-stage milliseconds.
        probs: the full probability vector (for re-ranking and smoothing); not compared.
        crop_xywh: the model crop ``(x, y, width, height)`` in source pixels of the window's last
            encoded sample, for drawing; ``None`` when the recognizer did not say. Compared: two
            windows that saw different pixels are different windows.
    """

    window_index: int
    start_s: float
    end_s: float
    labels: tuple[str, ...]
    scores: tuple[float, ...]
    class_ids: tuple[int, ...]
    coverage_s: float = 0.0
    duplicated: int = 0
    missing: int = 0
    timings: StageTimings = field(default_factory=StageTimings)
    probs: np.ndarray | None = field(default=None, compare=False, repr=False)
    crop_xywh: tuple[int, int, int, int] | None = None  # last: keeps the positional order above

    def __post_init__(self) -> None:
        if self.window_index < 0:
            raise ValueError(f"window_index must be >= 0, got {self.window_index}")
        if not self.end_s > self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        if not (len(self.labels) == len(self.scores) == len(self.class_ids)) or not self.labels:
            raise ValueError("labels, scores and class_ids must be non-empty and of equal length")
        if any(not 0.0 <= s <= 1.0 + 1e-6 for s in self.scores):
            raise ValueError(f"scores must be probabilities in 0..1, got {self.scores}")
        if any(a < b - 1e-9 for a, b in zip(self.scores, self.scores[1:], strict=False)):
            raise ValueError(f"scores must be sorted best first, got {self.scores}")
        if self.duplicated < 0 or self.missing < 0:
            raise ValueError("duplicated and missing must be >= 0")
        if self.crop_xywh is not None:
            object.__setattr__(self, "crop_xywh", _checked_crop(self.crop_xywh))

    @classmethod
    def from_probs(
        cls,
        probs: np.ndarray,
        *,
        labels: tuple[str, ...] | list[str],
        top_k: int,
        window_index: int,
        start_s: float,
        end_s: float,
        **extra,
    ) -> Prediction:
        """Build from a probability vector (already softmaxed); keeps ``probs``."""
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        if len(labels) != p.size:
            raise ValueError(f"{len(labels)} labels for {p.size} classes")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        k = min(top_k, p.size)
        ids = np.argsort(-p, kind="stable")[:k]
        return cls(
            window_index=window_index,
            start_s=float(start_s),
            end_s=float(end_s),
            labels=tuple(labels[i] for i in ids),
            scores=tuple(float(p[i]) for i in ids),
            class_ids=tuple(int(i) for i in ids),
            probs=p,
            **extra,
        )

    @classmethod
    def from_logits(cls, logits: np.ndarray, **kwargs) -> Prediction:
        """Build from raw decoder logits (softmax applied here). See :meth:`from_probs`."""
        return cls.from_probs(softmax(np.asarray(logits).reshape(-1)), **kwargs)

    @property
    def label(self) -> str:
        """Top-1 class name."""
        return self.labels[0]

    @property
    def score(self) -> float:
        """Top-1 probability."""
        return self.scores[0]

    def is_certain(self, threshold: float) -> bool:
        """True when the top-1 probability reaches ``threshold``."""
        return self.score >= threshold

    def reranked(self, labels: tuple[str, ...], top_k: int) -> Prediction:
        """The same window with another ``top_k`` (needs ``probs``)."""
        if self.probs is None:
            raise ValueError("this prediction has no probability vector to re-rank")
        return Prediction.from_probs(self.probs, labels=labels, top_k=top_k, **window_facts(self))


def _checked_crop(crop_xywh: object) -> tuple[int, int, int, int]:
    """``crop_xywh`` as a tuple of 4 Python ints with a positive width and height.

    Raises:
        ValueError: not 4 whole numbers, or a width or height below 1.
    """
    values = tuple(crop_xywh) if isinstance(crop_xywh, (tuple, list)) else ()
    if len(values) != 4 or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in values):
        raise ValueError(f"crop_xywh must be 4 whole numbers (x, y, width, height) in pixels, got {crop_xywh!r}")
    x, y, w, h = (int(v) for v in values)
    if w < 1 or h < 1:
        raise ValueError(f"crop_xywh must have a positive width and height, got {(x, y, w, h)}")
    return (x, y, w, h)


@dataclass(frozen=True)
class Segment:
    """Consecutive windows with the same (smoothed) top-1 class, merged.

    Attributes:
        label: the windows' top-1 class; for an uncertain segment, the top-1 class most of its
            windows had (the earliest of those tied), still a real class name.
        start_s, end_s: the span it covers (seconds of source time).
        mean_score: mean top-1 probability of its windows.
        windows: how many windows it merges.
        uncertain: its windows were below the threshold (consecutive uncertain windows form one
            segment, whatever their top-1 class). A flag, not a label: a class may be called
            ``"uncertain"`` and is then an ordinary, certain segment.
    """

    label: str
    start_s: float
    end_s: float
    mean_score: float
    windows: int
    uncertain: bool = False

    def __post_init__(self) -> None:
        if not self.end_s > self.start_s:
            raise ValueError(f"segment end_s ({self.end_s}) must be after start_s ({self.start_s})")
        if self.windows < 1:
            raise ValueError("a segment holds at least one window")

    @property
    def duration_s(self) -> float:
        """Seconds from the segment's start to its end."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Timeline:
    """All windows of one video, with how they were made.

    Attributes:
        source: what was analysed (path, URL or a description); a URL is kept without its
            credentials, query string and fragment (:func:`actionrec.redact.redact_url`).
        labels: all class names in model order.
        predictions: windows in time order.
        window_s, stride_s, step_s: requested window, effective stride, grid step (seconds).
        clip_len: samples per window.
        top_k: classes kept per window.
        smoothing: windows averaged per prediction (1 = none).
        model, precision, device: what ran; ``device`` is the encoder's.
        decoder_device: where the decoder ran (``""`` when made: ``device``).
        frames_decoded: source frames read; ``frames_corrupt``: frames skipped as undecodable;
        truncated: the source ended before its container said it would.
        duration_s: media time covered by the decoded frames.
        head: what the classes are when they are not the model's own: a label-groups or
            custom-actions head's name (:mod:`actionrec.heads`); ``""`` for the model's classes.
    """

    source: str
    labels: tuple[str, ...]
    predictions: tuple[Prediction, ...]
    window_s: float
    stride_s: float
    step_s: float
    clip_len: int
    top_k: int
    model: str = ""
    precision: str = ""
    device: str = ""
    smoothing: int = 1
    frames_decoded: int = 0
    frames_corrupt: int = 0
    truncated: bool = False
    duration_s: float = 0.0
    head: str = ""
    decoder_device: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", redact_url(self.source))  # exported and shown: no secrets
        if not self.decoder_device:
            object.__setattr__(self, "decoder_device", self.device)
        if self.clip_len < 1 or self.top_k < 1 or self.smoothing < 1:
            raise ValueError("clip_len, top_k and smoothing must be >= 1")
        if not (self.window_s > 0 and self.stride_s > 0 and self.step_s > 0):
            raise ValueError("window_s, stride_s and step_s must be positive")
        starts = [p.start_s for p in self.predictions]
        if starts != sorted(starts):
            raise ValueError("predictions must be in time order")

    def __len__(self) -> int:
        return len(self.predictions)

    @property
    def devices_text(self) -> str:
        """``"CPU"``, or ``"GPU encoder, CPU decoder"`` (:func:`describe_devices`)."""
        return describe_devices(self.device, self.decoder_device)

    def with_top_k(self, top_k: int) -> Timeline:
        """Re-rank every window to ``top_k`` classes (no inference)."""
        return replace(self, top_k=top_k, predictions=tuple(p.reranked(self.labels, top_k) for p in self.predictions))

    def smoothed(self, windows: int) -> Timeline:
        """Average each window's probabilities with its neighbours (centred, ``windows`` wide).

        ``windows=1`` returns the timeline unchanged. Live streams use a trailing average instead
        (see :class:`actionrec.pipeline.LiveRecognizer`), since future windows are unknown there.

        Raises:
            ValueError: ``windows < 1``, or the timeline is already smoothed (smooth the
                unsmoothed one instead: smoothing twice is not a wider smoothing).
        """
        if windows < 1:
            raise ValueError(f"smoothing must be >= 1 window, got {windows}")
        if windows == 1 or not self.predictions:
            return self
        if self.smoothing > 1:
            raise ValueError(
                f"this timeline is already smoothed over {self.smoothing} windows; "
                f"smooth the unsmoothed timeline over {windows} windows instead"
            )
        means = smooth_probs(np.stack([p.probs for p in self.predictions]), windows)
        facts = [window_facts(p) for p in self.predictions]
        out = predictions_from_probs(means, labels=self.labels, top_k=self.top_k, windows=facts)
        return replace(self, predictions=out, smoothing=windows)

    def segments(self, *, threshold: float = 0.0) -> tuple[Segment, ...]:
        """Merge consecutive windows with the same top-1 class.

        Consecutive windows whose top-1 probability is below ``threshold`` form one segment with
        ``uncertain=True`` (labelled with their most frequent top-1 class). Windows overlap, so a
        segment runs from its first window's start to the next segment's first window's start
        (the last one to its own last window's end).
        """
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a probability in 0..1, got {threshold}")
        runs: list[list[Prediction]] = []
        keys: list[str | None] = []  # the top-1 class of a certain run, None for an uncertain one
        for p in self.predictions:
            key = p.label if p.is_certain(threshold) else None
            if keys and keys[-1] == key:
                runs[-1].append(p)
            else:
                runs.append([p])
                keys.append(key)
        segments = []
        for i, (key, run) in enumerate(zip(keys, runs, strict=True)):
            end = runs[i + 1][0].start_s if i + 1 < len(runs) else run[-1].end_s
            mean = float(np.mean([p.score for p in run]))
            counts = Counter(p.label for p in run)  # in order of first appearance
            label = key if key is not None else max(counts, key=counts.__getitem__)  # ties: the earliest
            segments.append(Segment(label, run[0].start_s, end, mean, len(run), uncertain=key is None))
        return tuple(segments)

    def top_segments(self, n: int = 3, *, threshold: float = 0.0) -> tuple[Segment, ...]:
        """The ``n`` longest certain segments (for summaries)."""
        certain = [s for s in self.segments(threshold=threshold) if not s.uncertain]
        return tuple(sorted(certain, key=lambda s: (-s.duration_s, -s.mean_score))[:n])


def predictions_from_probs(
    probs: np.ndarray,
    *,
    labels: tuple[str, ...],
    top_k: int,
    windows: Sequence[Mapping[str, Any]],
) -> tuple[Prediction, ...]:
    """One :class:`Prediction` per row of ``[W, C]`` probabilities, ranked in one vectorised pass.

    The same predictions :meth:`Prediction.from_probs` makes row by row (ties: the lower class id
    first), several times faster on long videos (re-analysis of thousands of windows).

    Args:
        probs: ``[W, C]`` probabilities.
        labels: the ``C`` class names.
        top_k: classes kept per window.
        windows: per row, the window's other fields: ``window_index``, ``start_s``, ``end_s`` and
            any of coverage, duplicated, missing, timings and crop (:func:`window_facts` of a
            prediction gives them).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(labels):
        raise ValueError(f"{len(labels)} labels for probabilities of shape {list(p.shape)}")
    if len(windows) != len(p):
        raise ValueError(f"{len(windows)} windows for {len(p)} rows of probabilities")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    k = min(top_k, p.shape[1])
    ids = np.empty((len(p), k), np.int64)
    for i in range(0, len(p), 256):  # 256 windows at a time: the sort's scratch does not grow with the video
        ids[i : i + 256] = np.argsort(-p[i : i + 256], axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(p, ids, axis=1)
    return tuple(
        Prediction(
            labels=tuple(labels[i] for i in ids[w]),
            scores=tuple(scores[w].tolist()),
            class_ids=tuple(ids[w].tolist()),
            probs=p[w],
            **windows[w],
        )
        for w in range(len(p))
    )


def window_facts(prediction: Prediction) -> dict[str, Any]:
    """A prediction's fields other than its classes: what a re-ranked or smoothed window keeps."""
    facts = {"window_index": prediction.window_index, "start_s": prediction.start_s, "end_s": prediction.end_s}
    return facts | {name: getattr(prediction, name) for name in _CARRIED}
