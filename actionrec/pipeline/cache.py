"""On-disk cache of per-sample embeddings, so re-analysis runs only the decoder.

Keyed (:func:`cache_key`) by what changes the embeddings: the file's content (BLAKE2b of its
bytes), the model and its IR precision, the encoder IR files (path, size, modification time), the
encoder's device as asked for and the real devices behind it (``AUTO``), the inference precision
the encoder really computes in (bf16 on CPUs that default to it, else f32), the performance hint
and encoder batch, the OpenVINO version, the preprocessing version, the input size, the embedding
size and the sampling grid (window length and samples per window), plus the file format's version.
Only the encoder's configuration counts: a decoder on another device reuses the embeddings. The
stride, smoothing, threshold and top-k are not part of the key: every grid sample is stored, and
they only change the decoder pass or the post-processing. Beside each entry, the decoder's outputs
(logits and pooled features per window, :class:`~actionrec.pipeline.decoded.DecodedWindows`) are
stored per stride, keyed also by the decoder IR's content, its feature tensor, its device and the
precision it computes in, so a head, top-k, smoothing or threshold change runs no inference and a
new stride or decoder device only the decoder.
Files are written atomically; an entry
that is damaged (a wrong shape, dtype or field type, NaN, lengths that differ), of another format
version or stored under other facts is refused by the one loader
(:meth:`~actionrec.pipeline.EncodedVideo.from_npz`), logged with the reason and rebuilt.

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
import threading
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import VideoOpenError
from ..models.runtime import ActionModels
from ..video.open import SourceLike, resolve_source
from .decoded import DECODED_FORMAT_VERSION, DecodedWindows
from .encoded import FORMAT_VERSION, EncodedVideo, UnusableEntryError
from .preprocess import PREPROCESS_VERSION
from .sampling import SamplingGrid

log = logging.getLogger(__name__)


_KNOWN_KEYS: dict[tuple, str] = {}  # (path, device, inode, size, mtime_ns) -> content key, this process
_KNOWN_LOCK = threading.Lock()


def file_key(path: Path) -> str:
    """BLAKE2b-160 of the file's bytes (content, not name or mtime).

    Remembered for this process while the file's inode, size and modification time stay the same
    (as ``git`` trusts its index), so a re-analysis of a long file does not read it again.
    """
    st = os.stat(path)
    stamp = (str(Path(path).resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _KNOWN_LOCK:
        known = _KNOWN_KEYS.get(stamp)
    if known is not None:
        return known
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    with _KNOWN_LOCK:
        _KNOWN_KEYS[stamp] = h.hexdigest()
    return h.hexdigest()


def decoded_key(meta: dict[str, Any], models: ActionModels, grid: SamplingGrid) -> dict[str, Any]:
    """The facts a decoder-output entry is keyed by: its embeddings' key, the decoder, where it ran, the stride."""
    return {
        **meta,
        "decoded_version": DECODED_FORMAT_VERSION,
        "decoder": models.decoder_id,
        "decoder_device": models.decoder_device,
        "decoder_precision": models.decoder_precision,
        "feature": [models.feature_name, models.feature_dim],
        "stride_steps": grid.stride_steps,
    }


def cache_key(models: ActionModels, grid: SamplingGrid, *, content: str) -> dict[str, Any]:
    """The facts an entry is keyed by: everything that changes the stored embeddings.

    The decoder's device and precision are not among them (they change no embedding): they key the
    decoder outputs stored beside the entry (:func:`decoded_key`).

    Args:
        models: the compiled models (what they are and how and where the encoder really runs).
        grid: the sampling grid (window length and samples per window).
        content: :func:`file_key` of the video file.

    Returns:
        A JSON-able mapping; entries are stored under a hash of it and must match it to be used.
    """
    return {
        "version": FORMAT_VERSION,
        "content": content,
        "model": models.model,
        "precision": models.precision,
        "encoder": models.encoder_id,
        "device": models.device,
        "execution_devices": list(models.execution_devices),
        "inference_precision": models.inference_precision,
        "hint": models.hint,
        "encoder_batch": models.encoder_batch,
        "openvino": models.openvino_version,
        "preprocess": PREPROCESS_VERSION,
        "input_hw": list(models.input_size_hw),
        "embedding_dim": models.embedding_dim,
        "window_s": grid.window_s,
        "clip_len": grid.clip_len,
    }


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
            models: the compiled models (what :func:`cache_key` takes from them).
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
        meta = cache_key(models, grid, content=file_key(path))
        key = hashlib.blake2b(json.dumps(meta, sort_keys=True).encode(), digest_size=16).hexdigest()
        root = Path(cache_dir) if cache_dir else settings.data_dir("cache")
        return cls(root / f"{key}.npz", meta=meta, source=resolved.display)

    def load(self) -> EncodedVideo | None:
        """The cached :class:`~actionrec.pipeline.EncodedVideo`, or ``None`` when absent/unusable.

        An entry of another format version, stored under other key facts, or damaged (any field
        that does not match the key or its type) is ignored with a logged warning that says why;
        the caller rebuilds it.
        """
        if not self.path.is_file():
            return None
        try:
            # Named by this entry's source: the same bytes may be cached under another name.
            return EncodedVideo.from_npz(
                self.path,
                source=self.source,
                key=self.meta,
                embedding_dim=self.meta["embedding_dim"],
                step_s=self.meta["window_s"] / self.meta["clip_len"],
            )
        except (OSError, UnusableEntryError) as exc:
            log.warning("ignoring embedding cache entry %s (%s); it will be rebuilt", self.path, exc)
            return None

    def save(self, encoded: EncodedVideo) -> Path:
        """Write ``encoded`` under this entry's key, atomically (:meth:`EncodedVideo.to_npz`).

        Returns:
            The entry's path.

        Raises:
            ExportError: the cache folder cannot be written (read-only, disk full).
        """
        return encoded.to_npz(self.path, key=self.meta)

    def decoded_path(self, grid: SamplingGrid) -> Path:
        """Where this entry's decoder outputs for ``grid``'s stride live (beside the embeddings)."""
        return self.path.with_name(f"{self.path.stem}.s{grid.stride_steps}.decoded.npz")

    def load_decoded(self, *, models: ActionModels, grid: SamplingGrid) -> DecodedWindows | None:
        """The cached decoder outputs for this stride and decoder, or ``None`` (absent/unusable: logged)."""
        path = self.decoded_path(grid)
        if not path.is_file():
            return None
        try:
            return DecodedWindows.from_npz(path, source=self.source, key=decoded_key(self.meta, models, grid))
        except (OSError, UnusableEntryError) as exc:
            log.warning("ignoring decoder-output cache entry %s (%s); it will be rebuilt", path, exc)
            return None

    def save_decoded(self, decoded: DecodedWindows, *, models: ActionModels, grid: SamplingGrid) -> Path:
        """Write ``decoded`` beside the embeddings, atomically.

        Raises:
            ExportError: the cache folder cannot be written.
        """
        return decoded.to_npz(self.decoded_path(grid), key=decoded_key(self.meta, models, grid))
