"""Action events: spans where a class's score stays high, found by :class:`EventRule` rules.

One engine serves files and live streams: :class:`EventTracker` is fed one
:class:`~actionrec.results.Prediction` at a time; :func:`detect_events` feeds it a whole
:class:`~actionrec.results.Timeline`, so both always agree.

**Scores.** A window's score for a rule is its probability of the rule's class, read from the full
vector :attr:`Prediction.probs <actionrec.results.Prediction.probs>` indexed by the timeline's
labels (the head's classes when a head made it; smoothed when the timeline is). A prediction
without ``probs`` falls back to its top-k scores: a class outside its top-k scores 0 there.

**Time.** As in :meth:`Timeline.segments <actionrec.results.Timeline.segments>`, a window owns the
time from its start to the next window's start (the last window: to its own end). So an event runs
from its first window's start to the start of the window that closed it, or to its last window's
end when the stream ended while it was open. Its peak time is the middle of the peak window's
frames, moved inside the event when it falls after the event's end (the peak window was its last
and the stride is under half a window): always a frame the peak window saw.

**Rules, in this order** (per rule, independently of the others):

1. *Hysteresis*: an event opens at a window whose score is ``>= enter`` and closes at the first
   window whose score is ``< exit``.
2. *Merging*: an event that opens less than ``min_gap_s`` after the previous one of the same rule
   closed continues it; the windows between them belong to the merged event (their scores count
   in its mean).
3. *Minimum duration*: events shorter than ``min_duration_s`` (after merging) are dropped.

**Live.** An event is *final*, and ``on_event`` fires for it exactly once, when it has closed and
``min_gap_s`` of source time has passed without it reopening (at once when ``min_gap_s`` is 0), or
at :meth:`EventTracker.close`. While an event is open and already certain to be kept (its windows
so far span at least ``min_duration_s`` from its start to its latest window's start), it is in
:attr:`EventTracker.open_events`, for a banner.

Example:
    >>> import numpy as np
    >>> from actionrec.results import Prediction, Timeline
    >>> scores = [0.1, 0.9, 0.8, 0.5, 0.2, 0.1]   # "clap" per window; windows 0.5 s apart, 1 s long
    >>> preds = tuple(Prediction.from_probs(np.array([s, 1 - s]), labels=("clap", "other"), top_k=1,
    ...               window_index=i, start_s=i / 2, end_s=i / 2 + 1) for i, s in enumerate(scores))
    >>> tl = Timeline("clip.mp4", ("clap", "other"), preds, window_s=1, stride_s=0.5, step_s=1 / 16,
    ...               clip_len=16, top_k=1)
    >>> [(e.start_s, e.end_s, e.peak_score, e.windows) for e in detect_events(tl, ["clap > 0.6 until < 0.4"])]
    [(0.5, 2.0, 0.9, 3)]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import Prediction, Timeline
from .event_rules import EventRule, check_rule_labels, load_rules

EventCallback = Callable[["ActionEvent"], object]
RulesLike = str | os.PathLike[str] | EventRule | Iterable[str | os.PathLike[str] | EventRule]
"""What :func:`~actionrec.heads.event_rules.load_rules` accepts: rule texts, rules files, rules."""


@dataclass(frozen=True)
class ActionEvent:
    """One event: a span where a rule's class scored high.

    Attributes:
        label: the rule's class.
        start_s: its first window's start (seconds of source time).
        end_s: the start of the window that closed it, or its last window's end (see the module docstring).
        peak_score: the highest score of its windows.
        peak_s: the middle of the peak window's frames, within ``start_s..end_s`` (a thumbnail time).
        mean_score: the mean score of its windows.
        windows: how many windows it holds (with a merge, the windows in between too).
        rule: the rule's text (:attr:`EventRule.text`), e.g. ``"clapping > 0.6 for 1.5s"``.
    """

    label: str
    start_s: float
    end_s: float
    peak_score: float
    peak_s: float
    mean_score: float
    windows: int
    rule: str

    def __post_init__(self) -> None:
        if not self.end_s > self.start_s:
            raise ValueError(f"event end_s ({self.end_s}) must be after start_s ({self.start_s})")
        if not self.start_s <= self.peak_s <= self.end_s:
            raise ValueError(f"event peak_s ({self.peak_s}) must lie in {self.start_s}..{self.end_s}")
        if self.windows < 1:
            raise ValueError("an event holds at least one window")

    @property
    def duration_s(self) -> float:
        """Seconds from the event's start to its end."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON data (the ``"events"`` items of the exports)."""
        return {
            "label": self.label,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": self.duration_s,
            "peak_score": self.peak_score,
            "peak_s": self.peak_s,
            "mean_score": self.mean_score,
            "windows": self.windows,
            "rule": self.rule,
        }


