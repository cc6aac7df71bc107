"""The file pipeline's data type: :class:`EncodedVideo`, per-grid-sample embeddings of one video.

:meth:`EncodedVideo.to_npz` and :meth:`EncodedVideo.from_npz` store it as one ``.npz``: a JSON
``meta`` array (the format version :data:`FORMAT_VERSION`, the scalar fields, the per-stage
milliseconds and an optional caller's ``key``) beside the ``embeddings``, ``frame_times_s``,
``frame_indices`` and ``duplicated`` arrays; nothing is pickled. :meth:`~EncodedVideo.from_npz` is
the one loader: it checks the version, the key and every field, and raises
:class:`UnusableEntryError` saying what is wrong. The embedding cache
(:mod:`actionrec.pipeline.cache`) keys entries with it and rebuilds any entry it refuses.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import atomic_write
from ..results import StageTimings
from .rows import release_pages

if TYPE_CHECKING:
    from .sampling import SamplingGrid

_ARRAYS = ("embeddings", "frame_times_s", "frame_indices", "duplicated", "encoded")
FORMAT_VERSION = 3
"""The ``.npz`` layout's version. Bump it when the layout or a field's meaning changes (decoder
outputs, partial entries...): a file of another version is refused by :meth:`EncodedVideo.from_npz`,
never misread. 1: the first layout (no version inside the file); 2: the version and validated fields;
3: the ``encoded`` array (which samples have an embedding: a quick scan encodes only some)."""


_WRITE_ROWS = 256  # embedding rows per write: what to_npz holds of a file-backed array at once


def _write_npy(out: Any, array: np.ndarray) -> None:
    """``array`` as a ``.npy`` into ``out``, a block of rows at a time (copied whole if not contiguous).

    Rows in a temporary file (:class:`~actionrec.pipeline.rows.RowStore`) are handed back to the
    kernel once written, so storing a long video's embeddings does not bring them all into memory.
    """
    array = np.asarray(array)
    if not array.flags.c_contiguous:
        array = array.copy(order="C")
    np.lib.format.write_array_header_1_0(out, np.lib.format.header_data_from_array_1_0(array))
    if not array.ndim:
        out.write(array.tobytes())
        return
    for start in range(0, len(array), _WRITE_ROWS):
        rows = array[start : start + _WRITE_ROWS]
        out.write(rows.tobytes())
        release_pages(rows)


class UnusableEntryError(ValueError):
    """A stored ``.npz`` cannot be trusted: another format version or key, damaged, or not such a file.

    The message says what is wrong; the embedding cache logs it and rebuilds the entry.
    """


@dataclass(frozen=True)
class EncodedVideo:
    """Per-grid-sample embeddings of one video, and what it took to make them.

    Attributes:
        source: what was read.
        embeddings: ``[N, D]`` float32, grid order. From an encoder run, read-only, and for a long
            video a mapping of the temporary file the rows were written to
            (:mod:`actionrec.pipeline.rows`): its pages are read in as they are used, so the rows
            need not all be in memory.
        frame_times_s: timestamp of the frame chosen for each sample.
        frame_indices: index of that frame in the source.
        duplicated: sample ``k`` reuses the frame of sample ``k-1``.
        encoded: sample ``k`` has an embedding (``[N]`` bool; ``None`` when given: all of them).
            With a stride longer than the window only the samples some window takes are encoded;
            the others' rows are zeros (:attr:`partial`, :meth:`missing_for`).
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
        first_sample: the whole file's grid index of row 0 (0 but for a chunk of a long video,
            :mod:`actionrec.pipeline.chunks`: row ``r`` is then grid sample ``first_sample + r``,
            at ``t0_s + (first_sample + r) * step_s``, and ``t0_s`` stays the whole file's).

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
    encoded: np.ndarray | None = field(default=None, repr=False)
    first_sample: int = 0

    def __post_init__(self) -> None:
        n = len(self.embeddings)
        if self.encoded is None:
            object.__setattr__(self, "encoded", np.ones(n, bool))
        if not (len(self.frame_times_s) == len(self.frame_indices) == len(self.duplicated) == len(self.encoded) == n):
            raise ValueError("embeddings, frame_times_s, frame_indices, duplicated and encoded must have equal length")

    @property
    def partial(self) -> bool:
        """Some samples have no embedding (a quick scan: a stride longer than the window)."""
        return not bool(np.all(self.encoded))

    def missing_for(self, grid: SamplingGrid) -> int:
        """How many samples the complete windows of ``grid`` take that have no embedding here."""
        return int((grid.samples_needed(self.num_samples) & ~self.encoded).sum())

    @property
    def num_samples(self) -> int:
        """Grid samples (rows of :attr:`embeddings`)."""
        return len(self.embeddings)

    def to_npz(self, path: str | os.PathLike[str], *, key: Mapping[str, Any] | None = None) -> Path:
        """Write this video's embeddings to ``path`` atomically (a temp file renamed over it).

        Args:
            path: the ``.npz`` file; missing folders are created.
            key: JSON-able facts the reader checks before trusting the file (the cache's key):
                :meth:`from_npz` refuses the file when given other ones.

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
            "format": FORMAT_VERSION,
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
            "first_sample": self.first_sample,
        }
        arrays = {"meta": np.array(json.dumps(meta)), **{name: getattr(self, name) for name in _ARRAYS}}
        with atomic_write(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as npz:
            for name, array in arrays.items():  # the layout np.savez writes: one NAME.npy member each
                with npz.open(f"{name}.npy", "w", force_zip64=True) as member:
                    _write_npy(member, array)
        return Path(path)

    @classmethod
    def from_npz(
        cls,
        path: str | os.PathLike[str],
        *,
        source: str,
        key: Mapping[str, Any] | None = None,
        embedding_dim: int | None = None,
        step_s: float | None = None,
    ) -> EncodedVideo:
        """Read a file written by :meth:`to_npz` and check every field (no pickles are loaded).

        Args:
            path: the ``.npz`` file.
            source: the name to report (the same bytes may have been stored under another name).
            key: when given, the file must have been stored with exactly this ``key``.
            embedding_dim: when given, the embeddings must have this many features.
            step_s: when given, the grid step the samples must have been taken at.

        Returns:
            The stored video, named ``source``.

        Raises:
            OSError: the file cannot be read.
            UnusableEntryError: another :data:`FORMAT_VERSION` or key, a missing, extra or
                malformed array or field (wrong shape, dtype or type, NaN, lengths that differ),
                or not an ``.npz`` at all; the message says which.

        Example:
            >>> EncodedVideo.from_npz("data/cache/clip.npz", source="clip.mp4")  # doctest: +SKIP
        """
        meta, arrays = read_entry(path, _ARRAYS)
        if meta.get("format") != FORMAT_VERSION:
            raise UnusableEntryError(f"format version {meta.get('format')!r}, this version reads {FORMAT_VERSION}")
        if key is not None and meta.get("key") != dict(key):
            raise UnusableEntryError("stored under other key facts (model, device, precision, sampling...)")
        _check_arrays(arrays, embedding_dim)
        fields = _check_fields(meta)
        if step_s is not None and not math.isclose(fields["step_s"], step_s, rel_tol=1e-9):
            raise UnusableEntryError(f"samples {fields['step_s']} s apart, the grid steps {step_s} s")
        return cls(source=source, **arrays, **fields)


def read_entry(path: str | os.PathLike[str], names: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A cache ``.npz``'s JSON ``meta`` object and its arrays ``names`` (exactly those), nothing pickled.

    The one reader of the cache's ``.npz`` entries (embeddings and decoder outputs); each checks
    its own fields after it.

    Raises:
        OSError: the file cannot be read.
        UnusableEntryError: not an ``.npz`` (cut off, a bare ``.npy``, text), other arrays than
            ``names``, or a ``meta`` that is not one JSON object.
    """
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise UnusableEntryError(f"a single {loaded.dtype} array, not an .npz")
        with loaded as z:
            found = set(z.files)
            if found != {"meta", *names}:
                raise UnusableEntryError(f"holds arrays {sorted(found)}, expected {sorted({'meta', *names})}")
            meta = _meta(z["meta"])
            arrays = {name: z[name] for name in names}
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:  # not a zip, a bad .npy header, cut off
        if isinstance(exc, UnusableEntryError):
            raise
        raise UnusableEntryError(f"not a readable .npz ({type(exc).__name__}: {exc})") from None
    return meta, arrays


