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
import zipfile
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import VideoOpenError
from ..models.runtime import ActionModels
from ..video.open import SourceLike, resolve_source
from .encoded import EncodedVideo, npz_key
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
    """One cache entry: ``<cache_dir>/<key>.npz``, written by :meth:`EncodedVideo.to_npz`.

    Args:
        path: the entry's file.
        meta: the facts the entry is keyed by; an entry stored with other facts is not used.
        source: the name a loaded :class:`EncodedVideo` reports.
    """

    def __init__(self, path: Path, *, meta: dict[str, Any], source: str = "") -> None:
        self.path = path
        self.meta = meta
        self.source = source

    @classmethod
    def for_source(
        cls,
        source: SourceLike,
        *,
        models: ActionModels,
        grid: SamplingGrid,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> EmbeddingCache | None:
        """The cache entry of a local file source; ``None`` for anything else.

        The source is resolved as :func:`~actionrec.video.open_video` resolves it
        (:func:`~actionrec.video.resolve_source` without fetching): an existing file, relative to
        the current folder or the project, is cacheable; cameras, streams, URLs (before download),
        uploads, folders, frame iterables and sources that do not resolve are not (opening them
        then says what is wrong).

        Args:
            source: as for :func:`~actionrec.video.open_video`.
            models: the compiled models (model, precision, device, encoder files, input size).
            grid: the sampling grid (window length and samples per window).
            cache_dir: where entries live (default ``data/cache/``).

        Returns:
            The entry (present or not on disk), or ``None``.
        """
        try:
            resolved = resolve_source(source, fetch=False)
        except VideoOpenError:
            return None
        path = resolved.value
        if not resolved.is_local_file or not isinstance(path, Path):
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
        return cls(root / f"{key}.npz", meta=meta, source=resolved.display)

    def load(self) -> EncodedVideo | None:
        """The cached :class:`~actionrec.pipeline.EncodedVideo`, or ``None`` when absent/unusable.

        An entry stored under other key facts, or damaged, is ignored (logged; it is rebuilt).
        """
        if not self.path.is_file():
            return None
        try:
            if npz_key(self.path) != self.meta:
                return None
            # Named by this entry's source: the same bytes may be cached under another name.
            return EncodedVideo.from_npz(self.path, source=self.source)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            log.warning("ignoring unreadable embedding cache %s (%s); it will be rebuilt", self.path, exc)
            return None

    def save(self, encoded: EncodedVideo) -> Path:
        """Write ``encoded`` under this entry's key, atomically (:meth:`EncodedVideo.to_npz`).

        Returns:
            The entry's path.

        Raises:
            ExportError: the cache folder cannot be written (read-only, disk full).
        """
        return encoded.to_npz(self.path, key=self.meta)
