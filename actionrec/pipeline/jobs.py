"""Asynchronous inference whose callback errors reach the caller as one Python error.

OpenVINO's ``AsyncInferQueue`` keeps an exception raised inside its callback and re-raises it at
the next ``start_async`` or ``wait_all``; any call after that ends the whole process
(``std::terminate``, exit 134: pybind11's "restore() called a second time"), which no ``except``
can catch. In a notebook that is a dead kernel. So :class:`InferJobs` never lets its callback
raise into OpenVINO: the first error is kept and raised on the caller's thread, once, after every
request in flight has finished. The file encoder (:mod:`~actionrec.pipeline.encoders`), the file
decoder (:func:`~actionrec.pipeline.run_decoder`) and the live encoder
(:class:`~actionrec.pipeline.LiveRecognizer`) all run their requests through it.

:func:`embeddings_of` and :func:`logits_of` turn a request's raw output into what the pipeline
needs, or say in one line which model files do not belong together.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ModelOutputError

Callback = Callable[[Any, Any], None]
"""``callback(request, userdata)``, called from OpenVINO's threads when a request completes."""


class InferJobs:
    """An ``AsyncInferQueue`` whose callback errors are stored and raised once, on the caller's thread.

    Args:
        compiled: the compiled model.
        requests: requests in flight at most.
        callback: ``callback(request, userdata)`` (OpenVINO's threads). Whatever it raises is kept
            (the first error since the last one raised) and never reaches OpenVINO.

    Every method is safe to call again after one of them raised: :meth:`start_async`,
    :meth:`wait_all` and :meth:`check` raise a kept error once, after waiting for the requests in
    flight; :meth:`drain` only waits (for ``finally`` blocks, where a new error would hide the one
    already on its way, e.g. a ``KeyboardInterrupt``). Never drop the queue with requests running
    (OpenVINO aborts or hangs): call :meth:`drain` or :meth:`wait_all` in a ``finally``.

    Example:
        >>> jobs = InferJobs(compiled, 4, store)           # doctest: +SKIP
        >>> try:                                            # doctest: +SKIP
        ...     for k, x in enumerate(inputs):
        ...         jobs.start_async({0: x}, k)
        ...     jobs.wait_all()  # raises what store() raised, if anything
        ... finally:
        ...     jobs.drain()
    """

    def __init__(self, compiled: Any, requests: int, callback: Callback) -> None:
        import openvino as ov

        self._callback = callback
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._queue = ov.AsyncInferQueue(compiled, requests)
        # The queue holds its callback from C++, where the garbage collector cannot see it: a bound
        # method there would keep these jobs (and the owner their callback belongs to, with its
        # buffers) alive for ever. It holds a weak reference instead.
        self._queue.set_callback(_forward_to(weakref.ref(self)))

    def start_async(self, inputs: Any, userdata: Any = None) -> None:
        """Start one request (blocks while every request is running).

        Raises:
            Exception: what a callback raised since the last error raised (after every request
                in flight finished); the request is then not started.
        """
        self.check()
        self._queue.start_async(inputs, userdata)

    def wait_all(self) -> None:
        """Wait for every started request, then raise a callback's error if one is kept.

        Raises:
            Exception: what a callback raised since the last error raised.
        """
        self._queue.wait_all()
        with self._lock:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def check(self) -> None:
        """Raise a kept callback error now (after waiting for the requests in flight); else return at once.

        Raises:
            Exception: what a callback raised since the last error raised.
        """
        with self._lock:
            failed = self._error is not None
        if failed:
            self.wait_all()

    def drain(self) -> None:
        """Wait for every started request; never raises a callback's error (see the class docstring)."""
        self._queue.wait_all()

    def _call(self, request: Any, userdata: Any) -> None:
        """The callback OpenVINO calls: it must never raise (see the module docstring)."""
        try:
            self._callback(request, userdata)
        except BaseException as exc:  # kept and raised on the caller's thread
            with self._lock:
                if self._error is None:
                    self._error = exc


def _forward_to(jobs: weakref.ReferenceType[InferJobs]) -> Callback:
    """The queue's callback: calls ``jobs``' own while it exists (see :class:`InferJobs`)."""

    def call(request: Any, userdata: Any) -> None:
        if (target := jobs()) is not None:
            target._call(request, userdata)

    return call


def embeddings_of(output: np.ndarray, *, samples: int, embedding_dim: int) -> np.ndarray:
    """An encoder request's output as ``[samples, embedding_dim]`` (a view when it can).

    Args:
        output: the request's output tensor data (``[samples, D, 1, 1]`` for the OMZ encoder).
        samples: samples the request carried.
        embedding_dim: values per sample the decoder takes.

    Raises:
        ModelOutputError: the output does not hold one row of ``embedding_dim`` values per sample.
    """
    output = np.asarray(output)
    per_sample = int(np.prod(output.shape[1:])) if output.ndim else 0
    if output.ndim == 0 or output.shape[0] != samples or per_sample != embedding_dim:
        raise ModelOutputError(
            f"encoder output has {per_sample} values per sample (shape {list(output.shape)} for a request "
            f"of {samples} sample(s)); the decoder expects {embedding_dim} (its embedding_dim): the encoder "
            "and decoder IRs do not belong together; use the encoder and decoder of one model, from the "
            "same folder and precision"
        )
    return output.reshape(samples, embedding_dim)


def logits_of(output: np.ndarray, *, num_classes: int) -> np.ndarray:
    """A decoder request's output (one window) as ``[num_classes]`` logits.

    Raises:
        ModelOutputError: the output does not hold one value per label.
    """
    output = np.asarray(output)
    if output.size != num_classes:
        raise ModelOutputError(
            f"decoder output has {output.size} values per window (shape {list(output.shape)}); there are "
            f"{num_classes} labels, one per class its shape declares: the decoder IR does not give one row of "
            "class scores per window; use the decoder of the same model as the encoder, and labels with "
            "one name per class"
        )
    return output.reshape(num_classes)


def pooled_of(output: np.ndarray, *, feature_dim: int) -> np.ndarray:
    """A decoder request's pooled-feature output (one window, ``[1, F]``) as ``[feature_dim]``.

    The average over time is computed in the graph (:func:`actionrec.models.graph.pooled`).

    Raises:
        ModelOutputError: the output is not ``[1, feature_dim]``.
    """
    output = np.asarray(output)
    if output.shape != (1, feature_dim):
        raise ModelOutputError(f"decoder feature output has shape {list(output.shape)}, expected [1, {feature_dim}]")
    return output[0]
