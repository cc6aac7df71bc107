"""Real OpenVINO requests that complete out of order, when and as the test says.

:func:`gated_models` compiles the tiny encoder with a Python operation in front of it (``Gate``):
OpenVINO runs it inside each request, on its own inference threads. A request carrying a *marked*
sample (a green value from :meth:`CompletionLog.hold_until`, which unmarked samples keep below
:data:`MARK_G`) waits there until the callback of the request the test names has run, so it
completes after that one: out of order, for certain, with nothing faked (the requests, the
``AsyncInferQueue`` and its callback threads are OpenVINO's). The encoder gets two CPU streams, so
the later request runs while the marked one waits.

:class:`CompletionLog` sees every callback through a subclass of ``openvino.AsyncInferQueue``
whose ``set_callback`` wraps the callback the code under test passes (the public path): it
records the order callbacks ran in and releases the held requests. A held request whose release
never comes goes on after :data:`HOLD_LIMIT_S` (a hang guard, not a measurement) and is counted in
:attr:`CompletionLog.timed_out`, so a test sees it instead of passing on an in-order run.

Example:
    >>> log = CompletionLog()                               # doctest: +SKIP
    >>> monkeypatch.setattr(openvino, "AsyncInferQueue", log.queue_class())  # doctest: +SKIP
    >>> gated = gated_models(models, log)                   # doctest: +SKIP
    >>> green = log.hold_until(lambda k: k == 8)            # paint sample 7's frame with it  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from tests.support.tiny_models import build_encoder

MARK_G = 70  # green values from here up mark held samples; paint unmarked ones below it
HOLD_LIMIT_S = 60.0  # generous: a held request is released by another completion within milliseconds


class CompletionLog:
    """The order callbacks ran in; held requests wait here for a named request's callback."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._release: dict[int, Callable[[list[Any]], bool]] = {}  # green mark -> "released yet?"
        self._released = False
        self.completed: list[Any] = []  # userdata, in the order callbacks finished
        self.held = 0
        self.timed_out = 0

    def hold_until(self, released_by: Callable[[Any], bool]) -> int:
        """A new green mark: a request carrying a sample of that green waits for ``released_by(userdata)``.

        ``released_by`` is asked about the userdata of each callback that has run.
        """
        return self._mark(lambda done: any(released_by(u) for u in done))

    def hold_until_released(self) -> int:
        """A new green mark: a request carrying a sample of that green waits for :meth:`release`."""
        return self._mark(lambda done: self._released)

    def release(self) -> None:
        """Let the requests held by :meth:`hold_until_released` marks go on."""
        with self._cond:
            self._released = True
            self._cond.notify_all()

    def _mark(self, rule: Callable[[list[Any]], bool]) -> int:
        mark = MARK_G + len(self._release)
        self._release[mark] = rule
        return mark

    def hold_if_marked(self, batch: np.ndarray) -> None:
        """Called by the gate (an inference thread) with the request's input ``[N, 3, H, W]``."""
        greens = {round(float(g)) for g in batch[:, 1, 0, 0]}
        rules = [self._release[g] for g in sorted(greens) if g in self._release]
        if not rules:
            return
        with self._cond:
            self.held += 1
            self._cond.notify_all()  # wake wait_held()
            if not self._cond.wait_for(lambda: all(rule(self.completed) for rule in rules), timeout=HOLD_LIMIT_S):
                self.timed_out += 1

    def wait_held(self, count: int) -> bool:
        """Wait until ``count`` requests are held at the gate (an inference thread gets there after
        ``start_async`` returned); ``False`` after :data:`HOLD_LIMIT_S` (a hang guard)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.held >= count, timeout=HOLD_LIMIT_S)

    def _completed(self, userdata: Any) -> None:
        with self._cond:
            self.completed.append(userdata)
            self._cond.notify_all()

    def queue_class(self) -> type:
        """An ``AsyncInferQueue`` whose callbacks are logged here (monkeypatch it into ``openvino``)."""
        import openvino as ov

        log = self

        class LoggedQueue(ov.AsyncInferQueue):
            def set_callback(self, callback):
                def logged(request, userdata):
                    try:
                        callback(request, userdata)
                    finally:
                        log._completed(userdata)

                super().set_callback(logged)

        return LoggedQueue


def _gate_class():
    import openvino as ov

    class Gate(ov.Op):
        """Identity on its input; calls ``hook(input)`` first, on the inference thread."""

        def __init__(self, inputs=None, hook=None):
            super().__init__(self, inputs)
            self.hook = hook

        def validate_and_infer_types(self):
            self.set_output_type(0, self.get_input_element_type(0), self.get_input_partial_shape(0))

        def clone_with_new_inputs(self, new_inputs):
            return Gate(new_inputs, self.hook)

        def has_evaluate(self):
            return True

        def evaluate(self, outputs, inputs):
            if self.hook is not None:
                self.hook(inputs[0].data)
            outputs[0].shape = inputs[0].shape
            inputs[0].copy_to(outputs[0])
            return True

        def visit_attributes(self, visitor):
            return True

    return Gate


def gated_models(models: Any, log: CompletionLog) -> Any:
    """``models`` with the tiny encoder behind a gate, two CPU streams, any batch size.

    The encoder computes what the tiny one computes (same precision as ``models``' encoder), so
    its embeddings can be compared with ``models.encoder``'s.
    """
    import openvino as ov

    from actionrec.models.runtime import get_core

    h, w = models.input_size_hw
    encoder = build_encoder(size_hw=(h, w), embedding_dim=models.embedding_dim)
    x = encoder.get_parameters()[0]
    consumers = list(x.output(0).get_target_inputs())
    gate = _gate_class()([x.output(0)], log.hold_if_marked)
    for consumer in consumers:
        consumer.replace_source_output(gate.output(0))
    encoder.reshape({x.output(0): ov.PartialShape([-1, 3, h, w])})
    config = {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": "2"}
    if models.inference_precision in ("f32", "bf16", "f16"):
        config["INFERENCE_PRECISION_HINT"] = models.inference_precision
    compiled = get_core().compile_model(encoder, "CPU", config)
    return dataclasses.replace(models, encoder=compiled)