def _meta(array: np.ndarray) -> dict[str, Any]:
    if array.dtype.kind != "U" or array.shape != ():
        raise UnusableEntryError(f"meta is a {array.dtype} array of shape {array.shape}, expected one JSON string")
    try:
        meta = json.loads(str(array))
    except json.JSONDecodeError as exc:
        raise UnusableEntryError(f"meta is not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise UnusableEntryError(f"meta is a JSON {type(meta).__name__}, expected an object")
    return meta


def _check_arrays(arrays: dict[str, np.ndarray], embedding_dim: int | None) -> None:
    emb, times, indices, dup, enc = (arrays[name] for name in _ARRAYS)
    if emb.ndim != 2 or emb.dtype != np.float32:
        raise UnusableEntryError(f"embeddings are {emb.dtype} of shape {emb.shape}, expected float32 [N, D]")
    if embedding_dim is not None and emb.shape[1] != embedding_dim:
        raise UnusableEntryError(f"embeddings have {emb.shape[1]} features, the encoder gives {embedding_dim}")
    expected = {"frame_times_s": "f", "frame_indices": "iu", "duplicated": "b", "encoded": "b"}
    for name, array in (("frame_times_s", times), ("frame_indices", indices), ("duplicated", dup), ("encoded", enc)):
        if array.ndim != 1 or array.dtype.kind not in expected[name] or len(array) != len(emb):
            raise UnusableEntryError(
                f"{name} is {array.dtype} of shape {array.shape}, expected {len(emb)} values of kind {expected[name]}"
            )
    if not (np.isfinite(emb).all() and np.isfinite(times).all()):
        raise UnusableEntryError("embeddings or frame times hold NaN or infinity")
    if len(times) and (np.diff(times) < 0).any():
        raise UnusableEntryError("frame times go backwards")
    if len(indices) and ((indices < 0).any() or (np.diff(indices) < 0).any()):
        raise UnusableEntryError("frame indices are negative or go backwards")


def _number(meta: dict, name: str, *, integer: bool = False, positive: bool = False) -> Any:
    value = meta.get(name)
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        raise UnusableEntryError(f"{name} is {value!r}, expected a finite {'integer' if integer else 'number'}")
    if value < 0 or (positive and value == 0):
        raise UnusableEntryError(f"{name} is {value!r}, expected a {'positive' if positive else 'non-negative'} value")
    return value


def _ints(meta: dict, name: str, n: int) -> tuple[int, ...] | None:
    value = meta.get(name)
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == n and all(type(v) is int and v >= 0 for v in value)):
        raise UnusableEntryError(f"{name} is {value!r}, expected null or {n} non-negative integers")
    return tuple(value)


