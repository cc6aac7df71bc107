"""The decoder's outputs for every window of one video, and the :class:`Head` that reads them.

:class:`DecodedWindows` holds, per window, the decoder's logits and its pooled feature (the tensor
feeding its classifier, averaged over time; :func:`actionrec.models.runtime.feature_output`), with
the window spans and the source facts. Everything after the decoder (the model's own classes,
label groups, custom actions, top-k, smoothing, thresholds, events) is computed from it without
inference, so :meth:`DecodedWindows.to_npz` stores it beside the embeddings and a re-analysis with
other settings runs no model at all.

A :class:`Head` turns those outputs into probabilities over its own classes. The model's
classes are the default head; :mod:`actionrec.heads` provides label groups and custom actions
(a higher layer: this module defines only the protocol they satisfy).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..atomic import atomic_write
from ..results import StageTimings
from .encoded import UnusableEntryError, read_entry

DECODED_FORMAT_VERSION = 1
"""The decoder-output ``.npz`` layout's version (:meth:`DecodedWindows.to_npz`)."""

_ARRAYS = ("logits", "features", "starts_s", "ends_s", "coverage_s", "duplicated")


@runtime_checkable
class Head(Protocol):
    """What turns decoder outputs into class probabilities (satisfied by :mod:`actionrec.heads`).

    Attributes:
        name: what the classes are, for displays and exports (e.g. ``"groups: sports.json"``).
        labels: its class names, in the order of :meth:`probabilities`' columns.
    """

    name: str
    labels: tuple[str, ...]

    def check_models(self, models: Any) -> None:
        """Raise a specific error (``HeadMismatchError``) when it cannot read ``models``' outputs."""
        ...

    def probabilities(self, logits: np.ndarray, features: np.ndarray) -> np.ndarray:
        """``[W, len(labels)]`` probabilities (rows sum to 1) from ``[W, C]`` logits and ``[W, F]`` features."""
        ...


