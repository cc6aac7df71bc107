"""Live recognition for cameras and real-time playback: never blocks, never queues.

Frames are pushed at the source's pace. Grid samples (the same time-based grid as files, on the
source's timestamps: wall clock for cameras) go to the encoder only when a request is free (as
many as fit the latency budget, :mod:`actionrec.pipeline.inflight`); otherwise the sample is dropped
and counted as *missing* in its window's coverage, so a slow CPU makes labels coarser, never late.
The decoder runs as soon as a window's samples are resolved.

Example:
    >>> live = LiveRecognizer(compile_models(files, hint="LIVE"))      # doctest: +SKIP
    >>> for frame in camera:                                           # doctest: +SKIP
    ...     live.push(frame)
    ...     if (p := live.poll()) is not None:
    ...         print(p.label, p.score)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..models.runtime import ActionModels
from ..results import Prediction, StageTimings, softmax
from .decoded import Head
from .inflight import DEFAULT_CAP, InFlightLimit
from .jobs import InferJobs, embeddings_of, logits_of, pooled_of
from .options import RecognizerOptions
from .preprocess import preprocess
from .sampling import GridSampler

if TYPE_CHECKING:
    import openvino as ov

    from ..video.core import Frame

_PENDING = object()  # a window still waiting for samples


class LiveRecognizer:
    """Push frames, poll predictions.

    Args:
        models: compiled models (use ``hint="LIVE"``: on a CPU, streams of one thread each).
        options: window, stride, top-k and smoothing (a trailing average live: future windows are
            unknown); default :class:`RecognizerOptions`.
        max_in_flight: encoder requests running at once. Default ``None``: as many as the latency
            budget allows, from the encoder's measured service time
            (:class:`~actionrec.pipeline.inflight.InFlightLimit`: up to 4, or the plugin's optimal
            number if larger; fewer on a slow encoder), so a sample arriving while the encoder is
            busy waits instead of being dropped. A number: that many, fixed (at least 1).
        clock: injected time source for timings.
        head: what the predictions' classes are: ``None`` for the model's own, or a
            :class:`~actionrec.pipeline.decoded.Head` (label groups, custom actions:
            :mod:`actionrec.heads`); smoothing averages the head's probabilities.

    Attributes:
        latest: the newest prediction, or ``None`` while the first window is collecting frames.
            Each prediction carries the model crop of its window's last encoded sample
            (:attr:`Prediction.crop_xywh <actionrec.results.Prediction.crop_xywh>`, for drawing)
            and the recognizer's stage timings when it was decoded.
        samples_encoded, samples_missing, samples_duplicated: counters since start. A sample that
            would reuse the frame of a missing sample is missing too (it has nothing to reuse).
        in_flight_limit: the :class:`~actionrec.pipeline.inflight.InFlightLimit` deciding how many
            requests run at once (``None`` with a fixed ``max_in_flight``); see :attr:`max_in_flight`.

    An error in an encoder callback (e.g. :class:`~actionrec.errors.ModelOutputError`: the
    encoder's output does not fit the decoder) is raised once, on the caller's thread, by the next
    :meth:`push`, :meth:`poll` or :meth:`close`; that sample counts as missing.
    """

    def __init__(
        self,
        models: ActionModels,
        *,
        options: RecognizerOptions | None = None,
        max_in_flight: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
        head: Head | None = None,
    ) -> None:
        if head is not None:
            head.check_models(models)
        self.head = head
        self.labels: tuple[str, ...] = head.labels if head is not None else models.labels
        self.models = models
        self.options = options if options is not None else RecognizerOptions()
        self.grid = self.options.grid(clip_len=models.clip_len)
        self.clock = clock
        self.latest: Prediction | None = None
        self.samples_encoded = self.samples_missing = self.samples_duplicated = 0
        self._sampler: GridSampler[Frame] = GridSampler(step_s=self.grid.step_s)
        self._lock = threading.Lock()
        self._emb: dict[int, np.ndarray] = {}  # k -> embedding (done)
        self._state: dict[int, str] = {}  # k -> "flight" | "done" | "dup" | "missing"
        self._frame_t: dict[int, float] = {}
        self._crop: dict[int, tuple[int, int, int, int]] = {}  # k -> model crop (preprocessed)
        self._dup_of: dict[int, int] = {}  # "dup" k -> the sample that encoded its frame
        self._started: dict[int, float] = {}
        self._enc_ms: deque[float] = deque(maxlen=32)
        self._pre_ms: deque[float] = deque(maxlen=32)
        self._dec_ms: deque[float] = deque(maxlen=32)
        self._recent: deque[np.ndarray] = deque(maxlen=self.options.smoothing)
        self._next_window = 0
        self._in_flight = 0
        if max_in_flight is None:
            cap = max(DEFAULT_CAP, models.optimal_requests())
            self.in_flight_limit: InFlightLimit | None = InFlightLimit(cap=cap, start=min(cap, 2))
        else:
            cap, self.in_flight_limit = max(1, max_in_flight), None
        self._jobs = InferJobs(models.encoder, cap, self._done)
        self._max_in_flight = cap
        self._decoder = models.decoder.create_infer_request()

    # -- producer side ----------------------------------------------------------------------
    def push(self, frame: Frame) -> None:
        """Offer one frame; returns at once (a sample the encoder has no room for is dropped).

        Args:
            frame: the next source frame (``image_bgr``, ``index``, ``timestamp_s``), in time order.

        Raises:
            ValueError: the frame's image is not ``H x W x 3`` uint8 (its sample counts as missing).
            ModelOutputError: an earlier sample's encoder output does not fit the decoder.
        """
        self._jobs.check()
        for s in self._sampler.push(frame):
            self._frame_t[s.k] = s.frame.timestamp_s
            with self._lock:
                if s.duplicated:
                    # A frame that served a dropped sample has no embedding to reuse: missing too.
                    dropped = self._state.get(s.k - 1) == "missing"
                    self._state[s.k] = "missing" if dropped else "dup"
                    if dropped:
                        self.samples_missing += 1
                    else:
                        self.samples_duplicated += 1
                        self._dup_of[s.k] = self._dup_of.get(s.k - 1, s.k - 1)  # a run: its first sample
                    continue
                busy = self._in_flight >= self.max_in_flight
                if busy:
                    self._state[s.k] = "missing"
                    self.samples_missing += 1
                    continue
                self._in_flight += 1
                self._state[s.k] = "flight"
            try:
                t = self.clock()
                pre = preprocess(s.frame.image_bgr, input_hw=self.models.input_size_hw)
                self._pre_ms.append((self.clock() - t) * 1000)
                self._crop[s.k] = pre.crop_xywh
                self._started[s.k] = self.clock()
                self._jobs.start_async({0: pre.tensor}, s.k)
            except BaseException:
                # A bad frame is a missing sample: the window still completes, the slot is free.
                with self._lock:
                    self._in_flight -= 1
                    self._state[s.k] = "missing"
                    self.samples_missing += 1
                raise

    def _done(self, request: ov.InferRequest, k: int) -> None:
        """Encoder callback (an OpenVINO thread): store sample ``k``'s embedding, free its slot.

        If the output is unusable the sample is missing, the slot is freed all the same, and the
        error goes to :class:`~actionrec.pipeline.jobs.InferJobs` (raised by the next push or poll).
        """
        vec: np.ndarray | None = None
        now: float | None = None
        try:
            out = request.get_output_tensor(0).data
            vec = embeddings_of(out, samples=1, embedding_dim=self.models.embedding_dim)[0].copy()
            now = self.clock()
        finally:
            with self._lock:
                self._in_flight -= 1
                started = self._started.pop(k, now)
                if vec is None or now is None:
                    self._state[k] = "missing"
                    self.samples_missing += 1
                else:
                    self._emb[k] = vec
                    self._state[k] = "done"
                    self._enc_ms.append((now - started) * 1000)
                    self.samples_encoded += 1
                    if self.in_flight_limit is not None:
                        self.in_flight_limit.completed(started_s=started, done_s=now)

    @property
    def max_in_flight(self) -> int:
        """Encoder requests allowed in flight now (fixed, or the latency budget's :class:`InFlightLimit`)."""
        return self._max_in_flight if self.in_flight_limit is None else self.in_flight_limit.limit

    # -- consumer side ----------------------------------------------------------------------
    def poll(self) -> Prediction | None:
        """Decode every window whose samples are resolved.

        Returns:
            The newest new prediction (also kept in :attr:`latest`), or ``None`` when no window
            completed since the last call. Several windows may complete at once (a slow consumer,
            a burst of encoder callbacks): :meth:`poll_all` returns each of them.

        Raises:
            ModelOutputError: an encoder or decoder output does not fit its pair or the labels.
        """
        new = self.poll_all()
        return new[-1] if new else None

    def poll_all(self) -> tuple[Prediction, ...]:
        """Decode every window whose samples are resolved, and return each new prediction in order.

        What an event tracker or a recording needs: no window is skipped when several complete
        between two calls. Windows whose samples were all dropped give no prediction.

        Raises:
            ModelOutputError: an encoder or decoder output does not fit its pair or the labels.
        """
        self._jobs.check()
        new: list[Prediction] = []
        while (result := self._try_window(self._next_window)) is not _PENDING:
            self._next_window += 1
            if result is not None:
                new.append(result)
        if new:
            self.latest = new[-1]
        return tuple(new)

    def _try_window(self, w: int) -> Prediction | object | None:
        """The window's prediction; ``None`` when all its samples were dropped; ``_PENDING``."""
        ks = self.grid.window_samples(w)
        with self._lock:
            states = [self._state.get(k) for k in ks]
            if any(s is None or s == "flight" for s in states):
                return _PENDING
            vectors = self._window_vectors(ks, states)
            crop = self._last_crop(ks, states)
        if vectors is None:  # every sample of the window was dropped
            self._forget_before(ks.start + self.grid.stride_steps)
            return None
        t = self.clock()
        outputs = self._decoder.infer({0: np.stack(vectors)[None]})
        logits = logits_of(outputs[0], num_classes=self.models.num_classes)
        self._dec_ms.append((self.clock() - t) * 1000)
        if self.head is None:
            self._recent.append(softmax(logits))
        else:
            dim = self.models.feature_dim
            features = pooled_of(outputs[1], feature_dim=dim) if dim else np.zeros(0, np.float32)
            self._recent.append(self.head.probabilities(logits[None], features[None])[0])
        first, last = ks[0], ks[-1]
        start_s, end_s = self.grid.window_span(w, self._sampler.t0 or 0.0)
        prediction = Prediction.from_probs(
            np.mean(self._recent, axis=0),
            labels=self.labels,
            top_k=self.options.top_k,
            window_index=w,
            start_s=start_s,
            end_s=end_s,
            coverage_s=self.grid.coverage_s(self._frame_t[first], self._frame_t[last]),
            duplicated=sum(s == "dup" for s in states[1:]),
            missing=sum(s == "missing" for s in states),
            timings=self.timings(),
            crop_xywh=crop,
        )
        self._forget_before(ks.start + self.grid.stride_steps)
        return prediction

    def _last_crop(self, ks: range, states: list[str | None]) -> tuple[int, int, int, int] | None:
        """The model crop of the window's last encoded sample (``None``: none was encoded)."""
        for k, s in zip(reversed(ks), reversed(states), strict=True):
            if s == "done":
                return self._crop.get(k)
        return None

    def _window_vectors(self, ks: range, states: list[str | None]) -> list[np.ndarray] | None:
        """Embeddings in grid order; duplicated and missing samples borrow the nearest one."""
        out: list[np.ndarray | None] = []
        for k, s in zip(ks, states, strict=True):
            if s == "done":
                out.append(self._emb[k])
            elif s == "dup":  # the sample that encoded its frame (in this window or the one before)
                out.append(self._emb.get(self._dup_of[k]))
            else:
                out.append(None)
        known = [i for i, v in enumerate(out) if v is not None]
        if not known:
            return None
        return [v if v is not None else out[min(known, key=lambda j: abs(j - i))] for i, v in enumerate(out)]

    def _forget_before(self, k_min: int) -> None:
        """Drop what windows from ``k_min`` on cannot need.

        Kept: the sample before ``k_min`` (or the newest one, if not there yet) and, when that one
        is a duplicate, the sample that encoded its frame: a duplicate starting the next window
        reads that sample's embedding.
        """
        with self._lock:
            keep = min(k_min - 1, max(self._state))  # never empty: the window's samples are in it
            keep = self._dup_of.get(keep, keep)
            for table in (self._emb, self._state, self._frame_t, self._crop, self._dup_of):
                for k in [k for k in table if k < keep]:
                    del table[k]

    def timings(self) -> StageTimings:
        """Recent mean milliseconds of preprocess, encoder (request latency) and decoder."""

        def mean(d: deque[float]) -> float:
            return float(np.mean(d)) if d else 0.0

        return StageTimings(
            preprocess_ms=mean(self._pre_ms), encoder_ms=mean(self._enc_ms), decoder_ms=mean(self._dec_ms)
        )

    def close(self) -> None:
        """Wait for requests in flight (call before dropping the models).

        Raises:
            ModelOutputError: a sample's encoder output (not yet reported) does not fit the decoder.
        """
        self._jobs.wait_all()

    def __enter__(self) -> LiveRecognizer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:  # an error is on its way: wait, but never replace it (e.g. a Ctrl+C) by a callback's
            self._jobs.drain()
