"""Long videos in chunks: each chunk computes its own windows of the whole file's grid; merged, they are the file's.

A file is split by window index, not by time alone: chunk ``c`` holds windows
``[c * P, (c + 1) * P)`` of the whole file's grid (``t0`` its first frame, ``P`` about
``chunk_s / stride_s`` windows; the last chunk runs to the end of the file), so every window is
computed exactly once. Its encoder samples run from its first window's first sample to its last
window's last one: neighbouring chunks share ``clip_len - stride_steps`` samples (8 at the defaults,
1.0 s / 16 samples and a 0.5 s stride; none when the stride is a window or longer), which both
encode, once per chunk edge.

Each chunk decodes the file from its start (:class:`~actionrec.pipeline.stages.FileEncoder` with
``first_sample``/``end_sample``), so every sample takes the frame the whole run takes, on constant-
and variable-rate files alike; frames before the chunk are decoded but not converted (the sampled
decode converts only encoded samples' crops and leaves out non-reference frames no sample of the
chunk takes) and the reader stops at the chunk's last sample. Seeking to a keyframe before the
chunk would save that decoding, but the frame indices and the nearest-frame choice at the chunk's
first sample would then hang on the container's seek, so it is not done.

The driver merges the chunks' decoder outputs (:func:`merge_chunks`) and applies the head, top-k
and centred smoothing to the merged windows (so smoothing crosses chunk edges): the same timeline as
the unsplit run. With the embedding cache each chunk stores its samples beside the file's entry
(:class:`ChunkStore`, one part file per chunk, written atomically: chunks running at once never
overwrite each other); once the parts cover the whole file they become the file's entry, which a
later local run uses as it is. A later chunked run reuses the parts and encodes only what is missing.

Example:
    >>> chunks = plan_chunks(duration_s=600.0, grid=recognizer.grid, chunk_s=120.0)  # doctest: +SKIP
    >>> parts = [analyze_chunk(recognizer, "long.mp4", c) for c in chunks]           # doctest: +SKIP
    >>> timeline = recognizer.timeline(merge_chunks(parts))                          # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ClipTooShortError
from ..video.open import SourceLike
from .cache import EmbeddingCache
from .decoded import DecodedWindows
from .encoded import EncodedVideo, UnusableEntryError
from .files import Recognizer, run_decoder, windows_of
from .sampling import SamplingGrid
from .stages import FileEncoder

log = logging.getLogger(__name__)
# The per-window arrays of DecodedWindows: what merging chunks concatenates and cutting a chunk slices.
_WINDOW_ARRAYS = ("logits", "features", "starts_s", "ends_s", "coverage_s", "duplicated")

DEFAULT_CHUNK_S = 120.0
"""Seconds of video per chunk (``analyze --ray --chunk-s``): long enough that a chunk's start-up and
its shared edge samples are small beside its work, short enough that a 10-minute file spreads over 5 workers."""


@dataclass(frozen=True)
class Chunk:
    """Windows ``first_window <= w < end_window`` of a file (``end_window`` ``None``: to its end)."""

    first_window: int
    end_window: int | None = None

    def samples(self, grid: SamplingGrid) -> tuple[int, int | None]:
        """``(first, end)``: the grid samples its windows take (``end`` ``None``: to the end of the file)."""
        first = self.first_window * grid.stride_steps
        if self.end_window is None:
            return first, None
        return first, grid.window_samples(self.end_window - 1).stop

    def windows(self, total: int) -> range:
        """Its windows among ``total`` windows of the file."""
        stop = total if self.end_window is None else min(self.end_window, total)
        return range(min(self.first_window, stop), stop)


def plan_chunks(*, duration_s: float, grid: SamplingGrid, chunk_s: float) -> tuple[Chunk, ...]:
    """Chunks of about ``chunk_s`` seconds of windows for a file of ``duration_s`` (the container's figure).

    The duration only sets how many chunks there are: the last one runs to the real end of the
    file, and a chunk past it has no windows, so a wrong figure costs time, never windows.

    Raises:
        ValueError: ``chunk_s`` is not a positive number of seconds.
    """
    if not chunk_s > 0 or not math.isfinite(chunk_s):
        raise ValueError(f"chunk_s={chunk_s!r} is not a positive number of seconds; e.g. 120")
    per = max(1, round(chunk_s / grid.stride_s))
    total = grid.count_windows(grid.samples_in(max(duration_s, 0.0)))
    n = max(1, math.ceil(total / per))
    return tuple(Chunk(c * per, (c + 1) * per if c < n - 1 else None) for c in range(n))


@dataclass(frozen=True)
class ChunkWindows:
    """One chunk's decoder outputs.

    Attributes:
        chunk: which windows were asked for.
        windows: the windows computed (the chunk's, cut at the end of the file).
        decoded: their decoder outputs (row ``i`` is window ``windows[i]``); its source facts are
            the whole file's when :attr:`reached_end`, else those up to the chunk's last sample.
        reached_end: the chunk decoded the file to its end (or its entry in the cache did).
        samples_encoded: samples this chunk sent to the encoder (0 when the cache had them all).
    """

    chunk: Chunk
    windows: range
    decoded: DecodedWindows
    reached_end: bool
    samples_encoded: int


def analyze_chunk(
    recognizer: Recognizer,
    source: SourceLike,
    chunk: Chunk,
    *,
    cache: bool = True,
    progress: bool = False,
    max_download_mb: float | None = None,
) -> ChunkWindows:
    """The decoder outputs of ``chunk``'s windows of ``source`` (a local file, or any finite source).

    With ``cache``: whole-file entries (decoder outputs, complete embeddings) answer without
    decoding; else this chunk's samples are encoded (those a part of an earlier run holds are
    copied), stored as its part and, once the parts cover the file, joined into the file's entry.

    Raises:
        VideoOpenError, VideoDecodeError, ModelOutputError, ExportError: as :meth:`Recognizer.analyze`.
    """
    grid = recognizer.grid
    store = EmbeddingCache.for_source(source, models=recognizer.models, grid=grid) if cache else None
    parts = ChunkStore(store) if store is not None else None
    known = None
    if store is not None:
        if (decoded := store.load_decoded(models=recognizer.models, grid=grid)) is not None:
            windows = chunk.windows(decoded.num_windows)
            return ChunkWindows(chunk, windows, _rows(decoded, windows), reached_end=True, samples_encoded=0)
        whole = store.load()
        if whole is not None and not whole.missing_for(grid):
            return _decode(recognizer, chunk, whole, reached_end=True, samples_encoded=0)
        known = parts.known(*chunk.samples(grid), also=whole)
    part, encoder = _encode(recognizer, source, chunk, known=known, progress=progress, max_download_mb=max_download_mb)
    if parts is not None:
        parts.save(part, reached_end=encoder.reached_end)
        if (joined := parts.join(grid)) is not None:
            store.save(joined)
            parts.remove()
    return _decode(recognizer, chunk, part, reached_end=encoder.reached_end, samples_encoded=encoder.samples_encoded)


def merge_chunks(parts: Sequence[ChunkWindows]) -> DecodedWindows:
    """The whole file's decoder outputs from its chunks' (in any order): what the unsplit run gives.

    Raises:
        ValueError: the chunks do not cover the file's windows exactly once, or none reached its end.
        ClipTooShortError: the file holds no complete window.
    """
    ordered = sorted(parts, key=lambda p: p.chunk.first_window)
    ends = [p for p in ordered if p.reached_end]
    if not ends:
        raise ValueError("no chunk reached the end of the file: its last chunk is missing")
    covered = [w for p in ordered for w in p.windows]
    if covered != list(range(len(covered))) or any(p.windows.stop > len(covered) for p in ordered):
        spans = ", ".join(f"{p.windows.start}..{p.windows.stop}" for p in ordered)
        raise ValueError(f"the chunks' windows ({spans}) do not cover 0..{len(covered)} exactly once")
    end = ends[-1].decoded
    if not covered:
        raise ClipTooShortError(f"{end.source} is too short: it holds no complete window of {end.window_s:g} s")
    arrays = {name: np.concatenate([getattr(p.decoded, name) for p in ordered]) for name in _WINDOW_ARRAYS}
    decoder_ms = sum(p.decoded.timings.decoder_ms * len(p.windows) for p in ordered) / len(covered)
    crop = next((p.decoded.crop_xywh for p in ordered if p.decoded.crop_xywh), None)
    timings = dataclasses.replace(end.timings, decoder_ms=decoder_ms)
    return dataclasses.replace(end, **arrays, timings=timings, crop_xywh=crop)


def _encode(
    recognizer: Recognizer,
    source: SourceLike,
    chunk: Chunk,
    *,
    known: EncodedVideo | None,
    progress: bool,
    max_download_mb: float | None,
) -> tuple[EncodedVideo, FileEncoder]:
    """Encode the chunk's samples as :meth:`Recognizer.encode` encodes the whole file's."""
    first, end = chunk.samples(recognizer.grid)
    encoder = FileEncoder(
        recognizer.models, recognizer.grid, progress=progress, known=known, first_sample=first, end_sample=end
    )
    part = recognizer.run_encoder(encoder, source, progress=progress, max_download_mb=max_download_mb)
    return part, encoder


def _decode(
    recognizer: Recognizer, chunk: Chunk, part: EncodedVideo, *, reached_end: bool, samples_encoded: int
) -> ChunkWindows:
    """Run the decoder over the chunk's windows of ``part`` (rows from ``part.first_sample``)."""
    grid, models, fs = recognizer.grid, recognizer.models, part.first_sample
    rows_end = fs + part.num_samples
    total = grid.count_windows(rows_end) if reached_end else (chunk.end_window or grid.count_windows(rows_end))
    windows = chunk.windows(total)
    needed = np.zeros(part.num_samples, bool)
    for w in windows:
        ks = grid.window_samples(w)
        needed[ks.start - fs : ks.stop - fs] = True
    if windows and (grid.window_samples(windows[-1]).stop > rows_end or (needed & ~part.encoded).any()):
        raise ValueError(f"{part.source}: some samples of the windows of {chunk} were not encoded")
    lo = windows.start * grid.stride_steps - fs if windows else 0
    logits, features, decoder_ms = run_decoder(models, part.embeddings[lo:], grid, len(windows))
    decoded = windows_of(part, grid, windows, logits=logits, features=features, decoder_ms=decoder_ms)
    return ChunkWindows(chunk, windows, decoded, reached_end=reached_end, samples_encoded=samples_encoded)


def _rows(decoded: DecodedWindows, windows: range) -> DecodedWindows:
    """Windows ``windows`` of a whole file's decoder outputs."""
    s = slice(windows.start, windows.stop)
    return dataclasses.replace(decoded, **{name: getattr(decoded, name)[s] for name in _WINDOW_ARRAYS})


_PART_NAME = re.compile(r"\.k(\d+)(\.end)?\.part\.npz$")


class ChunkStore:
    """The chunks' part files beside one cache entry: ``<entry>.k<first>[.end].part.npz``.

    Each part is an :class:`EncodedVideo` of one chunk's samples (``first_sample`` its first;
    ``.end``: it reached the end of the file), keyed by the entry's facts and its first sample.
    """

    def __init__(self, store: EmbeddingCache) -> None:
        self.store = store

    def _path(self, first: int, *, reached_end: bool) -> Path:
        return self.store.path.with_name(f"{self.store.path.stem}.k{first}{'.end' if reached_end else ''}.part.npz")

    def _key(self, first: int, *, reached_end: bool) -> dict:
        return {**self.store.meta, "part": {"first_sample": first, "reached_end": reached_end}}

    def save(self, part: EncodedVideo, *, reached_end: bool) -> Path:
        """Write one chunk's samples, atomically.

        Raises:
            ExportError: the cache folder cannot be written.
        """
        first = part.first_sample
        return part.to_npz(self._path(first, reached_end=reached_end), key=self._key(first, reached_end=reached_end))

    def load(self) -> list[tuple[EncodedVideo, bool]]:
        """Every usable part and whether it reached the end (unusable ones are logged and left out)."""
        found = []
        for path in sorted(self.store.path.parent.glob(f"{self.store.path.stem}.k*.part.npz")):
            m = _PART_NAME.search(path.name)
            if m is None:
                continue
            first, reached_end = int(m.group(1)), m.group(2) is not None
            try:
                part = EncodedVideo.from_npz(
                    path, source=self.store.source, key=self._key(first, reached_end=reached_end)
                )
            except (OSError, UnusableEntryError) as exc:  # another run removed it meanwhile, or damaged
                log.warning("ignoring chunk cache part %s (%s)", path, exc)
                continue
            if part.first_sample == first:
                found.append((part, reached_end))
        return found

    def known(self, first: int, end: int | None, *, also: EncodedVideo | None = None) -> EncodedVideo | None:
        """Samples ``first <= k < end`` that the parts (and ``also``, a partial entry) hold, or ``None``."""
        sources = [p for p, _ in self.load()] + ([also] if also is not None else [])
        sources = [
            s for s in sources if s.first_sample + s.num_samples > first and (end is None or s.first_sample < end)
        ]
        if not sources:
            return None
        stop = max(s.first_sample + s.num_samples for s in sources) if end is None else end
        return _union(sources, first, stop)

    def join(self, grid: SamplingGrid) -> EncodedVideo | None:
        """The whole file's entry once the parts cover every sample and one reached the (untruncated) end."""
        parts = self.load()
        ends = [p for p, reached in parts if reached]
        if not ends or ends[0].truncated:
            return None
        end = ends[0]
        n = end.first_sample + end.num_samples
        covered = np.zeros(n, bool)
        for p, _ in parts:
            covered[p.first_sample : p.first_sample + p.num_samples] = True
        if not covered.all():
            return None
        whole = dataclasses.replace(
            _union([p for p, _ in parts], 0, n),
            frames_decoded=end.frames_decoded,
            frames_corrupt=end.frames_corrupt,
            truncated=end.truncated,
            duration_s=end.duration_s,
            timings=end.timings,
        )
        return None if whole.missing_for(grid) else whole

    def remove(self) -> None:
        """Delete the parts (joined into the file's entry)."""
        for path in self.store.path.parent.glob(f"{self.store.path.stem}.k*.part.npz"):
            path.unlink(missing_ok=True)


def _union(sources: Sequence[EncodedVideo], first: int, stop: int) -> EncodedVideo:
    """Rows ``first <= k < stop`` from ``sources`` (each row from one that holds it; embeddings where encoded)."""
    n = stop - first
    ref = sources[0]
    emb = np.zeros((n, ref.embeddings.shape[1]), np.float32)
    times = np.zeros(n, np.float64)
    indices = np.full(n, -1, np.int64)
    dups = np.zeros(n, bool)
    encoded = np.zeros(n, bool)
    for s in sources:
        lo, hi = max(first, s.first_sample), min(stop, s.first_sample + s.num_samples)
        if lo >= hi:
            continue
        dst, src = slice(lo - first, hi - first), slice(lo - s.first_sample, hi - s.first_sample)
        times[dst], indices[dst], dups[dst] = s.frame_times_s[src], s.frame_indices[src], s.duplicated[src]
        rows = np.flatnonzero(s.encoded[src])
        emb[dst][rows] = s.embeddings[src][rows]
        encoded[dst] |= s.encoded[src]
    crop = next((s.crop_xywh for s in sources if s.crop_xywh), None)
    return dataclasses.replace(
        ref,
        embeddings=emb,
        frame_times_s=times,
        frame_indices=indices,
        duplicated=dups,
        encoded=encoded,
        first_sample=first,
        crop_xywh=crop,
    )
