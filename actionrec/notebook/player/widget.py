"""Live player for the notebook: real-time playback with labels, one canvas, no flicker.

:class:`LivePlayer` plays a file at its own pace (by its timestamps), a camera, the browser camera,
or frames from an (async) iterable, all opened one way (:func:`~actionrec.video.aopen_video`). Each frame goes to a
:class:`~actionrec.pipeline.LiveRecognizer` (which drops samples when the encoder is busy: inference
never holds the display) and, annotated with the top-k labels, the model crop and the stage
timings, to a :class:`FrameView` canvas as a binary JPEG. The page acknowledges the frames it
draws (one acknowledgement per :data:`ACK_EVERY`, covering those before it) and at most
:data:`MAX_UNACKED` are in flight; a frame that cannot be shown within one frame interval of
its source time is skipped (the display catches up instead of lagging). While no view of the
player is on screen (scrolled away, the tab in the background: the page says so) frames are
neither drawn nor sent (:attr:`PlayerReport.frames_out_of_view`).

Headless runs (nbclient) have no front end: no acknowledgement ever comes, the player never waits
for one and paces by source time only; :attr:`PlayerReport.front_end` is then ``False``.

Example (an ``async`` cell, so button clicks and acknowledgements arrive while it plays)::

    player = LivePlayer(models)
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
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import settings
from ...export.recording import RecordingError
from ...pipeline.options import RecognizerOptions
from .playback import Playback
from .recording import record_folder
from .report import PlaybackControls, PlaybackSettings, PlayerReport
from .view import FrameView

if TYPE_CHECKING:
    from collections.abc import AsyncIterable

    from ...export.recording import Recording
    from ...heads.events import ActionEvent, RulesLike
    from ...models.runtime import ActionModels
    from ...pipeline.decoded import Head
    from ...pipeline.sampling import SamplingGrid
    from ...video.core import Frame
    from ...video.open import SourceLike


class LivePlayer:
    """Plays a source in real time with live labels in one canvas (see the module docstring).

    Args:
        models: compiled models (``compile_models(files, hint="LIVE")``).
        options: window, stride, top-k and smoothing, as for :class:`~actionrec.pipeline.LiveRecognizer`;
            default :meth:`RecognizerOptions.live() <actionrec.pipeline.RecognizerOptions.live>` (3 labels).
        threshold: top-1 probability below which the overlay says "uncertain".
        max_seconds: stop after this much source time (``None``: play to the end).
        width_px: frames are downscaled to this width before drawing and JPEG encoding.
        jpeg_quality: 1..100.
        clock: seconds (pacing, timings); injected in tests.
        sleep: awaited to wait ``clock`` seconds between frames; injected in tests with ``clock``.
        events: action event rules (rule texts, rules files, :class:`~actionrec.heads.EventRule`;
            docs/events.md): while an event is open (and certain to be kept) a banner is drawn on
            the video; the events are in :attr:`PlayerReport.events`.
        on_event: called with each :class:`~actionrec.heads.ActionEvent` once it is final (closed
            and its merge gap passed, or playback ended); on the playing cell's thread.
        head: the classes the overlay shows: label groups or custom actions (:mod:`actionrec.heads`);
            ``None`` for the model's own. Smoothing averages the head's probabilities.
        record: keep what each session showed, in a folder of its own under this one
            (``DIR/<source>-<YYYYmmdd-HHMMSS>/``: the frames as shown as an H.264 MP4, the windows
            as JSON/CSV/VTT, the events, the report; docs/live-player.md); ``True`` for
            ``data/out/recordings/``; ``None`` (default) records nothing. Change it between
            sessions with :meth:`record_to`.
        record_queue_mb: megabytes of shown frames that may wait for the recording's encoder; a
            frame arriving when they are full is not recorded (the display never waits).

    Attributes:
        widget: what to display: the canvas, Play / Pause / Stop and a status line.
        view: the :class:`FrameView` canvas inside it.
        last_report: the :class:`PlayerReport` of the last playback (``None`` before).
        settings: the validated :class:`PlaybackSettings` every playback reads.
        last_recording: what the last recorded session left on disk
            (:class:`~actionrec.export.recording.Recording`), also when it ended with an error;
            ``None`` before, or without ``record``.

    Raises:
        ValueError: an option out of range (the message says the valid range), or a ``record``
            folder that cannot be created or written.
        TypeError: ``record`` is not a folder, a bool or ``None``.
        HeadError: a malformed event rule (one naming a class the recognizer lacks fails at
            :meth:`play`).
        HeadMismatchError: ``head`` cannot read these models' outputs.
    """

    def __init__(
        self,
        models: ActionModels,
        *,
        options: RecognizerOptions | None = None,
        threshold: float = 0.0,
        max_seconds: float | None = None,
        width_px: int = 640,
        jpeg_quality: int = 80,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        events: RulesLike | None = None,
        on_event: Callable[[ActionEvent], object] | None = None,
        head: Head | None = None,
        record: str | os.PathLike[str] | bool | None = None,
        record_queue_mb: float = settings.DEFAULT_RECORD_QUEUE_MB,
    ) -> None:
        import ipywidgets as widgets

        from ...heads.event_rules import load_rules

        ranges = (
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
        if not record_queue_mb > 0:
            raise ValueError(f"LivePlayer record_queue_mb={record_queue_mb} must be > 0 megabytes")
        if head is not None:
            head.check_models(models)  # before any playback: a mismatch is the caller's mistake
        options = options if options is not None else RecognizerOptions.live()
        self.settings = PlaybackSettings(
            models=models,
            options=options,
            grid=options.grid(clip_len=models.clip_len),
            threshold=threshold,
            max_seconds=max_seconds,
            width_px=width_px,
            jpeg_quality=jpeg_quality,
            clock=clock,
            sleep=sleep,
            events=load_rules(events) if events is not None else (),
            on_event=on_event,
            head=head,
            record=record_folder(record),
            record_queue_mb=record_queue_mb,
        )
        self.last_report: PlayerReport | None = None
        self.last_recording: Recording | None = None
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
        # The Record toggle: on, the next sessions are kept in the record= folder (default data/out/recordings/)
        self._record_home: Path | bool = self.settings.record or True
        self._record_button = widgets.ToggleButton(
            value=self.settings.record is not None,
            description="Record",
            icon="circle",
            tooltip="keep the next sessions: the video as shown, its windows (JSON/CSV/VTT) and a report",
            layout=widgets.Layout(width="90px"),
        )
        self._record_button.observe(self._on_record_toggle, names="value")
        self._status = widgets.HTML("idle: call <code>await player.play(source)</code>")
        self._status.add_class("ar-player-status")
        self.widget = widgets.VBox(
            [self.view, widgets.HBox([*self._buttons.values(), self._record_button]), self._status],
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

    def _replay_done(self, future: Future[PlayerReport]) -> None:
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
        self._record_button.disabled = playing  # a session keeps the folder it started with

    def _on_record_toggle(self, change: dict[str, Any]) -> None:
        folder = self.record_to(self._record_home if change["new"] else None)
        self._show(f"the next sessions are recorded in {folder}" if folder else "the next sessions are not recorded")

    def _show(self, text: str) -> None:
        """Write the status line (``text`` is plain: escaped here)."""
        self._status.value = html.escape(text)

    def record_to(self, record: str | os.PathLike[str] | bool | None) -> Path | None:
        """Record the following sessions into ``record`` (as the ``record=`` argument); ``None``: stop recording.

        A session already playing keeps the folder it started with.

        Returns:
            The folder sessions will be recorded in (``None``: not recorded).

        Raises:
            ValueError, TypeError: as for ``record=`` (the setting is then unchanged).
        """
        folder = record_folder(record)
        self.settings = replace(self.settings, record=folder)
        if folder is not None:
            self._record_home = folder
        if self._record_button.value != (folder is not None):
            self._record_button.value = folder is not None  # its handler sets the same folder again
        return folder

    @property
    def recording_dir(self) -> Path | None:
        """The folder sessions are recorded in (``None``: not recording)."""
        return self.settings.record

    @property
    def grid(self) -> SamplingGrid:
        """The sampling grid (the effective stride is ``grid.stride_s``)."""
        return self.settings.grid

    def _controls(self) -> PlaybackControls:
        """What one playback may act on: the Stop and Pause events, the status line, the canvas."""
        return PlaybackControls(stop=self._stop, paused=self._paused, show=self._show, view=self.view)

    # -- playback ------------------------------------------------------------------------------

    async def play(self, source: SourceLike | AsyncIterable[Frame]) -> PlayerReport:
        """Play ``source`` in real time until its end, Stop, an interrupt or ``max_seconds``.

        Args:
            source: anything :func:`actionrec.video.aopen_video` accepts: a file (paced by its
                timestamps), a camera index, the browser camera, an iterable of frames, or an
                async iterable of :class:`~actionrec.video.Frame` such as ``BrowserCamera.aframes()``.

        Returns:
            The :class:`PlayerReport` (also kept in :attr:`last_report`).

        Raises:
            RuntimeError: this player is already playing.
            VideoOpenError, VideoDecodeError: the source cannot be opened or decoded (with
                ``record``, what was shown until then is recorded first: :attr:`last_recording`).
            HeadError: an event rule names a class the recognizer does not have.
            RecordingError: with ``record``, a file of the recording could not be written (a full
                disk...): the message says which; the files already complete stay, and the
                playback's report is the error's ``report`` (and :attr:`last_report`).
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
        playback = Playback(source, settings=self.settings, controls=self._controls())
        try:
            report = await playback.run()
        except BaseException as exc:
            self.last_recording = playback.recording
            if playback.recording is not None and playback.recording.folder is not None:
                exc.add_note(f"what was shown before the error: {playback.recording.summary()}")
            self._show(f"error: {type(exc).__name__}: {exc}")
            raise
        finally:
            with self._lock:
                self._playing = False
            self._paused.clear()
            self._set_buttons()
        self.last_report, self.last_recording = report, report.recording
        self._show(report.status_line())
        if report.recording is not None and not report.recording.ok:
            raise RecordingError(
                f"the session was played, but its recording is incomplete: {report.recording.summary()}",
                recording=report.recording,
                report=report,
            )
        return report
