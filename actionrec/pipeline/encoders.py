"""Batched asynchronous encoder requests for file analysis.

Files are encoded through an ``AsyncInferQueue`` with the throughput hint, several samples per
request (:func:`actionrec.models.cpu_file_batch`: 4 on a CPU with AVX-512, where 8 is faster only
with AMX and overshoots the FP16 memory budget; 2 there for an INT8 IR; 1 on AVX2-only CPUs, where
batching gains no throughput and costs ~90 MB): a request
then streams the encoder's weights through the cache once for several crops, and Python starts a
quarter as many requests.
Measured on a 2-core Xeon (AVX-512 VNNI + AMX), proxy models, 720p30 H.264, the whole file
pipeline in paired runs (medians of 4, video frames/s): batch 1 → 4: FP16 231 → 256, FP16-INT8
297 → 328; in another run, batch 4 → 8 → 16: FP16 284 → 295 → 298, FP16-INT8 360 → 375 → 381.
Batch 8 keeps most of the gain; 16 adds 1 % for more memory. Batch 8 costs 24-46 MB more than 4,
for 5.7 % more speed only where the encoder computes in bf16 (AMX): see ``cpu_file_batch``.
``benchmark_app -hint throughput`` on the encoder alone: FP16 292 → 322 frames/s, FP16-INT8
514 → 578 at batch 4 (no better at 8).

Tried and not kept: a second compilation leaving one core to the video decoder while decoding is
the bottleneck gave INT8 +9 % at batch 1, but nothing on top of batching (327 vs 328 frames/s);
one stream of two threads instead of two streams of one: INT8 +2 %, FP16 -7 %.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .jobs import InferJobs, embeddings_of


class EncoderQueue:
    """Async encoder requests carrying ``batch`` samples each.

    Args:
        encoder: the compiled encoder; it must accept ``[batch, C, H, W]``.
        on_embedding: ``on_embedding(k, vector)`` for every submitted sample, called from
            OpenVINO's threads in completion order (not ``k`` order).
        requests: requests in flight (:meth:`ActionModels.optimal_requests
            <actionrec.models.ActionModels.optimal_requests>`).
        batch: samples per request.
        embedding_dim: values per sample the decoder takes (:attr:`ActionModels.embedding_dim
            <actionrec.models.ActionModels.embedding_dim>`); an output of another size is a
            :class:`~actionrec.errors.ModelOutputError`.

    Call :meth:`flush` after the last :meth:`submit`, then :meth:`wait_all`. Never drop the
    queue with requests running (OpenVINO aborts or hangs): :meth:`drain` in a ``finally``.
    An error in a callback (a wrong output size, or what ``on_embedding`` raised) is raised once,
    on the calling thread, by the next :meth:`submit`, :meth:`flush` or :meth:`wait_all`
    (:class:`~actionrec.pipeline.jobs.InferJobs`).
    """

    def __init__(
        self,
        encoder: Any,
        on_embedding: Callable[[int, np.ndarray], None],
        *,
        requests: int,
        batch: int = 1,
        embedding_dim: int,
    ):
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self._jobs = InferJobs(encoder, requests, self._done)
        self._on_embedding = on_embedding
        self.batch = batch
        self.embedding_dim = embedding_dim
        self._buffer: np.ndarray | None = None
        self._pending: list[int] = []
        self._lock = threading.Lock()
        self.latency_s = 0.0  # request latency summed over the samples each request carried

    def submit(self, tensor: np.ndarray, k: int) -> None:
        """Add one preprocessed sample (``[1, C, H, W]``); a full batch starts at once.

        Blocks while every request is running.

        Raises:
            ModelOutputError: an earlier request's output has the wrong size.
            Exception: what ``on_embedding`` raised for an earlier request.
        """
        if self._buffer is None:
            self._buffer = np.empty((self.batch, *tensor.shape[1:]), tensor.dtype)
        self._buffer[len(self._pending)] = tensor[0]
        self._pending.append(k)
        if len(self._pending) == self.batch:
            self._start()

    def flush(self) -> None:
        """Start the last, partial batch (padded with copies of its last sample)."""
        if self._pending:
            self._buffer[len(self._pending) :] = self._buffer[len(self._pending) - 1]
            self._start()

    def wait_all(self) -> None:
        """Wait for every started request (samples of a partial batch stay pending).

        Raises:
            ModelOutputError, Exception: as :meth:`submit`, for any request started.
        """
        self._jobs.wait_all()

    def drain(self) -> None:
        """Wait for every started request without raising (for ``finally`` blocks)."""
        self._jobs.drain()

    def _start(self) -> None:
        ks, self._pending = tuple(self._pending), []
        # start_async copies the inputs (share_inputs=False), so the buffer can be refilled at once.
        self._jobs.start_async({0: self._buffer}, (ks, time.perf_counter()))

    def _done(self, request: Any, userdata: tuple[tuple[int, ...], float]) -> None:
        ks, started = userdata
        rows = embeddings_of(request.get_output_tensor(0).data, samples=self.batch, embedding_dim=self.embedding_dim)
        for i, k in enumerate(ks):
            self._on_embedding(k, rows[i])
        with self._lock:
            self.latency_s += (time.perf_counter() - started) * len(ks)
