"""The insight layer's results: which time steps mattered, and how configurations compare.

Frozen dataclasses, validated in ``__post_init__``, each with ``to_dict()`` for its JSON file
(schemas :data:`EXPLAIN_SCHEMA_ID` and :data:`COMPARE_SCHEMA_ID`). What the numbers mean is in
``docs/explain.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .. import settings

EXPLAIN_SCHEMA_ID = "actionrec.explain/1"
COMPARE_SCHEMA_ID = "actionrec.compare/1"
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
        model, precision, device: what computed it.
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

    def to_dict(self) -> dict:
        """The JSON document ``python -m actionrec explain`` writes (:data:`EXPLAIN_SCHEMA_ID`)."""
        return {
            "schema": EXPLAIN_SCHEMA_ID,
            "source": self.window.source,
            "at_s": self.at_s,
            "model": self.model,
            "precision": self.precision,
            "device": self.device,
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


@dataclass(frozen=True)
class CompareConfig:
    """One configuration of an A/B comparison.

    Attributes:
        precision: the IR precision (``FP32``, ``FP16``, ``FP16-INT8``).
        device: the OpenVINO device (``CPU``, ``GPU``, ``NPU``, ``AUTO``).
        window_s: seconds per window; ``stride_s``: seconds between windows.

    Raises:
        ValueError: an empty precision or device, a window or stride that is not positive.
    """

    precision: str = settings.DEFAULT_PRECISION
    device: str = settings.DEFAULT_DEVICE
    window_s: float = settings.DEFAULT_WINDOW_S
    stride_s: float = settings.DEFAULT_STRIDE_S

    def __post_init__(self) -> None:
        if not self.precision or not self.device:
            raise ValueError(f"a configuration needs a precision and a device, got {self.precision!r}, {self.device!r}")
        if not (self.window_s > 0 and self.stride_s > 0):
            raise ValueError(f"window_s and stride_s must be > 0 seconds, got {self.window_s}, {self.stride_s}")

    @property
    def name(self) -> str:
        """E.g. ``"FP16 CPU"``; the window and stride are added when not the defaults."""
        text = f"{self.precision} {self.device}"
        if (self.window_s, self.stride_s) != (settings.DEFAULT_WINDOW_S, settings.DEFAULT_STRIDE_S):
            text += f" {self.window_s:g}/{self.stride_s:g}s"
        return text

    def encoder_key(self) -> tuple[str, str, float]:
        """What the embeddings depend on: two configurations with the same key share them."""
        return (self.precision, self.device, self.window_s)


@dataclass(frozen=True)
class ConfigRun:
    """What one configuration did, measured in a process of its own.

    Attributes:
        config: the configuration.
        windows: windows decoded.
        frames_decoded: source frames read.
        compile_s: compiling both models (the compile cache may make it short).
        analysis_s: wall time of encoding (or loading the cached embeddings) and decoding.
        video_fps: ``frames_decoded / analysis_s``: the speed of the analysis, meaningful only
            when :attr:`embeddings_cached` is false.
        encoder_ms: mean encoder latency per sample (0 when cached).
        decoder_ms: mean decoder time per window.
        peak_rss_mb: the process's peak resident memory (``ru_maxrss`` from ``os.wait4``).
        embeddings_cached: its embeddings came from the cache (written by an earlier run or by
            a configuration of this comparison with the same encoder set-up).
        execution_devices: the real devices behind the device asked for.
    """

    config: CompareConfig
    windows: int
    frames_decoded: int
    compile_s: float
    analysis_s: float
    video_fps: float
    encoder_ms: float
    decoder_ms: float
    peak_rss_mb: float
    embeddings_cached: bool
    execution_devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Agreement:
    """How closely a configuration's windows follow the reference's (the first configuration).

    Windows are paired by nearest centre time (the same windows when the grids are the same).

    Attributes:
        windows: windows paired.
        top1_agreement: share of paired windows with the same top-1 class (1.0: all).
        mean_abs_prob_diff: mean over windows of the mean absolute difference of the
            probabilities of the classes in the union of the two top-5 sets.
        spearman: mean over windows of Spearman's rank correlation of those probabilities.
        window_times_s: each reference window's centre; ``window_agree``: its top-1 is the same;
            ``window_abs_diff``: its mean absolute probability difference (as above).
    """

    windows: int
    top1_agreement: float
    mean_abs_prob_diff: float
    spearman: float
    window_times_s: tuple[float, ...] = field(default=(), repr=False)
    window_agree: tuple[bool, ...] = field(default=(), repr=False)
    window_abs_diff: tuple[float, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Comparison:
    """The same clip through two or more configurations: agreement with the first, speed, memory.

    Attributes:
        source: the clip.
        runs: one per configuration, the reference first.
        agreements: per run, its agreement with the reference (``None`` for the reference).
        skipped: configurations not run, each with the reason (e.g. a device not present here).
    """

    source: str
    runs: tuple[ConfigRun, ...]
    agreements: tuple[Agreement | None, ...]
    skipped: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if len(self.runs) != len(self.agreements) or not self.runs or self.agreements[0] is not None:
            raise ValueError("one agreement per run is needed, None for the first (the reference)")

    def to_text(self) -> str:
        """The table ``python -m actionrec compare`` prints."""
        head = ("configuration", "windows", "top-1 agree", "mean |dp|", "spearman", "video fps", "enc ms",
                "dec ms", "compile s", "peak MB", "embeddings")  # fmt: skip
        rows = [head]
        for run, ag in zip(self.runs, self.agreements, strict=True):
            rows.append(
                (
                    run.config.name + (" (ref)" if ag is None else ""),
                    str(run.windows),
                    "—" if ag is None else f"{ag.top1_agreement:.3f}",
                    "—" if ag is None else f"{ag.mean_abs_prob_diff:.4f}",
                    "—" if ag is None else f"{ag.spearman:.3f}",
                    "(cached)" if run.embeddings_cached else f"{run.video_fps:.1f}",
                    "—" if run.embeddings_cached else f"{run.encoder_ms:.1f}",
                    f"{run.decoder_ms:.2f}",
                    f"{run.compile_s:.2f}",
                    f"{run.peak_rss_mb:.0f}",
                    "cached" if run.embeddings_cached else "encoded",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = [f"{self.source}:"]
        lines += [
            "  "
            + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
            for r in rows
        ]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped]
        if any(r.embeddings_cached for r in self.runs):
            lines.append("  (cached: no encoder ran, so no speed; --no-cache measures every configuration afresh)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The JSON document of ``compare --out`` (:data:`COMPARE_SCHEMA_ID`)."""
        return {
            "schema": COMPARE_SCHEMA_ID,
            "source": self.source,
            "reference": self.runs[0].config.name,
            "configurations": [
                {
                    "name": run.config.name,
                    **asdict(run),
                    "agreement": None if ag is None else asdict(ag),
                }
                for run, ag in zip(self.runs, self.agreements, strict=True)
            ],
            "skipped": [{"name": n, "reason": r} for n, r in self.skipped],
        }
