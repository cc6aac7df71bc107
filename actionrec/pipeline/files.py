"""File analysis: decode → time-based sampling → async encoder → sliding-window decoder.

Decoding runs in a reader thread, overlapped with preprocessing and encoder inference (batches of
samples through an ``AsyncInferQueue`` with the throughput hint, :mod:`actionrec.pipeline.encoders`);
embeddings are put back in grid order whatever order the callbacks arrive in; queues are bounded so
memory stays flat on long files. Each grid sample is encoded once; windows (``clip_len`` samples,
``stride`` apart) then need only the decoder, so re-analysis with another stride, smoothing,
threshold or top-k reuses the embeddings.

Example:
    >>> models = compile_models(resolve_model())          # doctest: +SKIP
    >>> timeline = Recognizer(models).analyze("clip.mp4")  # doctest: +SKIP
    >>> timeline.segments()[0].label                        # doctest: +SKIP
    'arm wrestling'
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import ClipTooShortError
from ..models.runtime import ActionModels
from ..results import Prediction, StageTimings, Timeline
from ..video.open import open_video
from .cache import EmbeddingCache
from .encoded import EncodedVideo
from .encoders import EncoderQueue
from .options import RecognizerOptions
from .preprocess import preprocess
from .sampling import GridSampler, NearestFrameFilter, SamplingGrid

_END = object()  # reader -> main: no more samples
_QUEUE_DEPTH = 6  # preprocessed samples waiting for an encoder request (bounded: flat memory)


class Recognizer:
    """Analyse whole files (or any finite frame source) into a :class:`Timeline`.

    Args:
        models: compiled encoder/decoder (use ``hint="THROUGHPUT"`` for files).
        options: window, stride, top-k and (centred) smoothing; default :class:`RecognizerOptions`.
    """

    def __init__(self, models: ActionModels, *, options: RecognizerOptions | None = None) -> None:
        self.models = models
        self.options = options if options is not None else RecognizerOptions()
        self.grid = self.options.grid(clip_len=models.clip_len)

    # -- public verbs -------------------------------------------------------------------------
    def analyze(
        self,
        source: Any,
        *,
        progress: bool = True,
        cache: bool = True,
        max_seconds: float | None = None,
    ) -> Timeline:
        """Encode ``source`` (path, URL, frames...) and decode every window.

        With ``cache`` (files only) embeddings are stored under ``data/cache/`` keyed by file
        content, model, precision and sampling, and reused on the next call.

        Raises:
            VideoOpenError: the source cannot be opened.
            ClipTooShortError: the source is shorter than one window.
        """
        # A bounded analysis (max_seconds) neither reads nor writes the cache of the whole file.
        use_cache = cache and max_seconds is None
        store = EmbeddingCache.for_source(source, models=self.models, grid=self.grid) if use_cache else None
        encoded = store.load() if store is not None else None
        if encoded is None:
            encoded = self.encode(source, progress=progress, max_seconds=max_seconds)
            if store is not None and not encoded.truncated:
                store.save(encoded)
        return self.decode(encoded)

    def encode(self, source: Any, *, progress: bool = True, max_seconds: float | None = None) -> EncodedVideo:
        """Decode ``source`` and run the encoder on every grid sample (see :class:`EncodedVideo`)."""
        with open_video(source, progress=progress) as video:
            return _encode_frames(
                video,
                models=self.models,
                grid=self.grid,
                source=video.info.source,
                total_frames=video.info.frame_count,
                progress=progress,
                max_seconds=max_seconds,
                stats=video.stats,
            )

    def decode(self, encoded: EncodedVideo) -> Timeline:
        """Run the decoder over every window of ``encoded`` and return the timeline.

        Raises:
            ClipTooShortError: fewer grid samples than one window needs.
        """
        grid, n = self.grid, encoded.num_samples
        windows = grid.count_windows(n)
        if windows == 0:
            span = float(encoded.frame_times_s[-1] - encoded.t0_s) if n else 0.0
            raise ClipTooShortError(
                f"{encoded.source} is too short: {encoded.frames_decoded} frames cover {span:.2f} s, but "
                f"one window needs {grid.clip_len} samples {grid.step_s * 1000:.1f} ms apart "
                f"({(grid.clip_len - 1) * grid.step_s:.2f} s of video); use a longer clip"
            )
        logits, decoder_ms = run_decoder(self.models, encoded.embeddings, grid, windows)
        timings = StageTimings(
            decode_ms=encoded.stage_ms.get("decode", 0.0),
            preprocess_ms=encoded.stage_ms.get("preprocess", 0.0),
            encoder_ms=encoded.stage_ms.get("encoder", 0.0),
            decoder_ms=decoder_ms,
        )
        predictions = []
        times = encoded.frame_times_s
        for w in range(windows):
            ks = grid.window_samples(w)
            first, last = ks[0], ks[-1]
            start_s, end_s = grid.window_span(w, encoded.t0_s)
            predictions.append(
                Prediction.from_logits(
                    logits[w],
                    labels=self.models.labels,
                    top_k=self.options.top_k,
                    window_index=w,
                    start_s=start_s,
                    end_s=end_s,
                    coverage_s=grid.coverage_s(float(times[first]), float(times[last])),
                    duplicated=int(encoded.duplicated[first + 1 : last + 1].sum()),
                    missing=0,
                    timings=timings,
                )
            )
        timeline = Timeline(
            source=encoded.source,
            labels=self.models.labels,
            predictions=tuple(predictions),
            window_s=grid.window_s,
            stride_s=grid.stride_s,
            step_s=grid.step_s,
            clip_len=grid.clip_len,
            top_k=self.options.top_k,
            model=self.models.model,
            precision=self.models.precision,
            device=self.models.device,
            frames_decoded=encoded.frames_decoded,
            frames_corrupt=encoded.frames_corrupt,
            truncated=encoded.truncated,
            duration_s=encoded.duration_s,
        )
        smoothing = self.options.smoothing
        return timeline.smoothed(smoothing) if smoothing > 1 else timeline


def run_decoder(
    models: ActionModels, embeddings: np.ndarray, grid: SamplingGrid, windows: int
) -> tuple[np.ndarray, float]:
    """Logits ``[windows, C]`` for every window, and the mean decoder milliseconds per window."""
    import openvino as ov

    out = np.empty((windows, models.num_classes), np.float32)
    t_start = time.perf_counter()

    def done(request, w: int) -> None:
        out[w] = request.get_output_tensor(0).data.reshape(-1)

    optimal = int(models.decoder.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    jobs = ov.AsyncInferQueue(models.decoder, max(1, min(windows, optimal)))
    jobs.set_callback(done)
    try:
        for w in range(windows):
            ks = grid.window_samples(w)
            jobs.start_async({0: embeddings[ks.start : ks.stop][None]}, w)
    finally:
        jobs.wait_all()  # never free a queue with requests running (OpenVINO aborts or hangs)
    return out, (time.perf_counter() - t_start) * 1000 / max(windows, 1)


def _encode_frames(
    frames: Iterable[Any],
    *,
    models: ActionModels,
    grid: SamplingGrid,
    source: str,
    total_frames: int | None = None,
    progress: bool = True,
    max_seconds: float | None = None,
    stats: Any = None,
) -> EncodedVideo:
    """The overlapped decode → sample → preprocess → async-encode loop."""
    from tqdm.auto import tqdm

    sampler: GridSampler[Any] = GridSampler(step_s=grid.step_s)
    handoff: queue.Queue = queue.Queue(maxsize=_QUEUE_DEPTH)
    stop = threading.Event()
    meta = {"decoded": 0, "decode_s": 0.0, "pre_s": 0.0, "crop": None, "size": None, "last_t": None, "first_t": None}
    input_hw = models.input_size_hw

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    # Files decoded by OpenCV convert only frames that can be nearest to a grid point.
    keep = NearestFrameFilter(step_s=grid.step_s)

    def decoded() -> int:
        """Frames decoded so far: the source's count includes frames the filter passed over."""
        return int(getattr(stats, "frames_decoded", meta["decoded"]))

    if hasattr(frames, "keep"):
        frames.keep = keep

    def emit(samples) -> bool:
        for s in samples:
            # Preprocessing happens in the main thread: decoding is the critical path here.
            image = None if s.duplicated else s.frame.image_bgr
            if not put((s.k, s.frame.timestamp_s, s.frame.index, s.duplicated, image)):
                return False
        return True

    def reader() -> None:
        try:
            it = iter(frames)
            ended = False
            while not stop.is_set():
                t = time.perf_counter()
                frame = next(it, None)
                meta["decode_s"] += time.perf_counter() - t
                if frame is None:
                    ended = True
                    break
                meta["decoded"] += 1
                if meta["first_t"] is None:
                    meta["first_t"] = keep.t0 = frame.timestamp_s
                    meta["size"] = (frame.image_bgr.shape[1], frame.image_bgr.shape[0])
                if max_seconds is not None and frame.timestamp_s - meta["first_t"] > max_seconds:
                    break
                meta["last_t"] = frame.timestamp_s
                if not emit(sampler.push(frame)):
                    return
            last_t = getattr(stats, "last_timestamp_s", None)
            if ended and last_t is not None and meta["first_t"] is not None:
                meta["last_t"] = max(meta["last_t"], last_t)  # the last frames may have been passed over
                if not emit(sampler.finish(last_t)):
                    return
            put(_END)
        except BaseException as exc:  # handed to the main thread, which re-raises it
            put(exc)

    dim = models.embedding_dim
    emb = np.zeros((0, dim), np.float32)
    times: list[float] = []
    indices: list[int] = []
    dups: list[bool] = []
    lock = threading.Lock()

    def done(k: int, vec: np.ndarray) -> None:
        with lock:
            emb[k] = vec  # ordered by k whatever order callbacks arrive in

    jobs = EncoderQueue(models.encoder, done, requests=models.optimal_requests(), batch=models.encoder_batch)
    thread = threading.Thread(target=reader, name="actionrec-reader", daemon=True)
    bar = tqdm(total=total_frames, unit="frame", desc=_short(source), disable=not progress, leave=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            k, frame_t, frame_index, duplicated, image = item
            if k >= len(emb):
                # Grow by doubling: callbacks write into emb, so swap it under the lock.
                jobs.wait_all()
                with lock:
                    grown = np.zeros((max(256, 2 * len(emb)), dim), np.float32)
                    grown[: len(emb)] = emb
                    emb = grown
            times.append(frame_t)
            indices.append(frame_index)
            dups.append(duplicated)
            if image is not None:
                t = time.perf_counter()
                pre = preprocess(image, input_hw=input_hw)
                meta["pre_s"] += time.perf_counter() - t
                meta["crop"] = pre.crop_xywh
                jobs.submit(pre.tensor, k)
            if k % 16 == 0:
                bar.n = decoded()
                bar.refresh()
        jobs.flush()
        jobs.wait_all()
    finally:
        stop.set()
        # Never free an AsyncInferQueue with requests running (OpenVINO aborts or hangs), and let
        # the reader leave next() before the source is closed under it.
        with contextlib.suppress(Exception):
            jobs.wait_all()
        thread.join()
        bar.n = decoded()
        bar.close()
    n = len(times)
    emb = emb[:n].copy()
    dup_arr = np.asarray(dups, bool)
    for k in np.flatnonzero(dup_arr):
        emb[k] = emb[k - 1]
    encoded_n = max(1, int((~dup_arr).sum()))
    first_t, last_t = meta["first_t"], meta["last_t"]
    return EncodedVideo(
        source=source,
        embeddings=emb,
        frame_times_s=np.asarray(times, np.float64),
        frame_indices=np.asarray(indices, np.int64),
        duplicated=dup_arr,
        t0_s=float(sampler.t0 or 0.0),
        step_s=grid.step_s,
        frames_decoded=decoded(),
        frames_corrupt=int(getattr(stats, "frames_corrupt", 0)),
        truncated=bool(getattr(stats, "truncated", False)),
        duration_s=float(last_t - first_t) if first_t is not None else 0.0,
        stage_ms={
            "decode": meta["decode_s"] * 1000 / max(1, decoded()),
            "preprocess": meta["pre_s"] * 1000 / encoded_n,
            "encoder": jobs.latency_s * 1000 / encoded_n,
        },
        crop_xywh=meta["crop"],
        size_wh=meta["size"],
    )


def _short(source: str, width: int = 28) -> str:
    name = source.rsplit("/", 1)[-1]
    return name if len(name) <= width else "…" + name[-(width - 1) :]
