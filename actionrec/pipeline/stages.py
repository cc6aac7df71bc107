"""The file encoder's stages: decode ‖ preprocess + async encode, then one :class:`EncodedVideo`.

:class:`FileEncoder` runs one finite frame source through three stages:

1. **reader** (:meth:`FileEncoder._read`, its own thread): pulls frames from the source, places
   them on the sampling grid (:class:`~actionrec.pipeline.GridSampler`) and puts each decided
   :class:`~actionrec.pipeline.Sample` on a bounded queue (memory stays flat on long files).
   Decoding is the critical path of a file, so this thread does nothing else.
2. **encoder** (:meth:`FileEncoder._encode`, the calling thread): preprocesses every new sample and
   submits it to the batched async encoder (:class:`~actionrec.pipeline.EncoderQueue`); the
   callbacks write embedding ``k`` into row ``k``, whatever order they arrive in. The rows are
   blocks of a temporary file (:class:`~actionrec.pipeline.rows.RowStore`): those done with leave
   the process's memory, so it does not grow with the length of the video.
3. **result** (:meth:`FileEncoder._result`, after the reader is joined): the :class:`EncodedVideo`.

Each stage owns its counters (:class:`ReaderCounts`, :class:`EncoderCounts`); the main thread
reads the reader's only after joining it. Kept apart from :mod:`actionrec.pipeline.files` (the
:class:`~actionrec.pipeline.Recognizer` that calls it) so each file stays short and the threaded
part can be read on its own.

Not split: the three stages share one run's state (the queue, the rows, the counters); a chunk of a
long video (``first_sample``/``end_sample``) is a few lines in each.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..models.runtime import ActionModels
from ..results import StageTimings
from ..video.core import CroppableFrame, Frame, VideoStats
from .encoded import EncodedVideo
from .encoders import EncoderQueue
from .preprocess import preprocess_frame
from .rows import RowStore
from .sampling import GridNeed, GridSampler, NearestFrameFilter, NeedFrom, Sample, SamplingGrid

if TYPE_CHECKING:
    from tqdm.auto import tqdm

QUEUE_DEPTH = 6  # preprocessed samples waiting for an encoder request (bounded: flat memory)
_PROGRESS_EVERY = 16  # grid samples between progress bar refreshes


class _End:
    """Reader → encoder: no more samples."""


_END = _End()
_Item = Sample[Frame] | _End | BaseException


@dataclass
class ReaderCounts:
    """What the reader stage saw. Written by the reader thread only; read after it is joined.

    Attributes:
        frames: frames taken from the source (frames a frame filter passed over are not among them).
        decode_s: seconds spent waiting for the source's next frame.
        first_timestamp_s: the first frame's time.
        last_timestamp_s: the last frame analysed (at the end of a file, the source's last
            timestamp, which may be a frame the filter passed over).
        size_wh: the first frame's size.
    """

    frames: int = 0
    decode_s: float = 0.0
    first_timestamp_s: float | None = None
    last_timestamp_s: float | None = None
    size_wh: tuple[int, int] | None = None


@dataclass
class EncoderCounts:
    """What the encoder stage did. Main thread only.

    Attributes:
        preprocess_s: seconds spent preprocessing.
        crop_xywh: the model crop of the last preprocessed frame, in source pixels.
    """

    preprocess_s: float = 0.0
    crop_xywh: tuple[int, int, int, int] | None = None


class FileEncoder:
    """Encode every grid sample of one finite frame source (see the module docstring).

    One encoder per source: the frame filter and the sampler follow that source's timestamps.

    Args:
        models: compiled encoder (``hint="THROUGHPUT"`` batches the requests).
        grid: the sampling grid.
        max_seconds: stop after this many seconds of video from the first frame (``None``: all).
        progress: show a ``tqdm`` bar (frames decoded).
        on_progress: ``on_progress(frames_decoded, total_frames_or_None)``, called on the encoding
            thread whenever the bar is refreshed; what it raises stops the run (re-raised after
            every request finished and the reader stopped).
        queue_depth: samples the reader may run ahead of the encoder.
        known: embeddings of this same source and grid step from an earlier run (a partial cache
            entry): samples it holds are copied, not encoded again; a sample whose frame differs
            from the stored one's is encoded.
        first_sample, end_sample: encode only grid samples ``first_sample <= k < end_sample``
            (``None``: to the end of the source) of the whole source's grid (``t0`` its first
            frame): one chunk of a long video (:mod:`actionrec.pipeline.chunks`). The source is
            still decoded from its start, so every sample takes the frame the whole run takes; the
            reader stops once sample ``end_sample - 1`` is decided. The result's rows are those
            samples (``first_sample`` in it); :attr:`reached_end` says whether the source ended.

    Only the samples some window of ``grid`` takes are encoded (:meth:`SamplingGrid.sample_used`:
    all of them unless the stride is longer than the window); the result's ``encoded`` says which.

    Attributes:
        frame_filter: pass it to :func:`~actionrec.video.open_video` (``frame_filter=``) so files
            decoded by OpenCV skip the BGR conversion of frames no grid point needs; its ``t0``
            is set from the first frame.
        frame_need: pass it as ``frame_need=`` for the sampled decode (:mod:`actionrec.video.sampled`):
            the frames come unconverted, only the crop of each encoded sample is converted, and
            non-reference frames no grid point takes are not decoded; its ``t0`` is set likewise.

    Example:
        >>> encoder = FileEncoder(models, grid)                                  # doctest: +SKIP
        >>> with open_video("clip.mp4", frame_filter=encoder.frame_filter) as video:  # doctest: +SKIP
        ...     encoded = encoder.run(video, source=video.info.source, stats=video.stats)
    """

    def __init__(
        self,
        models: ActionModels,
        grid: SamplingGrid,
        *,
        max_seconds: float | None = None,
        progress: bool = True,
        on_progress: Callable[[int, int | None], object] | None = None,
        queue_depth: int = QUEUE_DEPTH,
        known: EncodedVideo | None = None,
        first_sample: int = 0,
        end_sample: int | None = None,
    ) -> None:
        if first_sample < 0 or (end_sample is not None and end_sample <= first_sample):
            raise ValueError(
                f"samples {first_sample}..{end_sample} are not a range of grid samples; need 0 <= first < end"
            )
        self.models = models
        self.grid = grid
        self.known = known
        self.max_seconds = max_seconds
        self.progress = progress
        self.on_progress = on_progress
        self.frame_filter = NearestFrameFilter(step_s=grid.step_s)
        self.frame_need: GridNeed | NeedFrom = GridNeed(step_s=grid.step_s)
        if first_sample:  # frames only samples before the chunk take are not decoded (non-reference ones)
            self.frame_need = NeedFrom(self.frame_need, first_k=first_sample)
        self.first_sample = first_sample
        self.end_sample = end_sample
        self.reached_end = False
        self._sampler: GridSampler[Frame] = GridSampler(step_s=grid.step_s)
        self._handoff: queue.Queue[_Item] = queue.Queue(maxsize=queue_depth)
        self._stop = threading.Event()
        self._reader = ReaderCounts()
        self._counts = EncoderCounts()
        # Rows written by OpenVINO's callback threads into blocks of 256 (a RowStore, made by run()).
        # Growing appends a block (no copy, no wait for the requests in flight) and retires the blocks
        # behind the last two (pages and mapping given up): the rows stay in the file, not in memory.
        self._lock = threading.Lock()
        self._rows: RowStore | None = None
        self._times: list[float] = []
        self._indices: list[int] = []
        self._dups: list[bool] = []
        self._encoded: list[bool] = []  # sample k has (or will have, once its request ends) an embedding
        self._copied: list[bool] = []  # ... taken from the previous sample's (a duplicate frame)
        self._samples_encoded = 0  # requests submitted: what this run spent on the encoder
        self._started = False

    def run(
        self,
        frames: Iterable[Frame],
        *,
        source: str,
        total_frames: int | None = None,
        stats: VideoStats | None = None,
    ) -> EncodedVideo:
        """Decode ``frames`` in a reader thread while this thread preprocesses and encodes.

        Args:
            frames: the frames, in time order (an opened :class:`~actionrec.video.VideoSource`).
            source: the name to report.
            total_frames: for the progress bar (``None``: unknown).
            stats: the source's counters: frames decoded (including those the filter passed
                over), corrupt, truncated, the last timestamp.

        Returns:
            The embeddings of every grid sample, in grid order; a long video's are a read-only
            mapping of the temporary file they were written to (:mod:`actionrec.pipeline.rows`).

        Raises:
            RuntimeError: this encoder already ran.
            ValueError: a frame is not an HxWx3 uint8 image.
            ModelOutputError: the encoder's output does not have ``embedding_dim`` values per sample.
            Exception: whatever the source raised (re-raised here, after every request finished
                and the reader stopped).
        """
        if self._started:
            raise RuntimeError("a FileEncoder encodes one source; make a new one for the next")
        self._started = True
        self._rows = RowStore(self.models.embedding_dim)
        try:
            return self._run(frames, source=source, total_frames=total_frames, stats=stats)
        except BaseException:  # a failure, or Ctrl+C (a second one while draining included): no result
            self._rows.close()
            raise

    def _run(
        self, frames: Iterable[Frame], *, source: str, total_frames: int | None, stats: VideoStats | None
    ) -> EncodedVideo:
        """The stages of :meth:`run`, with its rows made."""
        from tqdm.auto import tqdm

        models = self.models
        jobs = EncoderQueue(
            models.encoder,
            self._store,
            requests=models.optimal_requests(),
            batch=models.encoder_batch,
            embedding_dim=models.embedding_dim,
        )
        reader = threading.Thread(target=self._read, args=(frames, stats), name="actionrec-reader", daemon=True)
        bar = tqdm(total=total_frames, unit="frame", desc=_short(source), disable=not self.progress, leave=True)
        reader.start()
        try:
            self._encode(jobs, bar, total_frames)
        finally:
            self._stop.set()
            # Never free an AsyncInferQueue with requests running (OpenVINO aborts or hangs); drain()
            # never raises, so the error on its way (the first one) is the one the caller sees. The
            # caller closes the source next: the reader must have left next() first.
            _through_interrupts(jobs.drain, reader.join)
            bar.n = self._frames_decoded(stats)
            bar.close()
        encoder_s = jobs.latency_s
        del jobs  # its requests' input buffers (a batch of frames each) are not held while the result is made
        return self._result(source, stats, encoder_s=encoder_s)

    # -- stage 1: the reader thread --------------------------------------------------------------

    def _read(self, frames: Iterable[Frame], stats: VideoStats | None) -> None:
        """Frames → grid samples on the queue, then the end marker (or the exception raised)."""
        counts, sampler = self._reader, self._sampler
        try:
            it = iter(frames)
            ended = False
            while not self._stop.is_set():
                t = time.perf_counter()
                frame = next(it, None)
                counts.decode_s += time.perf_counter() - t
                if frame is None:
                    ended = True
                    break
                counts.frames += 1
                if counts.first_timestamp_s is None:
                    counts.first_timestamp_s = self.frame_filter.t0 = self.frame_need.t0 = frame.timestamp_s
                    counts.size_wh = _size_wh(frame)
                if self.max_seconds is not None and frame.timestamp_s - counts.first_timestamp_s > self.max_seconds:
                    break
                counts.last_timestamp_s = frame.timestamp_s
                if not self._put_all(sampler.push(frame)):
                    return
                if self.end_sample is not None and sampler.next_k >= self.end_sample:
                    break  # the chunk's last sample is decided: the rest of the file is another chunk's
            self.reached_end = ended
            # The last frames of a file may have been passed over by the filter: their grid points
            # belong to the last frame pushed.
            last_t = stats.last_timestamp_s if stats is not None else None
            if ended and last_t is not None and counts.last_timestamp_s is not None:
                counts.last_timestamp_s = max(counts.last_timestamp_s, last_t)
                if not self._put_all(sampler.finish(last_t)):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the main thread, which re-raises it
            self._put(exc)

    def _put(self, item: _Item) -> bool:
        """Queue ``item``, waiting while the queue is full; ``False`` once the main thread stopped."""
        while not self._stop.is_set():
            try:
                self._handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _put_all(self, samples: Iterable[Sample[Frame]]) -> bool:
        return all(self._put(s) for s in samples)

    # -- stage 2: the encoder, on the calling thread ---------------------------------------------

    def _encode(self, jobs: EncoderQueue, bar: tqdm, total_frames: int | None) -> None:
        """Take samples until the end marker: preprocess and submit each new one, in ``k`` order."""
        input_hw, rows = self.models.input_size_hw, self._rows
        assert rows is not None
        while True:
            item = self._handoff.get()
            if isinstance(item, _End):
                break
            if isinstance(item, BaseException):
                raise item
            k, frame = item.k - self.first_sample, item.frame  # k: the row (the grid index in a whole run)
            if k < 0 or (self.end_sample is not None and item.k >= self.end_sample):
                continue  # another chunk's sample
            if k >= rows.rows:
                with self._lock:
                    rows.add_block()
                    rows.release_behind()
            self._times.append(frame.timestamp_s)
            self._indices.append(frame.index)
            self._dups.append(item.duplicated)
            copy = item.duplicated and k > 0 and self._encoded[k - 1]  # reuse the previous sample's row
            if self._known_row(k, frame.index):
                self._store(k, self.known.embeddings[k + self.first_sample - self.known.first_sample])
                self._encoded.append(True)
                copy = False
            elif not self.grid.sample_used(item.k) or copy:
                self._encoded.append(copy)
            else:
                t = time.perf_counter()
                pre = preprocess_frame(frame, input_hw=input_hw)
                self._counts.preprocess_s += time.perf_counter() - t
                self._counts.crop_xywh = pre.crop_xywh
                jobs.submit(pre.tensor, k)
                self._samples_encoded += 1
                self._encoded.append(True)
            self._copied.append(copy)
            if item.k % _PROGRESS_EVERY == 0:
                bar.n = frame.index + 1  # frames decoded up to this sample (exact count after the join)
                bar.refresh()
                if self.on_progress is not None:
                    self.on_progress(frame.index + 1, total_frames)
        jobs.flush()
        jobs.wait_all()

    def _known_row(self, k: int, frame_index: int) -> bool:
        """The earlier run stored row ``k``'s sample, taken from the same frame."""
        known = self.known
        if known is None:
            return False
        r = k + self.first_sample - known.first_sample
        return 0 <= r < known.num_samples and bool(known.encoded[r]) and int(known.frame_indices[r]) == frame_index

    def _store(self, k: int, vector: np.ndarray) -> None:
        """Encoder callback (OpenVINO's threads): embedding ``k`` into row ``k``."""
        with self._lock:
            self._rows.write(k, vector)

    # -- stage 3: the result, after the join -----------------------------------------------------

    def _frames_decoded(self, stats: VideoStats | None) -> int:
        """The source's count includes the frames the filter passed over."""
        return stats.frames_decoded if stats is not None else self._reader.frames

    def _result(self, source: str, stats: VideoStats | None, *, encoder_s: float) -> EncodedVideo:
        n = len(self._times)
        emb = self._rows.finish(n, repeat_previous=np.flatnonzero(np.asarray(self._copied, bool)))
        duplicated = np.asarray(self._dups, bool)
        encoded_n = max(1, self._samples_encoded)
        decoded = self._frames_decoded(stats)
        first_t, last_t = self._reader.first_timestamp_s, self._reader.last_timestamp_s
        return EncodedVideo(
            source=source,
            embeddings=emb,
            frame_times_s=np.asarray(self._times, np.float64),
            frame_indices=np.asarray(self._indices, np.int64),
            duplicated=duplicated,
            t0_s=float(self._sampler.t0 or 0.0),
            step_s=self.grid.step_s,
            frames_decoded=decoded,
            frames_corrupt=stats.frames_corrupt if stats is not None else 0,
            truncated=stats.truncated if stats is not None else False,
            duration_s=float(last_t - first_t) if first_t is not None and last_t is not None else 0.0,
            timings=StageTimings(
                decode_ms=self._reader.decode_s * 1000 / max(1, decoded),
                preprocess_ms=self._counts.preprocess_s * 1000 / encoded_n,
                encoder_ms=encoder_s * 1000 / encoded_n,
            ),
            crop_xywh=self._counts.crop_xywh or (self.known.crop_xywh if self.known is not None else None),
            size_wh=self._reader.size_wh,
            encoded=np.asarray(self._encoded, bool),
            first_sample=self.first_sample,
        )

    @property
    def samples_encoded(self) -> int:
        """Samples this run sent to the encoder (not those copied from a duplicate or ``known``)."""
        return self._samples_encoded


def _through_interrupts(*steps: Callable[[], None]) -> None:
    """Run each shutdown step to its end even when Ctrl+C arrives meanwhile; then re-raise it.

    A second Ctrl+C during shutdown must not cut the wait for the requests or the reader short:
    the caller would release the capture while the reader is still inside ``read()`` (FFmpeg
    then reads freed memory). An interrupted step runs again (each is a wait, safe to repeat);
    the reader stops at its next frame, so the wait is one frame's decode.
    """
    interrupted: KeyboardInterrupt | None = None
    for step in steps:
        while True:
            try:
                step()
                break
            except KeyboardInterrupt as exc:
                interrupted = interrupted or exc
    if interrupted is not None:
        raise interrupted


def _size_wh(frame: Frame | CroppableFrame) -> tuple[int, int]:
    """Upright (width, height), without converting a sampled-decode frame's pixels."""
    size = getattr(frame, "size_wh", None)
    if size is not None:
        return size
    return (frame.image_bgr.shape[1], frame.image_bgr.shape[0])


def _short(source: str, width: int = 28) -> str:
    name = source.rsplit("/", 1)[-1]
    return name if len(name) <= width else "…" + name[-(width - 1) :]
