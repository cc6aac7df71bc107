"""The insight layer's results of explaining: which time steps mattered (comparisons: :mod:`.comparison`).

Frozen dataclasses, validated in ``__post_init__``, each with ``to_dict()`` for its JSON file
(schema :data:`EXPLAIN_SCHEMA_ID`). What the numbers mean is in ``docs/explain.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

EXPLAIN_SCHEMA_ID = "actionrec.explain/1"
BASELINES = ("mean", "neighbour")
"""What replaces an occluded embedding: the window's mean embedding, or the previous sample's
(the next one's for the first sample)."""


def _floats(values, name: str, n: int) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if len(out) != n or not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must hold {n} finite numbers, got {len(out)}: {out[:4]}...")
    return out


@dataclass(frozen=True)
class WindowExplanation:
    """How much the top class of one window depends on each of its time steps (occlusion).

    For each sample ``t`` of the window, its embedding is replaced (the others kept) and the
    decoder runs again; the *drop* is the top class's probability before minus after. A
    negative drop means the replacement made the top class more likely.

    Attributes:
        source: what was analysed.
        window_index: the window's index in the file's timeline (same window and stride).
        start_s, end_s: the window's span.
        label: the window's top-1 class (unsmoothed, the model's own classes).
        class_index: its index in the decoder's output.
        probability: its probability in the untouched window.
        sample_times_s: the source time of each sample's frame.
        frame_indices: each sample's frame index in the source.
        duplicated: sample ``t`` reuses the previous sample's frame (a source slower than the grid).
        drop_mean: the drop per sample when its embedding is replaced by the window's mean one.
        drop_neighbour: the drop per sample when it is replaced by its neighbour's (the previous
            sample's; the next one's for sample 0).
        label_after_mean: the window's top-1 class with each sample replaced by the mean.

    Raises:
        ValueError: the per-sample fields differ in length, or hold NaN.
    """

    source: str
    window_index: int
    start_s: float
    end_s: float
    label: str
    class_index: int
    probability: float
    sample_times_s: tuple[float, ...]
    frame_indices: tuple[int, ...]
    duplicated: tuple[bool, ...]
    drop_mean: tuple[float, ...]
    drop_neighbour: tuple[float, ...]
    label_after_mean: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.sample_times_s)
        if n < 2:
            raise ValueError(f"a window needs at least 2 samples to occlude one, got {n}")
        for name in ("sample_times_s", "drop_mean", "drop_neighbour"):
            object.__setattr__(self, name, _floats(getattr(self, name), name, n))
        for name in ("frame_indices", "duplicated", "label_after_mean"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} values, expected one per sample ({n})")

    @property
    def clip_len(self) -> int:
        """Samples in the window."""
        return len(self.sample_times_s)

    def ranked(self, baseline: str = "mean") -> tuple[int, ...]:
        """Sample positions from the largest drop to the smallest, under ``baseline``.

        Raises:
            ValueError: ``baseline`` is not one of :data:`BASELINES`.
        """
        drops = self.drops(baseline)
        return tuple(sorted(range(self.clip_len), key=lambda t: (-drops[t], t)))

    def drops(self, baseline: str = "mean") -> tuple[float, ...]:
        """The drop per sample under ``baseline`` (:data:`BASELINES`).

        Raises:
            ValueError: an unknown ``baseline``.
        """
        if baseline not in BASELINES:
            raise ValueError(f"baseline {baseline!r} is not one of {', '.join(BASELINES)}")
        return self.drop_mean if baseline == "mean" else self.drop_neighbour

    def to_dict(self) -> dict:
        """JSON-able fields, one object per sample under ``samples``."""
        samples = [
            {
                "position": t,
                "time_s": self.sample_times_s[t],
                "frame_index": int(self.frame_indices[t]),
                "duplicated": bool(self.duplicated[t]),
                "drop_mean": self.drop_mean[t],
                "drop_neighbour": self.drop_neighbour[t],
                "label_after_mean": self.label_after_mean[t],
            }
            for t in range(self.clip_len)
        ]
        return {
            "window_index": self.window_index,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "label": self.label,
            "class_index": self.class_index,
            "probability": self.probability,
            "samples": samples,
        }


