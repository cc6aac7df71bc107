"""File analysis: decode → time-based sampling → async encoder → sliding-window decoder.

Decoding runs in a reader thread, overlapped with preprocessing and encoder inference (batches of
samples through an ``AsyncInferQueue`` with the throughput hint, :mod:`actionrec.pipeline.encoders`);
embeddings are put back in grid order whatever order the callbacks arrive in; queues are bounded, so
on long files memory grows only with the embeddings kept (2 KB per sample). Those stages are
:class:`~actionrec.pipeline.stages.FileEncoder`.
Each grid sample is encoded once; windows (``clip_len`` samples, ``stride`` apart) then need only
the decoder, so re-analysis with another stride, smoothing, threshold or top-k reuses the embeddings.

Not split: the :class:`Recognizer`'s steps (encode, decode the windows, build the timeline) and the
two functions they share with :mod:`actionrec.pipeline.chunks` (:func:`run_decoder`,
:func:`windows_of`) are one path read top to bottom; the threaded stages already live apart.

Example:
    >>> models = compile_models(resolve_model())          # doctest: +SKIP
    >>> timeline = Recognizer(models).analyze("clip.mp4")  # doctest: +SKIP
    >>> timeline.segments()[0].label                        # doctest: +SKIP
    'arm wrestling'
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .. import settings
from ..errors import ClipTooShortError, ModelOutputError
from ..models.runtime import ActionModels
from ..results import Timeline, predictions_from_probs, smooth_probs, softmax
from ..video.open import SourceLike, open_video
from .cache import EmbeddingCache
from .decoded import DecodedWindows, Head
from .encoded import EncodedVideo
from .jobs import InferJobs, logits_of, pooled_of
from .options import RecognizerOptions
from .rows import BLOCK_ROWS, release_pages
from .sampling import SamplingGrid
from .stages import FileEncoder

if TYPE_CHECKING:
    import openvino as ov

ProgressFn = Callable[[int, int | None], object]
_SAME = object()  # Recognizer.timeline(head=...) not given: the recognizer's own head


class Recognizer:
    """Analyse whole files (or any finite frame source) into a :class:`Timeline`.

    Args:
        models: compiled encoder/decoder (use ``hint="THROUGHPUT"`` for files).
        options: window, stride, top-k and (centred) smoothing; default :class:`RecognizerOptions`.
        head: what the timeline's classes are: ``None`` for the model's own (Kinetics-400), or a
            :class:`~actionrec.pipeline.decoded.Head` (label groups, custom actions:
            :mod:`actionrec.heads`), applied to the decoder's outputs.
        file_decoder: ``"sampled"`` or ``"opencv"`` (default ``AR_FILE_DECODER``, else
            ``"sampled"``): how :meth:`encode` decodes local files. ``"sampled"`` uses
            :mod:`actionrec.video.sampled` where its rule allows (MP4/MOV in limited-range
            ``yuv420p``; the same embeddings, less CPU) and OpenCV otherwise; ``"opencv"`` keeps
            the OpenCV path for every file (for paired comparisons). An attribute: set it between runs.

    Raises:
        HeadMismatchError: ``head`` cannot read these models' outputs (e.g. a custom-action head
            trained on another decoder).
    """

    def __init__(
        self,
        models: ActionModels,
        *,
        options: RecognizerOptions | None = None,
        head: Head | None = None,
        file_decoder: str | None = None,
    ) -> None:
        self.models = models
        self.file_decoder = settings.file_decoder(file_decoder)
        self.options = options if options is not None else RecognizerOptions()
        self.grid = self.options.grid(clip_len=models.clip_len)
        if head is not None:
            head.check_models(models)
        self.head = head

    # -- public verbs -------------------------------------------------------------------------
    def analyze(
        self,
        source: SourceLike,
        *,
        progress: bool = True,
        cache: bool = True,
        max_seconds: float | None = None,
        max_download_mb: float | None = None,
        on_progress: ProgressFn | None = None,
    ) -> Timeline:
        """Encode ``source`` (path, URL, frames...) and decode every window.

        With ``cache`` (local files only) embeddings are stored under ``data/cache/`` keyed by file
        content, model, how and where the encoder really runs, preprocessing and sampling
        (:func:`~actionrec.pipeline.cache.cache_key`), and reused on the next call; an entry that is
        damaged or of another format version is rebuilt.

        Args:
            source: anything :func:`~actionrec.video.open_video` opens.
            progress: show progress bars (download, frames decoded).
            cache: read and write the embedding cache (ignored with ``max_seconds``).
            max_seconds: analyse only this many seconds from the first frame (``None``: all).
            max_download_mb: a URL's download limit in megabytes, counted on the bytes received
                (default ``AR_MAX_DOWNLOAD_MB``, else the upload limit, 2 GB).
            on_progress: ``on_progress(frames_decoded, total_frames_or_None)``, called on this
                thread every few grid samples while encoding (not when the cache answers). An
                exception it raises stops the analysis and propagates once every inference
                request has finished and the reader has stopped: a cooperative cancel.

        Returns:
            The timeline of every window, smoothed as the options say.

        Raises:
            VideoOpenError: the source cannot be opened (or a URL's download is over the limit).
            ClipTooShortError: the source is shorter than one window.
            ModelOutputError: the encoder's or decoder's output does not fit its pair or the labels.
            ExportError: the embedding cache cannot be written.
        """
        return self.timeline(
            self.analyze_windows(
                source,
                progress=progress,
                cache=cache,
                max_seconds=max_seconds,
                max_download_mb=max_download_mb,
                on_progress=on_progress,
            )
        )

    def analyze_windows(
        self,
        source: SourceLike,
        *,
        progress: bool = True,
        cache: bool = True,
        max_seconds: float | None = None,
        max_download_mb: float | None = None,
        on_progress: ProgressFn | None = None,
    ) -> DecodedWindows:
        """:meth:`analyze` up to the decoder's outputs: what :meth:`timeline` turns into a timeline.

        With ``cache`` the decoder's outputs are stored beside the embeddings (keyed also by the
        decoder and the stride), so another head, top-k, smoothing or threshold on an analysed
        file runs no inference, and another stride runs only the decoder. Same arguments and
        errors as :meth:`analyze`.
        """
        # A bounded analysis (max_seconds) neither reads nor writes the cache of the whole file.
        use_cache = cache and max_seconds is None
        store = EmbeddingCache.for_source(source, models=self.models, grid=self.grid) if use_cache else None
        if store is not None and (decoded := store.load_decoded(models=self.models, grid=self.grid)) is not None:
            return decoded
        encoded = store.load() if store is not None else None
        known = None
        if encoded is not None and encoded.missing_for(self.grid):
            known, encoded = encoded, None  # a quick scan's entry: encode only what this stride adds
        if encoded is None:
            encoded = self.encode(
                source,
                progress=progress,
                max_seconds=max_seconds,
                max_download_mb=max_download_mb,
                on_progress=on_progress,
                known=known,
            )
            if store is not None and not encoded.truncated:
                store.save(encoded)
        decoded = self.decode_windows(encoded)
        if store is not None and not encoded.truncated:
            store.save_decoded(decoded, models=self.models, grid=self.grid)
        return decoded

    def encode(
        self,
        source: SourceLike,
        *,
        progress: bool = True,
        max_seconds: float | None = None,
        max_download_mb: float | None = None,
        on_progress: ProgressFn | None = None,
        known: EncodedVideo | None = None,
    ) -> EncodedVideo:
        """Decode ``source`` and run the encoder on the grid samples its windows take (see :class:`EncodedVideo`).

        Every sample is encoded unless the stride is longer than the window: then only those some
        window takes (a quick scan; ``encoded`` in the result says which).

        Args:
            source: anything :func:`~actionrec.video.open_video` opens.
            progress: show progress bars.
            max_seconds: stop after this many seconds from the first frame (``None``: all).
            max_download_mb: a URL's download limit in megabytes, counted on the bytes received
                (default ``AR_MAX_DOWNLOAD_MB``, else the upload limit, 2 GB).
            on_progress: see :meth:`analyze`.
            known: an earlier (partial) result for this source: its embeddings are reused.

        Returns:
            The embeddings of the grid samples and the source facts.

        Raises:
            VideoOpenError: the source cannot be opened (or a URL's download is over the limit).
            VideoDecodeError: it opened but no frame could be decoded.
            ModelOutputError: the encoder's output does not have ``embedding_dim`` values per sample.
        """
        encoder = FileEncoder(
            self.models, self.grid, max_seconds=max_seconds, progress=progress, on_progress=on_progress, known=known
        )
        return self.run_encoder(encoder, source, progress=progress, max_download_mb=max_download_mb)

    def run_encoder(
        self, encoder: FileEncoder, source: SourceLike, *, progress: bool = True, max_download_mb: float | None = None
    ) -> EncodedVideo:
        """Open ``source`` as ``encoder`` needs it (its frame filter, this recognizer's file decoder) and run it.

        What :meth:`encode` does with its own encoder; a chunk of a long video
        (:mod:`actionrec.pipeline.chunks`) hands one that encodes only its samples. Errors as :meth:`encode`.
        """
        # Files decoded by OpenCV convert only frames that can be nearest to a grid point; the sampled
        # decode converts only the crops of the samples encoded and leaves out unneeded non-reference frames.
        need = encoder.frame_need if settings.file_decoder(self.file_decoder) == "sampled" else None
        opened = open_video(
            source,
            progress=progress,
            frame_filter=encoder.frame_filter,
            frame_need=need,
            max_download_mb=max_download_mb,
        )
        with opened as video:
            info = video.info
            return encoder.run(video, source=info.source, total_frames=info.frame_count, stats=video.stats)

    def decode(self, encoded: EncodedVideo) -> Timeline:
        """Run the decoder over every window of ``encoded`` and return the timeline.

        Raises:
            ClipTooShortError: fewer grid samples than one window needs.
            ModelOutputError: the decoder's output does not hold one value per label.
        """
        return self.timeline(self.decode_windows(encoded))

    def decode_windows(self, encoded: EncodedVideo) -> DecodedWindows:
        """Run the decoder over every window of ``encoded``: logits and pooled features per window.

        Raises:
            ClipTooShortError: fewer grid samples than one window needs.
            ModelOutputError: the decoder's output does not hold one value per label.
        """
        grid, n = self.grid, encoded.num_samples
        windows = grid.count_windows(n)
        if missing := encoded.missing_for(grid):
            raise ValueError(
                f"{encoded.source}: {missing} of the samples the windows of a {grid.stride_s:g} s stride take were "
                "not encoded (these embeddings come from a quick scan with a longer stride); encode the source "
                "with this recognizer, or analyze() it: that encodes only the missing samples"
            )
        if windows == 0:
            span = float(encoded.frame_times_s[-1] - encoded.t0_s) if n else 0.0
            raise ClipTooShortError(
                f"{encoded.source} is too short: {encoded.frames_decoded} frames cover {span:.2f} s, but "
                f"one window needs {grid.clip_len} samples {grid.step_s * 1000:.1f} ms apart "
                f"({(grid.clip_len - 1) * grid.step_s:.2f} s of video); use a longer clip"
            )
        logits, features, decoder_ms = run_decoder(self.models, encoded.embeddings, grid, windows)
        return windows_of(encoded, grid, range(windows), logits=logits, features=features, decoder_ms=decoder_ms)

    def timeline(
        self,
        decoded: DecodedWindows,
        *,
        head: Head | object | None = _SAME,
        top_k: int | None = None,
        smoothing: int | None = None,
    ) -> Timeline:
        """The timeline of ``decoded`` through a head, with a top-k and smoothing: no inference.

        Args:
            decoded: from :meth:`analyze_windows` or :meth:`decode_windows`.
            head: the classes (default: this recognizer's head; ``None``: the model's own).
            top_k: classes kept per window (default: the options').
            smoothing: windows averaged per prediction, centred (default: the options').

        Raises:
            HeadMismatchError: ``head`` cannot read these models' outputs.
            ValueError: ``top_k`` or ``smoothing`` below 1.
        """
        head = self.head if head is _SAME else head
        top_k = self.options.top_k if top_k is None else top_k
        smoothing = self.options.smoothing if smoothing is None else smoothing
        if head is not None and head is not self.head:
            head.check_models(self.models)
        labels = head.labels if head is not None else self.models.labels
        probs = head.probabilities(decoded.logits, decoded.features) if head is not None else softmax(decoded.logits)
        if probs.shape != (decoded.num_windows, len(labels)):
            raise ModelOutputError(
                f"head {head.name if head else 'model'} gave probabilities of shape {list(probs.shape)}, "
                f"expected [{decoded.num_windows}, {len(labels)}]"
            )
        # Smoothed before ranking: one ranking pass (thousands of windows re-analyse in milliseconds).
        windows = [
            {
                "window_index": w,
                "start_s": float(decoded.starts_s[w]),
                "end_s": float(decoded.ends_s[w]),
                "coverage_s": float(decoded.coverage_s[w]),
                "duplicated": int(decoded.duplicated[w]),
                "timings": decoded.timings,
                "crop_xywh": decoded.crop_xywh,
            }
            for w in range(decoded.num_windows)
        ]
        smoothed = smooth_probs(probs, smoothing)
        predictions = predictions_from_probs(smoothed, labels=labels, top_k=top_k, windows=windows)
        timeline = Timeline(
            source=decoded.source,
            labels=tuple(labels),
            predictions=predictions,
            window_s=decoded.window_s,
            stride_s=decoded.stride_s,
            step_s=decoded.step_s,
            clip_len=decoded.clip_len,
            top_k=top_k,
            model=self.models.model,
            precision=self.models.precision,
            device=self.models.device,
            decoder_device=self.models.decoder_device,
            frames_decoded=decoded.frames_decoded,
            frames_corrupt=decoded.frames_corrupt,
            truncated=decoded.truncated,
            duration_s=decoded.duration_s,
            head=head.name if head is not None else "",
            smoothing=smoothing,
        )
        return timeline


def windows_of(
    encoded: EncodedVideo,
    grid: SamplingGrid,
    windows: range,
    *,
    logits: np.ndarray,
    features: np.ndarray,
    decoder_ms: float,
) -> DecodedWindows:
    """The decoder's outputs for ``windows`` of ``encoded`` with their spans, coverage and duplicates.

    ``encoded``'s rows start at its ``first_sample`` (0 for a whole file; a chunk's first sample
    otherwise); the source's facts (frames, corruption, duration, timings, crop) come with it.
    """
    fs, times, dup = encoded.first_sample, encoded.frame_times_s, encoded.duplicated
    spans = np.array([grid.window_span(w, encoded.t0_s) for w in windows], np.float64).reshape(-1, 2)
    coverage = np.empty(len(windows), np.float64)
    duplicated = np.empty(len(windows), np.int64)
    for i, w in enumerate(windows):
        ks = grid.window_samples(w)
        first, last = ks[0] - fs, ks[-1] - fs
        coverage[i] = grid.coverage_s(float(times[first]), float(times[last]))
        duplicated[i] = int(dup[first + 1 : last + 1].sum())
    return DecodedWindows(
        source=encoded.source,
        logits=logits,
        features=features,
        starts_s=spans[:, 0],
        ends_s=spans[:, 1],
        coverage_s=coverage,
        duplicated=duplicated,
        window_s=grid.window_s,
        stride_s=grid.stride_s,
        step_s=grid.step_s,
        clip_len=grid.clip_len,
        frames_decoded=encoded.frames_decoded,
        frames_corrupt=encoded.frames_corrupt,
        truncated=encoded.truncated,
        duration_s=encoded.duration_s,
        timings=dataclasses.replace(encoded.timings, decoder_ms=decoder_ms),
        crop_xywh=encoded.crop_xywh,
    )


def run_decoder(
    models: ActionModels, embeddings: np.ndarray, grid: SamplingGrid, windows: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Run the decoder over every window, asynchronously.

    Args:
        models: the compiled decoder, its output size and its pooled-feature size.
        embeddings: ``[N, D]`` per-grid-sample embeddings.
        grid: which samples each window takes.
        windows: how many windows (:meth:`SamplingGrid.count_windows`).

    Returns:
        Logits ``[windows, C]``, pooled features ``[windows, F]`` (``F`` =
        ``models.feature_dim``, 0 without them), and the mean decoder milliseconds per window.

    Raises:
        ModelOutputError: the decoder's output does not hold one value per label.
    """
    out = np.empty((windows, models.num_classes), np.float32)
    feats = np.empty((windows, models.feature_dim), np.float32)
    t_start = time.perf_counter()

    def done(request: ov.InferRequest, w: int) -> None:
        out[w] = logits_of(request.get_output_tensor(0).data, num_classes=models.num_classes)
        if models.feature_dim:
            feats[w] = pooled_of(request.get_output_tensor(1).data, feature_dim=models.feature_dim)

    optimal = int(models.decoder.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    jobs = InferJobs(models.decoder, max(1, min(windows, optimal)), done)
    released = 0  # rows behind the windows handed back (rows in a temporary file: RowStore)
    try:
        for w in range(windows):
            ks = grid.window_samples(w)
            jobs.start_async({0: embeddings[ks.start : ks.stop][None]}, w)  # the request copies its input
            if ks.start - released >= BLOCK_ROWS:
                release_pages(embeddings[released : ks.start])
                released = ks.start
        jobs.wait_all()  # raises what a callback raised, once
        release_pages(embeddings)
    finally:
        jobs.drain()  # never free a queue with requests running (OpenVINO aborts or hangs)
    return out, feats, (time.perf_counter() - t_start) * 1000 / max(windows, 1)
