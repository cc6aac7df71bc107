"""The file pipeline's data type: :class:`EncodedVideo`, per-grid-sample embeddings of one video."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class EncodedVideo:
    """Per-grid-sample embeddings of one video, and what it took to make them.

    Attributes:
        source: what was read.
        embeddings: ``[N, D]`` float32, grid order.
        frame_times_s: timestamp of the frame chosen for each sample.
        frame_indices: index of that frame in the source.
        duplicated: sample ``k`` reuses the frame of sample ``k-1``.
        t0_s, step_s: the grid (``t0 + k * step``).
        frames_decoded, frames_corrupt, truncated, duration_s: source facts.
        stage_ms: mean milliseconds per decoded frame (``decode``) and per encoded sample
            (``preprocess``; ``encoder``: latency of the request that carried the sample).
        crop_xywh: the model crop in source pixels (same for every frame of a file).
        size_wh: source frame size.
    """

    source: str
    embeddings: np.ndarray = field(repr=False)
    frame_times_s: np.ndarray = field(repr=False)
    frame_indices: np.ndarray = field(repr=False)
    duplicated: np.ndarray = field(repr=False)
    t0_s: float
    step_s: float
    frames_decoded: int
    frames_corrupt: int = 0
    truncated: bool = False
    duration_s: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=dict, compare=False)
    crop_xywh: tuple[int, int, int, int] | None = None
    size_wh: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        n = len(self.embeddings)
        if not (len(self.frame_times_s) == len(self.frame_indices) == len(self.duplicated) == n):
            raise ValueError("embeddings, frame_times_s, frame_indices and duplicated must have equal length")

    @property
    def num_samples(self) -> int:
        return len(self.embeddings)