@dataclass
class _Run:
    """An event of one rule in the making: its windows as ``(start_s, end_s, score)``."""

    windows: list[tuple[float, float, float]]
    closed_at_s: float | None = None  # the closing window's start, once closed
    gap: list[tuple[float, float, float]] | None = None  # windows seen since it closed


class EventTracker:
    """Finds events one prediction at a time (rules and timing in the module docstring).

    Args:
        rules: what :func:`~actionrec.heads.event_rules.load_rules` accepts: rule texts, rules
            files, :class:`EventRule` objects.
        labels: the classes of the predictions' ``probs``, in order (``timeline.labels``,
            ``LiveRecognizer.labels``).
        on_event: called once with each final :class:`ActionEvent` (on the caller's thread,
            from :meth:`push` or :meth:`close`).

    Attributes:
        rules: the rules, in the order given.
        events: every final event so far, in the order they became final.

    Raises:
        HeadError: a malformed rule, or one naming a class not in ``labels`` (closest names given).

    Example::

        tracker = EventTracker(["clapping > 0.6 for 1.5s"], labels=live.labels, on_event=print)
        for frame in camera:
            live.push(frame)
            for p in live.poll_all():  # every new window (poll() returns only the newest)
                tracker.push(p)
        tracker.close()
    """

    def __init__(self, rules: RulesLike, *, labels: Sequence[str], on_event: EventCallback | None = None) -> None:
        self.rules: tuple[EventRule, ...] = load_rules(rules)
        self.labels = tuple(labels)
        check_rule_labels(self.rules, self.labels)
        self.on_event = on_event
        self.events: list[ActionEvent] = []
        self._index = {label: i for i, label in enumerate(self.labels)}
        self._runs: list[_Run | None] = [None] * len(self.rules)
        self._last_start_s: float | None = None
        self._closed = False

    def score(self, prediction: Prediction, label: str) -> float:
        """``label``'s score in ``prediction``: from ``probs``, else its top-k score (0 outside the top-k)."""
        if prediction.probs is not None:
            if len(prediction.probs) != len(self.labels):
                raise ValueError(
                    f"prediction has {len(prediction.probs)} probabilities, the tracker {len(self.labels)} labels; "
                    "give the tracker the labels of the timeline or recognizer the predictions come from"
                )
            return float(prediction.probs[self._index[label]])
        return next((s for lbl, s in zip(prediction.labels, prediction.scores, strict=True) if lbl == label), 0.0)

    def push(self, prediction: Prediction) -> tuple[ActionEvent, ...]:
        """Feed the next window (in time order).

        Returns:
            The events that became final with it (``on_event`` was called for each).

        Raises:
            ValueError: the window starts before the previous one, or the tracker is closed.
        """
        if self._closed:
            raise ValueError("this EventTracker is closed; make a new one for another stream")
        if self._last_start_s is not None and prediction.start_s < self._last_start_s:
            raise ValueError(
                f"windows must come in time order: one starting at {prediction.start_s} s after {self._last_start_s} s"
            )
        self._last_start_s = prediction.start_s
        final: list[ActionEvent] = []
        for i, rule in enumerate(self.rules):
            w = (prediction.start_s, prediction.end_s, self.score(prediction, rule.label))
            final += self._step(i, rule, w)
        return self._emit(final)

    def _step(self, i: int, rule: EventRule, w: tuple[float, float, float]) -> list[ActionEvent]:
        """Advance rule ``i`` by one window; returns the events that became final."""
        out: list[ActionEvent] = []
        run = self._runs[i]
        start_s, _end_s, score = w
        if run is not None and run.closed_at_s is not None:  # closed: reopen within the gap, or finish
            assert run.gap is not None
            if start_s - run.closed_at_s >= rule.min_gap_s:
                out += self._finish(i, rule)
                run = None
            elif score >= rule.enter:
                run.windows += [*run.gap, w]
                run.closed_at_s, run.gap = None, None
                return out
            else:
                run.gap.append(w)
                return out
        if run is None:
            if score >= rule.enter:
                self._runs[i] = _Run([w])
            return out
        if score >= rule.exit:  # open: stays open
            run.windows.append(w)
            return out
        run.closed_at_s, run.gap = start_s, [w]
        if rule.min_gap_s <= 0:
            out += self._finish(i, rule)
        return out

    def _finish(self, i: int, rule: EventRule) -> list[ActionEvent]:
        """End rule ``i``'s run: its event when long enough (``[]`` otherwise)."""
        run, self._runs[i] = self._runs[i], None
        if run is None:
            return []
        event = _event(rule, run.windows, end_s=run.closed_at_s)
        return [event] if event.duration_s >= rule.min_duration_s - 1e-9 else []

    def close(self) -> tuple[ActionEvent, ...]:
        """End of the stream: events still open end with their last window; pending ones become final.

        Returns:
            The events that became final now (``on_event`` was called for each). Calling it again
            returns ``()``.
        """
        if self._closed:
            return ()
        self._closed = True
        final: list[ActionEvent] = []
        for i, rule in enumerate(self.rules):
            final += self._finish(i, rule)
        return self._emit(final)

    def _emit(self, final: list[ActionEvent]) -> tuple[ActionEvent, ...]:
        for event in final:
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(event)
        return tuple(final)

    @property
    def open_events(self) -> tuple[ActionEvent, ...]:
        """Events open now and certain to be kept, as they stand (ending with their latest window's end).

        An open event is certain to be kept once its latest window starts at least
        ``min_duration_s`` after it started (whatever comes next only lengthens it). Use it for
        a banner while the event lasts.
        """
        out = []
        for rule, run in zip(self.rules, self._runs, strict=True):
            if run is None or run.closed_at_s is not None:
                continue
            if run.windows[-1][0] - run.windows[0][0] >= rule.min_duration_s - 1e-9:
                out.append(_event(rule, run.windows, end_s=None))
        return tuple(out)


