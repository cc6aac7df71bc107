"""The file pipeline's data type: :class:`EncodedVideo`, per-grid-sample embeddings of one video.

:meth:`EncodedVideo.to_npz` and :meth:`EncodedVideo.from_npz` store it as one ``.npz``: a JSON
``meta`` array (the scalar fields, the per-stage milliseconds and an optional caller's ``key``)
beside the ``embeddings``, ``frame_times_s``, ``frame_indices`` and ``duplicated`` arrays. The
embedding cache (:mod:`actionrec.pipeline.cache`) keys entries with it; nothing is pickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..results import StageTimings

_ARRAYS = ("embeddings", "frame_times_s", "frame_indices", "duplicated")


@dataclass(frozen=True)
class EncodedVideo:
    """Per-grid-sample embeddings of one video, and what it took to make them.

    Attributes:
        source: what was read.
        embeddings: ``[N, D]`` float32, grid order.
        frame_times_s: timestamp of the frame chosen for each sample.
        frame_indices: index of that frame in the source.
        duplicated: sample ``k`` reuses the frame of sample ``k-1``.
        t0_s: the grid's start, the first frame's time (grid time ``t0_s + k * step_s``).
        step_s: the grid step.
        frames_decoded: frames the source decoded (those the frame filter passed over included).
        frames_corrupt: undecodable frames or packets the source skipped.
        truncated: the file ends well before its container says.
        duration_s: last frame analysed − first.
        timings: mean milliseconds per decoded frame (``decode_ms``) and per encoded sample
            (``preprocess_ms``; ``encoder_ms``: latency of the request that carried the sample);
            ``decoder_ms`` and ``draw_ms`` stay 0 (the decoder runs later, per window). Not compared.
        crop_xywh: the model crop in source pixels (same for every frame of a file).
        size_wh: source frame size.

    Raises:
        ValueError: the four arrays differ in length.
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
    timings: StageTimings = field(default_factory=StageTimings, compare=False)
    crop_xywh: tuple[int, int, int, int] | None = None
    size_wh: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        n = len(self.embeddings)
        if not (len(self.frame_times_s) == len(self.frame_indices) == len(self.duplicated) == n):
            raise ValueError("embeddings, frame_times_s, frame_indices and duplicated must have equal length")

    @property
    def num_samples(self) -> int:
        """Grid samples (rows of :attr:`embeddings`)."""
        return len(self.embeddings)

    def to_npz(self, path: str | os.PathLike[str], *, key: Mapping[str, Any] | None = None) -> Path:
        """Write this video's embeddings to ``path`` atomically (a temp file renamed over it).

        Args:
            path: the ``.npz`` file; missing folders are created.
            key: JSON-able facts the reader checks before trusting the file (the cache's key);
                read back with :func:`npz_key`.

        Returns:
            ``path``.

        Raises:
            ExportError: the folder cannot be written (read-only, disk full); nothing is left
                under ``path``.

        Example:
            >>> encoded.to_npz("data/cache/clip.npz")  # doctest: +SKIP
        """
        t = self.timings
        meta = {
            "key": dict(key) if key is not None else None,
            "source": self.source,
            "t0_s": self.t0_s,
            "step_s": self.step_s,
            "frames_decoded": self.frames_decoded,
            "frames_corrupt": self.frames_corrupt,
            "truncated": self.truncated,
            "duration_s": self.duration_s,
            "stage_ms": {"decode": t.decode_ms, "preprocess": t.preprocess_ms, "encoder": t.encoder_ms},
            "crop_xywh": list(self.crop_xywh) if self.crop_xywh else None,
            "size_wh": list(self.size_wh) if self.size_wh else None,
        }
        with atomic_write(path, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **{name: getattr(self, name) for name in _ARRAYS})
        return Path(path)

    @classmethod
    def from_npz(cls, path: str | os.PathLike[str], *, source: str) -> EncodedVideo:
        """Read a file written by :meth:`to_npz` (no pickles are loaded).

        Args:
            path: the ``.npz`` file.
            source: the name to report (the same bytes may have been stored under another name).

        Returns:
            The stored video, named ``source``.

        Raises:
            OSError: the file cannot be read.
            zipfile.BadZipFile: it is damaged.
            KeyError: it is not such a file (an array or a meta field is missing).
            ValueError: it is not such a file (no ``.npz``, or one that would need pickles).
        """
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            stage_ms = meta["stage_ms"]
            return cls(
                source=source,
                **{name: z[name] for name in _ARRAYS},
                t0_s=meta["t0_s"],
                step_s=meta["step_s"],
                frames_decoded=meta["frames_decoded"],
                frames_corrupt=meta["frames_corrupt"],
                truncated=meta["truncated"],
                duration_s=meta["duration_s"],
                timings=StageTimings(
                    decode_ms=stage_ms.get("decode", 0.0),
                    preprocess_ms=stage_ms.get("preprocess", 0.0),
                    encoder_ms=stage_ms.get("encoder", 0.0),
                ),
                crop_xywh=tuple(meta["crop_xywh"]) if meta["crop_xywh"] else None,
                size_wh=tuple(meta["size_wh"]) if meta["size_wh"] else None,
            )


def npz_key(path: str | os.PathLike[str]) -> Any:
    """The ``key`` a file written by :meth:`EncodedVideo.to_npz` was stored with (``None``: none).

    Raises:
        OSError: the file cannot be read.
        zipfile.BadZipFile: it is damaged.
        KeyError: it has no ``meta`` array.
        ValueError: it is not an ``.npz`` (or ``meta`` is not JSON).
    """
    with np.load(path, allow_pickle=False) as z:
        return json.loads(str(z["meta"])).get("key")
