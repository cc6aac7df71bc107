"""The live player's data types: :class:`PlayerReport`, flow-control constants, loop inputs.

What the frame loop is handed: :class:`PlaybackSettings`, :class:`PlaybackControls`,
:class:`FrameSink`. The frame loop (:mod:`~actionrec.notebook.player.playback`) gets these narrow objects instead of
the whole :class:`~actionrec.notebook.player.LivePlayer`: it reads settings, watches two events,
writes a status line and sends JPEGs, and nothing else.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ... import settings
from ...results import Prediction, StageTimings

if TYPE_CHECKING:
    from ...export.recording import Recording
    from ...heads.event_rules import EventRule
    from ...heads.events import ActionEvent
    from ...models.runtime import ActionModels
    from ...pipeline.decoded import Head
    from ...pipeline.options import RecognizerOptions
    from ...pipeline.sampling import SamplingGrid

MAX_UNACKED = 2  # frames in the browser not yet acknowledged
ACK_EVERY = 2  # the page acknowledges every second frame drawn (an ack covers the frames before it)
ACK_TIMEOUT_S = 2.0  # an older un-acked frame is lost (tab closed, page gone): stop waiting for it
STATUS_EVERY_S = 0.25
STOP_REASONS = ("end", "stop", "interrupt", "max_seconds")
_STOP_TEXT = {
    "end": "end of the video",
    "stop": "Stop pressed",
    "interrupt": "interrupted",
    "max_seconds": "max_seconds reached",
}


@dataclass(frozen=True)
class PlayerReport:
    """What one :meth:`LivePlayer.play` did.

    Attributes:
        source: what was played (path, ``"camera 0"``, ``"frames"``...).
        frames_source: source frames read (up to ``max_seconds`` of source time).
        frames_shown: frames sent to the display (and, with a front end, drawn).
        frames_shown_on_time: those shown within one frame interval of their source time.
        frames_out_of_view: source frames neither drawn nor sent because no view of the player was
            on screen (scrolled away, or the browser tab in the background): not shown, so they
            count against :attr:`shown_ratio` (the conventions' figure); the labels of their windows
            are left out of the latency figures and that time out of the refresh rate.
        predictions: the windows shown, in order.
        label_latency_s, label_latency_p95_s: mean and 95th percentile of the time a label appears
            minus the source time of the last frame of its window (mapped to wall time).
        labels_per_s: how often the label refreshed: labels shown per second between the first
            and the last one (the stride sets it: 2/s at ``stride_s=0.5``).
        stopped_by: ``"end"``, ``"stop"``, ``"interrupt"`` or ``"max_seconds"``.
        front_end: a page answered: it acknowledged frames, or said the player was out of its view
            (``False``: headless, paced by source time only).
        stage_ms: mean milliseconds per stage (decode, preprocess, encoder, decoder, draw).
        wall_s: playback wall time, pauses excluded.
        frames_skipped_for_browser: frames skipped because the browser had not acknowledged
            earlier ones in time (the rest of the skipped frames: the kernel fell behind).
        events: the action events of the player's ``events=`` rules, in the order they became
            final (each was passed to ``on_event`` once); ``()`` without rules.
        windows_after_end: windows whose last samples were still being encoded when the source
            ended (a busy CPU): decoded then, reported, and drawn on one repaint of the last frame
            shown, or of the last frame read when the last frames went by out of view (a repaint,
            not counted in ``frames_shown``).
        recording: with ``record=``, what the session left on disk
            (:class:`~actionrec.export.recording.Recording`: its folder, files and frames);
            ``None`` without.
    """

    source: str
    frames_source: int
    frames_shown: int
    frames_shown_on_time: int
    predictions: tuple[Prediction, ...]
    label_latency_s: float | None
    label_latency_p95_s: float | None
    labels_per_s: float
    stopped_by: str
    front_end: bool
    stage_ms: StageTimings
    wall_s: float
    frames_skipped_for_browser: int = 0
    events: tuple[ActionEvent, ...] = ()
    recording: Recording | None = None
    windows_after_end: int = 0
    frames_out_of_view: int = 0

    def __post_init__(self) -> None:
        if self.stopped_by not in STOP_REASONS:
            raise ValueError(f"stopped_by must be one of {STOP_REASONS}, got {self.stopped_by!r}")
        if not 0 <= self.frames_shown_on_time <= self.frames_shown <= self.frames_in_view <= self.frames_source:
            raise ValueError(
                "need 0 <= frames_shown_on_time <= frames_shown <= frames_source - frames_out_of_view, got "
                f"{self.frames_shown_on_time}, {self.frames_shown}, {self.frames_source} - {self.frames_out_of_view}"
            )
        if self.labels_per_s < 0 or self.wall_s < 0:
            raise ValueError(f"labels_per_s and wall_s must be >= 0, got {self.labels_per_s}, {self.wall_s}")

    @property
    def windows_with_missing(self) -> int:
        """Windows shown with at least one grid sample missing (dropped under load, or a gap in the source).

        With none, the windows are those a file analysis of the same frames gives (same samples, same
        probabilities; live smoothing is trailing): how far a run with drops departed from that.
        """
        return sum(p.missing > 0 for p in self.predictions)

    @property
    def sample_slots_missing(self) -> int:
        """Missing samples summed over the windows shown (a sample two windows share counts in each)."""
        return sum(p.missing for p in self.predictions)

    @property
    def frames_in_view(self) -> int:
        """Source frames read while a view of the player was on screen (or no page said otherwise)."""
        return self.frames_source - self.frames_out_of_view

    @property
    def shown_ratio(self) -> float:
        """Source frames shown within one frame interval of their source time / source frames."""
        return self.frames_shown_on_time / self.frames_source if self.frames_source else 0.0

    def summary(self) -> str:
        """One line for people, e.g. ``"demo.mp4: 298/300 frames shown on time (99.3%), ..."``."""
        text = f"{self.figures()}; stopped by {_STOP_TEXT[self.stopped_by]}{self._front_note()}"
        return text + (f"; {self.recording.summary()}" if self.recording is not None else "")

    def status_line(self) -> str:
        """The player's status line after playback: why it stopped, then the figures.

        Returns:
            e.g. ``"stopped (end of the video): demo.mp4: 298/300 frames shown on time (99.3%), ..."``,
            ending with a note when no front end answered.
        """
        text = f"stopped ({_STOP_TEXT[self.stopped_by]}): {self.figures()}{self._front_note()}"
        return text + (f"; {self.recording.summary()}" if self.recording is not None else "")

    def figures(self) -> str:
        """The measurements in one phrase: frames shown on time, labels and their refresh rate, latency.

        Returns:
            e.g. ``"demo.mp4: 298/300 frames shown on time (99.3%), 6 labels (refreshed 2.0/s),
            label latency 0.31 s mean, 0.40 s p95"``, then, when samples were dropped,
            ``", 2 of 6 windows missed samples (5 sample slots)"``.
        """
        latency = (
            f"label latency {self.label_latency_s:.2f} s mean, {self.label_latency_p95_s:.2f} s p95"
            if self.label_latency_s is not None
            else "no label yet"
        )
        drops = (
            f", {self.windows_with_missing} of {len(self.predictions)} windows missed samples "
            f"({self.sample_slots_missing} sample slots)"
            if self.windows_with_missing
            else ""
        )
        away = f" ({self.frames_out_of_view} not drawn: out of view)" if self.frames_out_of_view else ""
        return (
            f"{Path(self.source).name or self.source}: {self.frames_shown_on_time}/{self.frames_source} frames shown "
            f"on time ({self.shown_ratio:.1%}){away}, {len(self.predictions)} labels "
            f"(refreshed {self.labels_per_s:.1f}/s), {latency}{drops}"
        )

    def _front_note(self) -> str:
        return "" if self.front_end else "; no front end: paced by source time"

    def __str__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())


class FrameSink(Protocol):
    """Where the frame loop sends JPEGs, with browser flow control.

    :class:`~actionrec.notebook.player.FrameView` is one; tests pass a list-backed fake.

    Attributes:
        acks: acknowledgements received from a browser so far (it grows only when a front end
            answers; one acknowledgement covers every frame up to the one it names).
        in_view: the page shows a view of the player (``False``: none is on screen; the loop then
            neither draws nor sends frames).
    """

    acks: int
    in_view: bool

    def ready(self) -> bool:
        """True when one more frame may be sent now."""
        ...

    def send_frame(self, jpeg: bytes) -> int:
        """Send one JPEG; returns its sequence number."""
        ...

    def take_not_shown(self) -> list[int]:
        """Sequence numbers received but not drawn since the last call."""
        ...


@dataclass(frozen=True)
class PlaybackSettings:
    """What one playback only reads, fixed when it starts (:class:`LivePlayer` validates them).

    Attributes:
        models: the compiled models the recognizer runs.
        options: window, stride, top-k and smoothing.
        grid: the sampling grid of ``options`` for ``models`` (its ``step_s`` maps a window's end
            back to its last sample, for label latency).
        threshold: top-1 probability below which the overlay says "uncertain".
        max_seconds: stop after this much source time (``None``: play to the end).
        width_px: frames are downscaled to this width before drawing and JPEG encoding.
        jpeg_quality: 1..100.
        clock: seconds (pacing, timings).
        sleep: awaited to wait ``seconds`` of ``clock`` time (``asyncio.sleep``; tests inject one
            that advances a fake clock, so pacing is checked without wall-clock windows).
        events: action event rules (:mod:`actionrec.heads.events`); ``()``: none.
        on_event: called once with each final :class:`~actionrec.heads.ActionEvent`.
        head: the classes shown (label groups, custom actions: :mod:`actionrec.heads`); ``None``:
            the model's own.
        record: the folder each session is recorded in (one subfolder per session,
            :mod:`actionrec.export.recording`); ``None``: not recorded.
        record_queue_mb: megabytes of shown frames that may wait for the recording's encoder.
    """

    models: ActionModels
    options: RecognizerOptions
    grid: SamplingGrid
    threshold: float
    max_seconds: float | None
    width_px: int
    jpeg_quality: int
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    events: tuple[EventRule, ...] = ()
    on_event: Callable[[ActionEvent], object] | None = None
    head: Head | None = None
    record: Path | None = None
    record_queue_mb: float = settings.DEFAULT_RECORD_QUEUE_MB


@dataclass(frozen=True)
class PlaybackControls:
    """What one playback may act on: two events it watches, a status line and a frame sink.

    Attributes:
        stop: set (by Stop, from any thread) to end playback.
        paused: set while playback is held (Pause); cleared to resume.
        show: writes the status line (plain text; the owner escapes it).
        view: where frames go.
    """

    stop: threading.Event
    paused: threading.Event
    show: Callable[[str], None]
    view: FrameSink
