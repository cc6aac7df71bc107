"""How many encoder requests a live recognizer keeps in flight: as many as the latency budget allows.

A live source brings a grid sample every ``step_s`` (62.5 ms on the default grid). With one request
in flight, a sample that arrives while the encoder is still on the previous one is dropped, even
when the encoder keeps up on average: on a slow 2-core CPU it takes ~55 ms per sample at FP16 while
decoding and drawing share the cores, and every late one costs a sample. More requests let a sample
wait for the one before it instead, but each one queued adds to the label latency: one request's
time on the latency hint's single stream, half of it on the two streams the ``LIVE`` hint gives a
2-core CPU (two requests run at once, each on one thread).

:class:`InFlightLimit` measures the encoder's *service time* (from a request's start, or from the
previous completion when that is later, to its completion: the time the encoder spent on it, not
the time it waited; with two streams, about half a request's time) and allows the largest number
``n`` of requests with ``n * service_s <= budget_s``, at least 1 and at most ``cap``. A fast encoder
gets ``cap`` (nothing waits long); one slower than the budget gets 1 (dropping a sample is better
than a late label).

Example:
    >>> limit = InFlightLimit(budget_s=0.2, cap=4)
    >>> limit.limit                      # nothing measured yet: ``start``
    2
    >>> for i in range(3):               # requests started together, done 55 ms apart
    ...     limit.completed(started_s=0.0, done_s=0.055 * (i + 1))
    >>> round(limit.service_s, 3), limit.limit
    (0.055, 3)
"""

from __future__ import annotations

from collections import deque

DEFAULT_BUDGET_S = 0.2  # of the 0.3 s label latency (conventions): the rest for the decoder and the screen
DEFAULT_CAP = 4
_SAMPLES = 16  # service times averaged


class InFlightLimit:
    """The number of encoder requests allowed in flight, from the measured service time.

    Args:
        budget_s: the longest a sample may wait for its embedding (its own encoding included).
        cap: never more requests than this (the ``AsyncInferQueue`` is made this large).
        start: the limit before the first completion.

    Not thread-safe on its own: the live recognizer calls it under its lock.
    """

    def __init__(self, *, budget_s: float = DEFAULT_BUDGET_S, cap: int = DEFAULT_CAP, start: int = 2) -> None:
        if not budget_s > 0:
            raise ValueError(f"budget_s must be > 0 seconds, got {budget_s}")
        if not 1 <= start <= cap:
            raise ValueError(f"need 1 <= start <= cap requests, got start={start}, cap={cap}")
        self.budget_s = budget_s
        self.cap = cap
        self.start = start
        self._service_s: deque[float] = deque(maxlen=_SAMPLES)
        self._last_done_s: float | None = None

    def completed(self, *, started_s: float, done_s: float) -> None:
        """A request started at ``started_s`` completed at ``done_s`` (one clock for both)."""
        begin = started_s if self._last_done_s is None else max(started_s, self._last_done_s)
        self._service_s.append(max(0.0, done_s - begin))
        self._last_done_s = done_s if self._last_done_s is None else max(self._last_done_s, done_s)

    @property
    def service_s(self) -> float | None:
        """Mean service time of the last 16 requests (``None`` before the first completion)."""
        return sum(self._service_s) / len(self._service_s) if self._service_s else None

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        service = self.service_s
        if service is None:
            return self.start
        if service <= 0:
            return self.cap
        return max(1, min(self.cap, int(self.budget_s / service + 1e-9)))
