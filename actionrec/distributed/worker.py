"""The Ray actor's body: compile the models once, then analyse one video (or one chunk) per call.

:class:`VideoWorker` is a plain class; :mod:`actionrec.distributed.runner` makes it a Ray actor
(``ray.remote(num_cpus=...)``), so it can be tested and subclassed without Ray. Each call returns the
decoder's outputs (:class:`~actionrec.pipeline.decoded.DecodedWindows`), not a timeline: the driver
applies the head, top-k and smoothing, as the local run does, so the results are the same (and
chunks of one long video are smoothed across their edges: :meth:`VideoWorker.analyze_chunk`).
"""

from __future__ import annotations

import dataclasses
import os
import time

from .core import ModelPayload, VideoFailure, WorkerConfig


class VideoWorker:
    """Compiled models and a :class:`~actionrec.pipeline.Recognizer`, kept for the actor's life.

    Args:
        payload: the model files (from the object store; written once per node).
        config: device, sampling, threads and settings.
        model_root: node-local folder for the model files (default: the system temp folder).

    Raises:
        ModelNotFoundError, DeviceNotAvailableError: the models do not compile here.
    """

    def __init__(self, payload: ModelPayload, config: WorkerConfig, model_root: str | None = None) -> None:
        os.environ.update(config.env)
        import cv2

        from ..models.runtime import compile_models, get_core
        from ..pipeline import Recognizer

        cv2.setNumThreads(config.cpus)
        devices = (config.encoder_device or config.device, config.decoder_device or config.device)
        if "CPU" in (d.upper() for d in devices):  # as many inference threads as the cores Ray gave this worker
            get_core().set_property("CPU", {"INFERENCE_NUM_THREADS": config.cpus})
        t_start = time.perf_counter()
        files = payload.materialize(model_root)
        models = compile_models(
            files,
            device=config.device,
            encoder_device=devices[0],
            decoder_device=devices[1],
            hint="THROUGHPUT",
            labels=payload.labels,
        )
        if payload.encoder_id:  # the same bytes as the driver's files: cache entries keyed as the driver's
            models = dataclasses.replace(models, encoder_id=payload.encoder_id)
        self.recognizer = Recognizer(models, options=config.options)
        self.compile_s = time.perf_counter() - t_start
        self.calls = 0

    def ready(self) -> dict:
        """``{"pid", "compile_s"}``: called once, so a worker that cannot compile fails early."""
        return {"pid": os.getpid(), "compile_s": self.compile_s}

    def analyze(self, item: str, *, cache: bool = True, max_download_mb: float | None = None):
        """The decoder outputs of every window of ``item``, or a :class:`VideoFailure` (never raises)."""
        self.calls += 1
        try:
            return self.recognizer.analyze_windows(item, progress=False, cache=cache, max_download_mb=max_download_mb)
        except Exception as exc:  # one video's failure is a value: the driver prints its FAILED line
            return VideoFailure.of(exc)

    def analyze_chunk(self, item: str, *, chunk, cache: bool = True, max_download_mb: float | None = None):
        """One chunk's windows of ``item`` (:class:`~actionrec.pipeline.ChunkWindows`), or a :class:`VideoFailure`."""
        from ..pipeline import analyze_chunk

        self.calls += 1
        try:
            return analyze_chunk(self.recognizer, item, chunk, cache=cache, max_download_mb=max_download_mb)
        except Exception as exc:  # as analyze(): the driver prints the video's FAILED line
            return VideoFailure.of(exc)
