"""The results of an A/B comparison: configurations, their runs and their agreement with the reference.

Frozen dataclasses; :meth:`Comparison.to_dict` is the JSON of ``compare --out`` (schema
:data:`COMPARE_SCHEMA_ID`). What the columns mean is in ``docs/explain.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .. import settings

COMPARE_SCHEMA_ID = "actionrec.compare/1"


@dataclass(frozen=True)
class CompareConfig:
    """One configuration of an A/B comparison.

    Attributes:
        precision: the IR precision (``FP32``, ``FP16``, ``FP16-INT8``).
        device: the OpenVINO device (``CPU``, ``GPU``, ``NPU``, ``AUTO``): the encoder's, and the
            decoder's unless ``decoder_device`` is set.
        window_s: seconds per window; ``stride_s``: seconds between windows.
        decoder_device: the decoder's own device (``""``: ``device``), e.g. ``CPU`` beside an encoder on ``GPU``.

    Raises:
        ValueError: an empty precision or device, a window or stride that is not positive.
    """

    precision: str = settings.DEFAULT_PRECISION
    device: str = settings.DEFAULT_DEVICE
    window_s: float = settings.DEFAULT_WINDOW_S
    stride_s: float = settings.DEFAULT_STRIDE_S
    decoder_device: str = ""

    def __post_init__(self) -> None:
        if not self.precision or not self.device:
            raise ValueError(f"a configuration needs a precision and a device, got {self.precision!r}, {self.device!r}")
        if self.decoder_device == self.device:
            object.__setattr__(self, "decoder_device", "")  # one configuration, however it is spelt
        if not (self.window_s > 0 and self.stride_s > 0):
            raise ValueError(f"window_s and stride_s must be > 0 seconds, got {self.window_s}, {self.stride_s}")

    @property
    def name(self) -> str:
        """E.g. ``"FP16 CPU"``, ``"FP16 GPU+CPU"`` (decoder on the CPU); the window and stride when not the defaults."""
        text = f"{self.precision} {self.device}" + (f"+{self.decoder_device}" if self.decoder_device else "")
        if (self.window_s, self.stride_s) != (settings.DEFAULT_WINDOW_S, settings.DEFAULT_STRIDE_S):
            text += f" {self.window_s:g}/{self.stride_s:g}s"
        return text

    def encoder_key(self) -> tuple[str, str, float]:
        """What the embeddings depend on (not the decoder's device): two configurations with the same key share them."""
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