def _event(rule: EventRule, windows: list[tuple[float, float, float]], *, end_s: float | None) -> ActionEvent:
    """The event of ``windows`` (``end_s``: the closing window's start; ``None``: the last window's end)."""
    starts, ends, scores = (np.asarray(col, dtype=np.float64) for col in zip(*windows, strict=True))
    start = float(starts[0])
    end = float(ends[-1]) if end_s is None else float(end_s)
    peak = int(np.argmax(scores))  # the first of equal peaks
    peak_s = min(max((starts[peak] + ends[peak]) / 2, start), end)
    return ActionEvent(
        label=rule.label,
        start_s=start,
        end_s=end,
        peak_score=float(scores[peak]),
        peak_s=float(peak_s),
        mean_score=float(scores.mean()),
        windows=len(windows),
        rule=rule.text,
    )


def detect_events(timeline: Timeline, rules: RulesLike) -> tuple[ActionEvent, ...]:
    """The events of a whole timeline: its windows through an :class:`EventTracker`, then ``close()``.

    Args:
        timeline: an analysed video (its ``labels`` name the classes rules may use).
        rules: rule texts, rules files or :class:`EventRule` objects (see :func:`load_rules`).

    Returns:
        The events, by start time (ties: in rule order).

    Raises:
        HeadError: a malformed rule, or one naming a class not in ``timeline.labels``.
    """
    tracker = EventTracker(rules, labels=timeline.labels)
    for p in timeline.predictions:
        tracker.push(p)
    tracker.close()
    order = {rule.text: i for i, rule in reversed(list(enumerate(tracker.rules)))}
    return tuple(sorted(tracker.events, key=lambda e: (e.start_s, order[e.rule])))
