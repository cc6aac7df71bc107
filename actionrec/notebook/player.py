"""Live player for the notebook: real-time playback with labels, one canvas, no flicker.

:class:`LivePlayer` plays a file at its own pace (by its timestamps), a camera, or frames from an
(async) iterable such as the browser camera's ``aframes()``. Each frame goes to a
:class:`~actionrec.live.LiveRecognizer` (which drops samples when the encoder is busy: inference
never holds the display) and, annotated with the top-k labels, the model crop and the stage
timings, to a :class:`FrameView` canvas as a binary JPEG. The page acknowledges each frame and at
most :data:`MAX_UNACKED` are in flight; a frame that cannot be shown within one frame interval of
its source time is skipped (the display catches up instead of lagging).

Headless runs (nbclient) have no front end: no acknowledgement ever comes, the player never waits
for one and paces by source time only; :attr:`PlayerReport.front_end` is then ``False``.

Example (an ``async`` cell, so button clicks and acknowledgements arrive while it plays)::

    player = LivePlayer(models, top_k=3)
    display(player.widget)
    report = await player.play("data/samples/demo.mp4")
    print(report)   # frames shown on time, labels per second, label latency
"""

from __future__ import annotations

import asyncio
import html
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..results import Prediction, StageTimings

MAX_UNACKED = 2  # frames in the browser not yet acknowledged
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
        predictions: the windows shown, in order.
        label_latency_s, label_latency_p95_s: mean and 95th percentile of the time a label appears
            minus the source time of the last frame of its window (mapped to wall time).
        labels_per_s: how often the label refreshed: labels shown per second between the first
            and the last one (the stride sets it: 2/s at ``stride_s=0.5``).
        stopped_by: ``"end"``, ``"stop"``, ``"interrupt"`` or ``"max_seconds"``.
        front_end: a browser acknowledged frames (``False``: headless, paced by source time only).
        stage_ms: mean milliseconds per stage (decode, preprocess, encoder, decoder, draw).
        wall_s: playback wall time, pauses excluded.
        frames_skipped_for_browser: frames skipped because the browser had not acknowledged
            earlier ones in time (the rest of the skipped frames: the kernel fell behind).
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

    def __post_init__(self) -> None:
        if self.stopped_by not in STOP_REASONS:
            raise ValueError(f"stopped_by must be one of {STOP_REASONS}, got {self.stopped_by!r}")
        if not 0 <= self.frames_shown_on_time <= self.frames_shown <= self.frames_source:
            raise ValueError(
                "need 0 <= frames_shown_on_time <= frames_shown <= frames_source, got "
                f"{self.frames_shown_on_time}, {self.frames_shown}, {self.frames_source}"
            )
        if self.labels_per_s < 0 or self.wall_s < 0:
            raise ValueError(f"labels_per_s and wall_s must be >= 0, got {self.labels_per_s}, {self.wall_s}")

    @property
    def shown_ratio(self) -> float:
        """Source frames shown within one frame interval of their source time / source frames."""
        return self.frames_shown_on_time / self.frames_source if self.frames_source else 0.0

    def summary(self) -> str:
        """One line for people, e.g. ``"demo.mp4: 298/300 frames shown on time (99.3%), ..."``."""
        return f"{self._figures()}; stopped by {_STOP_TEXT[self.stopped_by]}{self._front_note()}"

    def _figures(self) -> str:
        latency = (
            f"label latency {self.label_latency_s:.2f} s mean, {self.label_latency_p95_s:.2f} s p95"
            if self.label_latency_s is not None
            else "no label yet"
        )
        return (
            f"{Path(self.source).name or self.source}: {self.frames_shown_on_time}/{self.frames_source} frames shown "
            f"on time ({self.shown_ratio:.1%}), {len(self.predictions)} labels (refreshed {self.labels_per_s:.1f}/s), "
            f"{latency}"
        )

    def _front_note(self) -> str:
        return "" if self.front_end else "; no front end: paced by source time"

    def __str__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())