@dataclass(frozen=True)
class DecodedWindows:
    """Decoder outputs of every window of one video, with the window spans and source facts.

    Attributes:
        source: what was analysed.
        logits: ``[W, C]`` float32 raw decoder outputs, one row per window.
        features: ``[W, F]`` float32 pooled features (``F = 0`` when the decoder has none).
        starts_s, ends_s: each window's span (its first grid sample's time, its last's plus a step).
        coverage_s: seconds of video each window really covers.
        duplicated: grid samples of each window served by the frame of the sample before.
        window_s, stride_s, step_s, clip_len: the sampling grid the windows were cut on.
        frames_decoded, frames_corrupt, truncated, duration_s: the source facts.
        timings: per-stage milliseconds (``decoder_ms``: mean per window). Not compared.
        crop_xywh: the model crop in source pixels.

    Raises:
        ValueError: the arrays do not have one row per window.
    """

    source: str
    logits: np.ndarray = field(repr=False)
    features: np.ndarray = field(repr=False)
    starts_s: np.ndarray = field(repr=False)
    ends_s: np.ndarray = field(repr=False)
    coverage_s: np.ndarray = field(repr=False)
    duplicated: np.ndarray = field(repr=False)
    window_s: float
    stride_s: float
    step_s: float
    clip_len: int
    frames_decoded: int = 0
    frames_corrupt: int = 0
    truncated: bool = False
    duration_s: float = 0.0
    timings: StageTimings = field(default_factory=StageTimings, compare=False)
    crop_xywh: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        n = len(self.logits)
        if self.logits.ndim != 2 or self.features.ndim != 2:
            shapes = f"{self.logits.shape} and {self.features.shape}"
            raise ValueError(f"logits and features must be [W, C] and [W, F], got {shapes}")
        if not all(len(getattr(self, name)) == n for name in _ARRAYS):
            raise ValueError(f"{', '.join(_ARRAYS)} must have one row per window")

    @property
    def num_windows(self) -> int:
        """Windows (rows of :attr:`logits`)."""
        return len(self.logits)

    def to_npz(self, path: str | os.PathLike[str], *, key: Mapping[str, Any] | None = None) -> Path:
        """Write atomically to ``path`` (a JSON ``meta`` beside the arrays; nothing pickled).

        Args:
            path: the ``.npz`` file; missing folders are created.
            key: JSON-able facts :meth:`from_npz` checks before trusting the file.

        Raises:
            ExportError: the folder cannot be written; nothing is left under ``path``.
        """
        t = self.timings
        meta = {
            "format": DECODED_FORMAT_VERSION,
            "key": dict(key) if key is not None else None,
            "window_s": self.window_s,
            "stride_s": self.stride_s,
            "step_s": self.step_s,
            "clip_len": self.clip_len,
            "frames_decoded": self.frames_decoded,
            "frames_corrupt": self.frames_corrupt,
            "truncated": self.truncated,
            "duration_s": self.duration_s,
            "stage_ms": {
                "decode": t.decode_ms,
                "preprocess": t.preprocess_ms,
                "encoder": t.encoder_ms,
                "decoder": t.decoder_ms,
            },
            "crop_xywh": list(self.crop_xywh) if self.crop_xywh else None,
        }
        with atomic_write(path, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **{name: getattr(self, name) for name in _ARRAYS})
        return Path(path)

    @classmethod
    def from_npz(
        cls, path: str | os.PathLike[str], *, source: str, key: Mapping[str, Any] | None = None
    ) -> DecodedWindows:
        """Read a file written by :meth:`to_npz`, checking its version, key and every field.

        Raises:
            OSError: the file cannot be read.
            UnusableEntryError: another version or key, or a malformed array or field (says which).
        """
        meta, arrays = read_entry(path, _ARRAYS)
        if meta.get("format") != DECODED_FORMAT_VERSION:
            raise UnusableEntryError(
                f"format version {meta.get('format')!r}, this version reads {DECODED_FORMAT_VERSION}"
            )
        if key is not None and meta.get("key") != dict(key):
            raise UnusableEntryError("stored under other key facts (decoder, stride, embeddings...)")
        n = len(arrays["logits"])
        kinds = {"logits": "f", "features": "f", "starts_s": "f", "ends_s": "f", "coverage_s": "f", "duplicated": "iu"}
        for name, array in arrays.items():
            ndim = 2 if name in ("logits", "features") else 1
            if array.ndim != ndim or array.dtype.kind not in kinds[name] or len(array) != n:
                raise UnusableEntryError(f"{name} is {array.dtype} of shape {array.shape}, expected {n} rows")
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise UnusableEntryError(f"{name} holds NaN or infinity")
        try:
            ms = meta["stage_ms"]
            fields = {
                "window_s": float(meta["window_s"]),
                "stride_s": float(meta["stride_s"]),
                "step_s": float(meta["step_s"]),
                "clip_len": int(meta["clip_len"]),
                "frames_decoded": int(meta["frames_decoded"]),
                "frames_corrupt": int(meta["frames_corrupt"]),
                "truncated": bool(meta["truncated"]),
                "duration_s": float(meta["duration_s"]),
                "timings": StageTimings(
                    decode_ms=float(ms["decode"]),
                    preprocess_ms=float(ms["preprocess"]),
                    encoder_ms=float(ms["encoder"]),
                    decoder_ms=float(ms["decoder"]),
                ),
                "crop_xywh": tuple(int(v) for v in meta["crop_xywh"]) if meta["crop_xywh"] else None,
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise UnusableEntryError(f"meta is malformed ({type(exc).__name__}: {exc})") from None
        if not all(math.isfinite(fields[k]) and fields[k] > 0 for k in ("window_s", "stride_s", "step_s")):
            raise UnusableEntryError("window_s, stride_s and step_s must be positive")
        return cls(source=source, **arrays, **fields)
