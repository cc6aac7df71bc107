"""On-disk cache of per-sample embeddings, so re-analysis runs only the decoder.

Keyed by the file's content (BLAKE2b of its bytes), the model, precision, device, encoder IR files
(path, size, modification time), input size and the sampling grid (window length and samples per
window). The stride, smoothing, threshold and top-k are not part of the key: every grid sample is
stored, and they only change the decoder pass or the post-processing. Files are written
atomically; a damaged cache file is ignored and replaced.

Example:
    >>> store = EmbeddingCache.for_source("clip.mp4", models=models, grid=grid)  # doctest: +SKIP
    >>> store.load() is None                                                      # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import settings
from ..models.runtime import ActionModels
from .encoded import EncodedVideo
from .sampling import SamplingGrid

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


def file_key(path: Path) -> str:
    """BLAKE2b-160 of the file's bytes (content, not name or mtime)."""
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class EmbeddingCache:
    """One cache entry: ``<cache_dir>/<key>.npz``."""

    def __init__(self, path: Path, *, meta: dict[str, Any], source: str = "") -> None:
        self.path = path
        self.meta = meta
        self.source = source

    @classmethod
    def for_source(
        cls,
        source: Any,
        *,
        models: ActionModels,
        grid: SamplingGrid,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> EmbeddingCache | None:
        """The cache entry of a local file source; ``None`` for cameras, URLs and frame iterables."""
        if not isinstance(source, (str, os.PathLike)) or str(source).isdigit() or "://" in str(source):
            return None
        path = Path(source)
        if not path.is_file():
            return None
        meta = {
            "version": FORMAT_VERSION,
            "content": file_key(path),
            "model": models.model,
            "precision": models.precision,
            "encoder": models.encoder_id,
            "device": models.device,
            "input_hw": list(models.input_size_hw),
            "embedding_dim": models.embedding_dim,
            "window_s": grid.window_s,
            "clip_len": grid.clip_len,
        }
        key = hashlib.blake2b(json.dumps(meta, sort_keys=True).encode(), digest_size=16).hexdigest()
        root = Path(cache_dir) if cache_dir else settings.data_dir("cache")
        return cls(root / f"{key}.npz", meta=meta, source=str(source))

    def load(self):
        """The cached :class:`~actionrec.pipeline.EncodedVideo`, or ``None`` when absent/unusable."""
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("key") != self.meta:
                    return None
                return EncodedVideo(
                    source=self.source,  # the same bytes may be cached under another name
                    embeddings=z["embeddings"],
                    frame_times_s=z["frame_times_s"],
                    frame_indices=z["frame_indices"],
                    duplicated=z["duplicated"],
                    t0_s=meta["t0_s"],
                    step_s=meta["step_s"],
                    frames_decoded=meta["frames_decoded"],
                    frames_corrupt=meta["frames_corrupt"],
                    truncated=meta["truncated"],
                    duration_s=meta["duration_s"],
                    stage_ms=meta["stage_ms"],
                    crop_xywh=tuple(meta["crop_xywh"]) if meta["crop_xywh"] else None,
                    size_wh=tuple(meta["size_wh"]) if meta["size_wh"] else None,
                )
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            log.warning("ignoring unreadable embedding cache %s (%s); it will be rebuilt", self.path, exc)
            return None

    def save(self, encoded) -> Path:
        """Write ``encoded`` atomically (temp file in the same folder, then rename)."""
        meta = {
            "key": self.meta,
            "source": encoded.source,
            "t0_s": encoded.t0_s,
            "step_s": encoded.step_s,
            "frames_decoded": encoded.frames_decoded,
            "frames_corrupt": encoded.frames_corrupt,
            "truncated": encoded.truncated,
            "duration_s": encoded.duration_s,
            "stage_ms": encoded.stage_ms,
            "crop_xywh": list(encoded.crop_xywh) if encoded.crop_xywh else None,
            "size_wh": list(encoded.size_wh) if encoded.size_wh else None,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.stem, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    meta=np.array(json.dumps(meta)),
                    embeddings=encoded.embeddings,
                    frame_times_s=encoded.frame_times_s,
                    frame_indices=encoded.frame_indices,
                    duplicated=encoded.duplicated,
                )
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path