@dataclass(frozen=True)
class Moment:
    """A moment of a video whose occlusion changes its windows' answer most.

    Attributes:
        time_s: the source time of the sample's frame.
        sample_index: its index on the file's sampling grid.
        drop: the largest drop of a window's top-1 probability when this sample is replaced by
            its window's mean embedding, over the windows that take it.
        window_index: the window of that largest drop.
        label: that window's top-1 class untouched; ``label_after``: with the sample replaced.
        label_changes: in how many of the windows taking this sample its replacement changes
            the top-1 class; ``windows``: how many windows take it.
    """

    time_s: float
    sample_index: int
    drop: float
    window_index: int
    label: str
    label_after: str
    label_changes: int
    windows: int


@dataclass(frozen=True)
class VideoExplanation:
    """Over a whole video: the moments whose removal changes the top label most (mean baseline).

    Attributes:
        source: what was analysed.
        moments: the strongest moments, best first, at least ``min_gap_s`` apart.
        sample_times_s: every grid sample's frame time; ``importance``: its largest drop
            (as :attr:`Moment.drop`; 0 for a sample no complete window takes).
        windows: how many windows were occluded.
        min_gap_s: the least time between two listed moments.
    """

    source: str
    moments: tuple[Moment, ...]
    sample_times_s: tuple[float, ...] = field(repr=False)
    importance: tuple[float, ...] = field(repr=False)
    windows: int
    min_gap_s: float

    def __post_init__(self) -> None:
        if len(self.sample_times_s) != len(self.importance):
            raise ValueError(
                f"{len(self.sample_times_s)} sample times but {len(self.importance)} importance values; need one each"
            )

    def to_dict(self) -> dict:
        """JSON-able fields (the per-sample importance included)."""
        return {
            "windows": self.windows,
            "min_gap_s": self.min_gap_s,
            "moments": [asdict(m) for m in self.moments],
            "samples": [
                {"time_s": t, "importance": v} for t, v in zip(self.sample_times_s, self.importance, strict=True)
            ],
        }


@dataclass(frozen=True)
class Explanation:
    """One window explained (the one asked for) and the whole video's strongest moments.

    Attributes:
        window: the window at the time asked for.
        video: the moments over every window of the video.
        at_s: the time asked for.
        model, precision, device: what computed it (``device``: the encoder's).
        decoder_device: where the decoder ran the occlusions (``""`` when made: ``device``).
        embeddings_cached: the embeddings came from the cache (no encoder ran).
        crop_xywh: the model crop in source pixels (for thumbnails).
    """

    window: WindowExplanation
    video: VideoExplanation
    at_s: float
    model: str
    precision: str
    device: str
    embeddings_cached: bool
    crop_xywh: tuple[int, int, int, int] | None = None
    decoder_device: str = ""

    def __post_init__(self) -> None:
        if not self.decoder_device:
            object.__setattr__(self, "decoder_device", self.device)

    def to_dict(self) -> dict:
        """The JSON document ``python -m actionrec explain`` writes (:data:`EXPLAIN_SCHEMA_ID`)."""
        return {
            "schema": EXPLAIN_SCHEMA_ID,
            "source": self.window.source,
            "at_s": self.at_s,
            "model": self.model,
            "precision": self.precision,
            "device": self.device,
            "decoder_device": self.decoder_device,
            "embeddings_cached": self.embeddings_cached,
            "method": "occlusion of time steps: each sample's embedding replaced, the decoder run again",
            "window": self.window.to_dict(),
            "video": self.video.to_dict(),
        }

    def to_text(self, *, top_n: int = 3) -> str:
        """A few lines: the window's answer, its most important samples, the video's moments."""
        w = self.window
        lines = [
            f"{w.source}: window #{w.window_index} {w.start_s:.2f}–{w.end_s:.2f} s: {w.label} ({w.probability:.0%})"
        ]
        for name in BASELINES:
            drops = w.drops(name)
            best = ", ".join(f"#{t} at {w.sample_times_s[t]:.2f} s ({drops[t]:+.1%})" for t in w.ranked(name)[:top_n])
            lines.append(f"  replaced by the {name:<9}: largest drops {best}")
        lines.append("  embeddings: " + ("from the cache (no encoder ran)" if self.embeddings_cached else "encoded"))
        lines.append(f"  moments over the video ({self.video.windows} windows):")
        lines += [
            f"    {m.time_s:6.2f} s  drop {m.drop:+.1%} in window #{m.window_index} ({m.label}"
            + (f" -> {m.label_after}" if m.label_after != m.label else "")
            + f"); label changes in {m.label_changes} of {m.windows} windows"
            for m in self.video.moments
        ] or ["    (none)"]
        return "\n".join(lines)
