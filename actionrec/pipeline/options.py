"""The recognizer's options as one validated object: window, stride, top-k, smoothing.

Every consumer (:class:`~actionrec.pipeline.Recognizer`, :class:`~actionrec.pipeline.LiveRecognizer`,
the notebook's live player and its walk-through, the CLI) takes a :class:`RecognizerOptions`, so the
defaults (:mod:`actionrec.settings`) and the valid ranges live in one place.

Example:
    >>> opts = RecognizerOptions(stride_s=0.25, top_k=3)
    >>> grid = opts.grid(clip_len=16)
    >>> grid.step_s, grid.stride_steps
    (0.0625, 4)
    >>> RecognizerOptions.live().top_k
    3
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .. import settings
from .sampling import SamplingGrid


@dataclass(frozen=True)
class RecognizerOptions:
    """How windows are cut and reported.

    Attributes:
        window_s: seconds one window of ``clip_len`` samples covers (model card: about 1 s).
        stride_s: seconds between window starts, rounded to whole grid steps by :meth:`grid`.
        top_k: classes kept per window.
        smoothing: windows averaged per prediction (centred for files, trailing live; 1 = none).

    Raises:
        ValueError: a value out of range; the message names it and the valid range.
    """

    window_s: float = settings.DEFAULT_WINDOW_S
    stride_s: float = settings.DEFAULT_STRIDE_S
    top_k: int = settings.DEFAULT_TOP_K
    smoothing: int = settings.DEFAULT_SMOOTHING

    def __post_init__(self) -> None:
        for name in ("window_s", "stride_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
                raise ValueError(f"{name}={value!r} is out of range; valid: a positive number of seconds")
        for name, high in (("top_k", settings.MAX_TOP_K), ("smoothing", settings.MAX_SMOOTHING)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                unit = " windows" if name == "smoothing" else " classes"
                raise ValueError(f"{name}={value!r} is out of range; valid: 1..{high}{unit} (a whole number)")

    @classmethod
    def live(cls, **changes: float) -> RecognizerOptions:
        """The live player's defaults (:data:`~actionrec.settings.LIVE_TOP_K` labels), with ``changes``."""
        return replace(cls(top_k=settings.LIVE_TOP_K), **changes)

    def grid(self, *, clip_len: int) -> SamplingGrid:
        """The sampling grid for a decoder of ``clip_len`` samples (stride rounded to whole steps).

        Raises:
            ValueError: the stride is shorter than half a grid step.
        """
        return SamplingGrid.from_seconds(window_s=self.window_s, clip_len=clip_len, stride_s=self.stride_s)