class FrameView(anywidget.AnyWidget):
    """A ``<canvas>`` updated in place from binary JPEG frames, with acknowledgements.

    The kernel side keeps the flow-control state: :meth:`ready` says whether one more frame may be
    sent. Acknowledgements may arrive on a kernel subshell thread: the handler only updates
    counters under a lock.
    """

    _esm = Path(__file__).with_name("player.js")
    _css = ".ar-player-canvas { display: block; width: 100%; height: auto; background: #111; border-radius: 3px; }"
    _player_id = traitlets.Unicode("").tag(sync=True)
    width_px = traitlets.Int(640).tag(sync=True)

    def __init__(self, *, width_px: int = 640, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(_player_id=uuid.uuid4().hex, width_px=width_px)
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = -1
        self._sent_at: dict[int, float] = {}  # un-acked seq -> clock() when sent
        self._not_shown: list[int] = []
        self.front_end = False  # a browser acknowledged at least one frame
        self.acks = 0
        self.browser_error: str | None = None
        self.on_msg(self._on_page_msg)

    def _on_page_msg(self, _widget: Any, content: dict, _buffers: list) -> None:
        if content.get("type") != "ack":
            return
        try:
            seq = int(content["seq"])
        except (KeyError, TypeError, ValueError):
            return  # not from our front end: ignore
        with self._lock:
            self.front_end = True
            self.acks += 1
            for s in [s for s in self._sent_at if s <= seq]:
                del self._sent_at[s]
            if content.get("shown") is False:
                self._not_shown.append(seq)
            if content.get("error"):
                self.browser_error = str(content["error"])

    def ready(self) -> bool:
        """True when one more frame may be sent now.

        Fewer than :data:`MAX_UNACKED` frames in flight; or no front end has ever answered (do not
        wait for acks that never come); or the oldest frame in flight is older than
        :data:`ACK_TIMEOUT_S` (lost: forget it).
        """
        with self._lock:
            if len(self._sent_at) < MAX_UNACKED or not self.front_end:
                return True
            if self._clock() - min(self._sent_at.values()) > ACK_TIMEOUT_S:
                self._sent_at.clear()
                return True
            return False

    def send_frame(self, jpeg: bytes) -> int:
        """Send one JPEG to every view; returns its sequence number."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._sent_at[seq] = self._clock()
            if len(self._sent_at) > 64:  # never acked (no front end): keep the table small
                del self._sent_at[min(self._sent_at)]
        self.send({"type": "frame", "seq": seq}, buffers=[jpeg])
        return seq

    def take_not_shown(self) -> list[int]:
        """Sequence numbers the browser received but did not draw (replaced or undecodable)."""
        with self._lock:
            out, self._not_shown = self._not_shown, []
        return out


class LivePlayer:
    """Plays a source in real time with live labels in one canvas (see the module docstring).

    Args:
        models: compiled models (``compile_models(files, hint="LATENCY")``).
        window_s, stride_s, top_k, smoothing: as for :class:`~actionrec.live.LiveRecognizer`.
        threshold: top-1 probability below which the overlay says "uncertain".
        max_seconds: stop after this much source time (``None``: play to the end).
        width_px: frames are downscaled to this width before drawing and JPEG encoding.
        jpeg_quality: 1..100.
        clock: seconds (pacing, timings); injected in tests.

    Attributes:
        widget: what to display: the canvas, Play / Pause / Stop and a status line.
        view: the :class:`FrameView` canvas inside it.
        last_report: the :class:`PlayerReport` of the last playback (``None`` before).
        grid: the sampling grid (the effective stride is ``grid.stride_s``).

    Raises:
        ValueError: an option out of range (the message says the valid range).
    """

    def __init__(
        self,
        models: Any,
        *,
        window_s: float = 1.0,
        stride_s: float = 0.5,
        top_k: int = 3,
        smoothing: int = 1,
        threshold: float = 0.0,
        max_seconds: float | None = None,
        width_px: int = 640,
        jpeg_quality: int = 80,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        import ipywidgets as widgets

        from ..sampling import SamplingGrid

        ranges = (
            ("top_k", top_k, 1, 1000),
            ("smoothing", smoothing, 1, 1000),
            ("width_px", width_px, 16, 8192),
            ("jpeg_quality", jpeg_quality, 1, 100),
        )
        for name, value, low, high in ranges:
            if not low <= value <= high:
                raise ValueError(f"LivePlayer {name}={value} is out of range; valid: {low}..{high}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"LivePlayer threshold={threshold} is not a probability; valid: 0..1")
        if max_seconds is not None and not max_seconds > 0:
            raise ValueError(f"LivePlayer max_seconds={max_seconds} must be > 0 seconds, or None for no limit")
        self.grid = SamplingGrid.from_seconds(window_s=window_s, clip_len=models.clip_len, stride_s=stride_s)
        self.models, self.window_s, self.stride_s = models, window_s, stride_s
        self.top_k, self.smoothing, self.threshold, self.max_seconds = top_k, smoothing, threshold, max_seconds
        self.width_px, self.jpeg_quality, self.clock = width_px, jpeg_quality, clock
        self.last_report: PlayerReport | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._playing = False
        self._last_source: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

        self.view = FrameView(width_px=width_px, clock=clock)
        self._buttons = {
            name: widgets.Button(description=name, icon=icon, tooltip=tip, layout=widgets.Layout(width="90px"))
            for name, icon, tip in (
                ("Play", "play", "play again, or resume after Pause"),
                ("Pause", "pause", "hold the video (its clock stops too)"),
                ("Stop", "stop", "end playback and release the file or camera"),
            )
        }
        self._buttons["Play"].on_click(lambda _b: self._on_play())
        self._buttons["Pause"].on_click(lambda _b: self.pause())
        self._buttons["Stop"].on_click(lambda _b: self.stop())
        self._status = widgets.HTML("idle: call <code>await player.play(source)</code>")
        self._status.add_class("ar-player-status")
        self.widget = widgets.VBox(
            [self.view, widgets.HBox(list(self._buttons.values())), self._status],
            layout=widgets.Layout(max_width=f"{width_px}px"),
        )
        self._set_buttons()

    # -- controls (may run on a kernel subshell thread: flags only) ------------------------------

    def pause(self) -> None:
        """Hold playback: no frame is read and the source clock stops until :meth:`resume`."""
        if self._playing:
            self._paused.set()
            self._set_buttons()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._paused.clear()
        self._set_buttons()

    def stop(self) -> None:
        """End playback cleanly (the running :meth:`play` returns its report)."""
        self._stop.set()
        self._paused.clear()

    def _on_play(self) -> None:
        if self._playing:
            self.resume()
        elif self._replayable(self._last_source) and self._loop is not None:
            future = asyncio.run_coroutine_threadsafe(self.play(self._last_source), self._loop)
            future.add_done_callback(self._replay_done)

    def _replay_done(self, future: Any) -> None:
        if not future.cancelled() and (exc := future.exception()) is not None:
            self._show(f"error: {type(exc).__name__}: {exc}")

    @staticmethod
    def _replayable(source: Any) -> bool:
        return isinstance(source, (str, os.PathLike, int))

    def _set_buttons(self) -> None:
        playing, paused = self._playing, self._paused.is_set()
        can_replay = self._replayable(self._last_source) and self._loop is not None
        self._buttons["Play"].disabled = (not paused) if playing else not can_replay
        self._buttons["Pause"].disabled = not playing or paused
        self._buttons["Stop"].disabled = not playing

    def _show(self, text: str) -> None:
        self._status.value = html.escape(text)

    # -- playback ------------------------------------------------------------------------------

    async def play(self, source: Any) -> PlayerReport:
        """Play ``source`` in real time until its end, Stop, an interrupt or ``max_seconds``.

        Args:
            source: anything :func:`actionrec.video.open_video` accepts (a file is paced by its
                timestamps; a camera index; an iterable of frames), or an async iterable of
                :class:`~actionrec.video.Frame` such as ``BrowserCamera.aframes()``.

        Returns:
            The :class:`PlayerReport` (also kept in :attr:`last_report`).

        Raises:
            RuntimeError: this player is already playing.
            VideoOpenError, VideoDecodeError: the source cannot be opened or decoded.
        """
        with self._lock:
            if self._playing:
                raise RuntimeError("this player is already playing; press Stop (or call player.stop()) first")
            self._playing = True
        self._stop.clear()
        self._paused.clear()
        self._loop = asyncio.get_running_loop()
        self._last_source = source
        self._set_buttons()
        try:
            from .player_loop import Playback

            report = await Playback(self, source).run()
        except BaseException as exc:
            self._show(f"error: {type(exc).__name__}: {exc}")
            raise
        finally:
            with self._lock:
                self._playing = False
            self._paused.clear()
            self._set_buttons()
        self.last_report = report
        self._show(f"stopped ({_STOP_TEXT[report.stopped_by]}): {report._figures()}{report._front_note()}")
        return report