def _check_fields(meta: dict) -> dict[str, Any]:
    """The scalar fields of :class:`EncodedVideo` from ``meta``, each checked."""
    if not isinstance(meta.get("truncated"), bool):
        raise UnusableEntryError(f"truncated is {meta.get('truncated')!r}, expected true or false")
    if not isinstance(meta.get("source"), str):
        raise UnusableEntryError(f"source is {meta.get('source')!r}, expected a string")
    stage_ms = meta.get("stage_ms")
    if not isinstance(stage_ms, dict):
        raise UnusableEntryError(f"stage_ms is {stage_ms!r}, expected an object")
    ms = {name: float(_number(stage_ms, name)) for name in ("decode", "preprocess", "encoder")}
    t0_s = meta.get("t0_s")
    if isinstance(t0_s, bool) or not isinstance(t0_s, (int, float)) or not math.isfinite(t0_s):
        raise UnusableEntryError(f"t0_s is {t0_s!r}, expected a finite number")
    return {
        "t0_s": float(t0_s),
        "step_s": float(_number(meta, "step_s", positive=True)),
        "frames_decoded": _number(meta, "frames_decoded", integer=True),
        "frames_corrupt": _number(meta, "frames_corrupt", integer=True),
        "truncated": meta["truncated"],
        "duration_s": float(_number(meta, "duration_s")),
        "timings": StageTimings(decode_ms=ms["decode"], preprocess_ms=ms["preprocess"], encoder_ms=ms["encoder"]),
        "crop_xywh": _ints(meta, "crop_xywh", 4),
        "size_wh": _ints(meta, "size_wh", 2),
        "first_sample": _number(meta, "first_sample", integer=True) if "first_sample" in meta else 0,
    }
