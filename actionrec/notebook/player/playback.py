"""The frame loop of :class:`~actionrec.notebook.player.LivePlayer`: pacing, flow control, drawing.

A frame's way from source to screen: the source, opened by :func:`~actionrec.video.aopen_video`
(a file, a camera, the browser camera, any iterable or async iterable), yields a
:class:`~actionrec.video.Frame` to ``async for``; it is pushed to a
:class:`~actionrec.pipeline.LiveRecognizer`, whose :class:`~actionrec.results.Prediction` (labels,
model crop, stage timings) is drawn over it; the JPEG goes to the
:class:`~actionrec.notebook.player.report.FrameSink` at the frame's due time.

Pacing: a file's frame ``i`` is due on screen at ``start + (t_i - t_0)`` plus the time spent paused;
a live source's frames are due when the earliest-arriving frame says (its capture-to-arrival delay
is the floor). A frame that cannot be sent within one frame interval of its due time (the loop fell
behind, or the browser has :data:`~actionrec.notebook.player.MAX_UNACKED` frames un-acknowledged)
is skipped and counted as not shown on time; the recognizer still receives it.

Action events: with ``events=`` rules, each new prediction also goes to an
:class:`~actionrec.heads.EventTracker` (``on_event`` fires once per final event, the last ones when
playback ends) and, while an event is open and certain to be kept, a banner is drawn over the frame
(:func:`~actionrec.render.draw_banner`).

Recording (``settings.record``): each frame sent, as drawn, also goes to a ``SessionRecorder``
(encoded on its thread); however the loop ends, the windows shown are written beside the video.

The loop is handed a :class:`~actionrec.notebook.player.report.PlaybackSettings` (what it reads) and
a :class:`~actionrec.notebook.player.report.PlaybackControls` (the Stop and Pause events, the
status line, the frame sink): never the player itself.

End of a file: windows whose samples were still being encoded when the source ended are waited
for, reported and drawn on one repaint of the last frame shown (``windows_after_end``).

Not split: the loop, its pacing, the end-of-file repaint and the counters they update are one
:class:`Playback`'s state; the report, the view, the recording and the drawing live apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...heads.events import ActionEvent, EventTracker
from ...pipeline.live import LiveRecognizer
from ...pipeline.preprocess import crop_rect
from ...results import Prediction, StageTimings
from ...video.open import aopen_video
from .recording import finish_recording, open_recorder
from .report import ACK_TIMEOUT_S, STATUS_EVERY_S, PlaybackControls, PlaybackSettings, PlayerReport

LAST_REPAINT_WAIT_S = 1.0  # how long the repaint with the last labels waits for the front end's ack

if TYPE_CHECKING:
    from ...export.recording import Recording, SessionRecorder
    from ...video.core import Frame

NextFrame = Callable[[], Awaitable["Frame | None"]]


class Playback:
    """One run of :meth:`LivePlayer.play`: the frame loop, its pacing and its counters.

    Args:
        source: anything :func:`~actionrec.video.aopen_video` accepts: what
            :func:`~actionrec.video.open_video` accepts, the browser camera, or an async iterable
            of :class:`~actionrec.video.Frame`.
        settings: what the run reads (models, options, grid, threshold, limits, clock).
        controls: what it acts on (Stop / Pause events, the status line, the frame sink).

    Attributes:
        recording: with ``settings.record``, what the session left on disk, set when it ends
            (also when it ends with an exception); ``None`` before, or without ``record``.

    Example::

        report = await Playback(source, settings=settings, controls=controls).run()
    """

    def __init__(self, source: Any, *, settings: PlaybackSettings, controls: PlaybackControls) -> None:
        self.source, self.settings, self.controls = source, settings, controls
        self.clock, self.sleep = settings.clock, settings.sleep
        self.name, self.is_live, self.step_s = "frames", True, None
        self.t0: float | None = None
        self.base = self.started = self.ended = self.paused_s = self.next_status = 0.0
        self.prev_t: float | None = None
        self.gap_s: float | None = None
        self.frames_source = self.shown = self.on_time = self.skipped_for_browser = 0
        self.out_of_view = 0  # frames neither drawn nor sent: no view of the player on screen
        self.unseen_since_drawn = False  # frames went by out of view since the last one drawn
        self.on_time_seqs: dict[int, bool] = {}
        self.recent = {"decode": deque(maxlen=32), "draw": deque(maxlen=32)}
        self.totals = {"decode": [0.0, 0], "draw": [0.0, 0]}
        self.latest: Prediction | None = None  # the newest prediction: what the overlay shows
        self.tracker: EventTracker | None = None  # the action events of settings.events
        self.predictions: list[Prediction] = []
        self.unshown: list[Prediction] = []
        self.latencies: list[float] = []
        # wall time each label first appeared, one run per stretch on screen (out of view splits them)
        self.label_runs: list[list[float]] = [[]]
        self.shown_at: deque[float] = deque(maxlen=31)
        self.acks_before = controls.view.acks
        self.recorder: SessionRecorder | None = None
        self.recording: Recording | None = None
        self.last_drawn: Frame | None = None  # the newest frame drawn (repainted with the last labels)
        self.last_read: Frame | None = None  # the newest frame read (repainted when it went by unseen)
        self.windows_after_end = 0

    async def run(self) -> PlayerReport:
        """Play the source until its end, Stop, an interrupt or ``max_seconds``.

        Returns:
            What happened, as a :class:`PlayerReport`.

        Raises:
            VideoOpenError, VideoDecodeError: the source cannot be opened or decoded.
        """
        stopped_by = "end"
        async with contextlib.AsyncExitStack() as stack:
            next_frame = await self._open(stack)
            rec = stack.enter_context(
                LiveRecognizer(
                    self.settings.models, options=self.settings.options, clock=self.clock, head=self.settings.head
                )
            )
            if self.settings.events:  # a rule naming another class fails here, before any frame
                self.tracker = EventTracker(self.settings.events, labels=rec.labels, on_event=self.settings.on_event)
            if self.settings.record is not None:  # aborted (temp file removed) if never finished
                self.recorder = stack.enter_context(open_recorder(self.settings, source=self.name, step_s=self.step_s))
            self.controls.show(f"playing {self._short_name()}: collecting frames...")
            try:
                stopped_by = await self._loop(next_frame, rec)
                if stopped_by in ("end", "max_seconds"):
                    await self._last_windows(rec)
            except KeyboardInterrupt:
                stopped_by = "interrupt"
            except asyncio.CancelledError:
                # A kernel interrupt cancels the cell's task: end cleanly and let the cell go on.
                if (task := asyncio.current_task()) is not None:
                    task.uncancel()
                stopped_by = "interrupt"
            except Exception:  # the source or a model failed: keep what was shown, then raise
                self._finish_recording(rec, stopped_by="error")
                raise
            self.ended = self.clock()
            timings = rec.timings()
            if self.tracker is not None:
                self.tracker.close()  # events still open end with the last window (on_event fires)
            self._finish_recording(rec, stopped_by=stopped_by)
        return self._report(stopped_by, timings)

    def _finish_recording(self, rec: LiveRecognizer, *, stopped_by: str) -> None:
        """Close the recording (video, then timeline, events, report) into :attr:`recording`."""
        if self.recorder is not None:
            self.recording = finish_recording(
                self.recorder,
                self.predictions,
                source=self.name,
                labels=rec.labels,
                settings=self.settings,
                frames_decoded=self.frames_source,
                duration_s=(self.prev_t or 0.0) - (self.t0 or 0.0),
                events=tuple(self.tracker.events) if self.tracker is not None else None,
                stopped_by=stopped_by,
            )

    async def _open(self, stack: contextlib.AsyncExitStack) -> NextFrame:
        """Open the source (closed by ``stack``); returns an async ``next_frame() -> Frame | None``.

        Every source takes one path: :func:`~actionrec.video.aopen_video`, then ``async for``.
        """
        video = await aopen_video(self.source, progress=False)
        stack.push_async_callback(video.aclose)
        self.name, self.is_live = video.info.source, video.info.is_live
        self.step_s = 1.0 / video.info.fps if video.info.fps else None

        async def next_frame() -> Frame | None:
            return await anext(video, None)

        return next_frame

    def _short_name(self) -> str:
        return Path(self.name).name or self.name

    # -- pacing ----------------------------------------------------------------------------------

    def _place(self, timestamp_s: float) -> float:
        """Source time since the first frame; anchors the source clock to the wall clock."""
        now = self.clock()
        if self.t0 is None:
            self.t0, self.base, self.started = timestamp_s, now, now
        rel = timestamp_s - self.t0
        if self.is_live:  # frames arrive after capture: anchor on the earliest arrival seen
            self.base = min(self.base, now - rel)
        if self.prev_t is not None and timestamp_s > self.prev_t:
            self.gap_s = timestamp_s - self.prev_t
        self.prev_t = timestamp_s
        return rel

    def _due(self, rel: float) -> float:
        """Wall time at which source time ``rel`` should be on screen (pauses hold a file's clock)."""
        return self.base + rel + (0.0 if self.is_live else self.paused_s)

    def _interval(self) -> float:
        return self.step_s or self.gap_s or 1.0 / 30

    async def _hold_while_paused(self) -> None:
        paused, stop = self.controls.paused, self.controls.stop
        if not paused.is_set():
            return
        from ...render import format_time  # render loads OpenCV: only once playing

        start = self.clock()
        self.controls.show(f"paused at {format_time(self.prev_t or 0.0)}: press Play to continue")
        while paused.is_set() and not stop.is_set():
            await self.sleep(0.05)
        self.paused_s += self.clock() - start

    async def _wait_until(self, rel: float) -> bool:
        """Sleep until ``rel`` is due (honouring Pause); False when Stop was pressed."""
        while not self.controls.stop.is_set():
            if self.controls.paused.is_set():
                await self._hold_while_paused()
                continue
            left = self._due(rel) - self.clock()
            if left <= 0:
                return True
            await self.sleep(min(left, 0.05))
        return False

    # -- the loop --------------------------------------------------------------------------------

    async def _loop(self, next_frame: NextFrame, rec: LiveRecognizer) -> str:
        """Read, recognise, draw and show frames; returns why it stopped (a ``STOP_REASONS`` entry)."""
        # All the work for a frame (decode, preprocess, decoder, drawing, JPEG) happens before
        # its due time, in the slack of the previous frame interval; at the due time it is only
        # sent. So jitter within a frame interval never makes a frame late.
        max_seconds = self.settings.max_seconds
        while True:
            await self._hold_while_paused()
            if self.controls.stop.is_set():
                return "stop"
            t = self.clock()
            frame = await next_frame()
            if frame is None:
                return "end"
            rel = self._place(frame.timestamp_s)
            if max_seconds is not None and rel >= max_seconds:
                return "max_seconds"
            self._add("decode", (self.clock() - t) * 1000)
            self.frames_source += 1
            self.last_read = frame
            rec.push(frame)  # never blocks: the recognizer drops samples while the encoder is busy
            self._take(rec.poll_all())
            if self.frames_source == 1 and not self.is_live:
                self._draw(frame, rec)  # warm-up (fonts, encoder tables): the first draw is slow
                self.base = self.clock()  # the file's clock starts when its first frame is ready
            if self._unseen():
                # Nobody can see it: no drawing, JPEG or message (a recording still draws every
                # frame). The source keeps its pace; labels nobody saw have no latency, and the
                # refresh rate and the fps shown are measured on screen only.
                self.out_of_view += 1
                self.unseen_since_drawn = True
                self.unshown.clear()
                self.shown_at.clear()
                if self.label_runs[-1]:
                    self.label_runs.append([])
                if not await self._wait_until(rel):
                    return "stop"
                await self.sleep(0)
                self._update_status(rel)
                continue
            if self.clock() - self._due(rel) > self._interval():
                await self.sleep(0)  # behind: skip drawing it; let acks and clicks in
                continue
            t = self.clock()
            image, jpeg = self._draw(frame, rec)
            self._add("draw", (self.clock() - t) * 1000)
            self.last_drawn, self.unseen_since_drawn = frame, False
            if not await self._wait_until(rel):
                return "stop"
            await self.sleep(0)  # acks and button clicks get in even when running behind
            if await self._show_frame(jpeg, rel) and self.recorder is not None:
                self.recorder.add(image, frame.timestamp_s)  # never waits: a full queue drops it
            self._update_status(rel)

    def _take(self, new: tuple[Prediction, ...]) -> None:
        """New windows, in order: the overlay's latest, the report's list, the events."""
        for prediction in new:  # every new window: none skipped for the events and the report
            self.latest = prediction
            self.predictions.append(prediction)
            self.unshown.append(prediction)
            if self.tracker is not None:
                self.tracker.push(prediction)

    async def _last_windows(self, rec: LiveRecognizer) -> None:
        """The source ended: decode the windows its last samples complete, and show their labels.

        Their encoder requests were still running when the last frame was shown (on a busy CPU,
        the only windows of a short clip can be among them): wait for them, then draw the last
        frame shown again with the newest labels (a repaint, not a frame of the source: the
        frame counts stay as they were). When the last frames went by out of view, the last frame
        read is drawn instead, so a view scrolled back to shows how the source ended.
        """
        await asyncio.to_thread(rec.close)  # requests in flight end within an encoder latency
        new = rec.poll_all()
        self._take(new)
        self.windows_after_end = len(new)
        view = self.controls.view
        frame = self.last_read if self.unseen_since_drawn else self.last_drawn
        if not (new or self.unseen_since_drawn) or frame is None:
            return
        _, jpeg = self._draw(frame, rec)
        for _ in range(round(LAST_REPAINT_WAIT_S / 0.002)):  # counted, not timed: clocks may be injected
            if view.ready() or self.controls.stop.is_set():
                break
            await self.sleep(0.002)
        if view.ready():
            view.send_frame(jpeg)
            if view.in_view:
                self._labels_shown(self.clock())
            else:  # drawn for a view scrolled back to later: nobody saw these labels arrive
                self.unshown.clear()

    async def _show_frame(self, jpeg: bytes, rel: float) -> bool:
        """Send ``jpeg`` if the sink is ready within one frame interval of its due time, else skip it (False)."""
        view, stop, due, step = self.controls.view, self.controls.stop, self._due(rel), self._interval()
        while not (ready := view.ready()) and self.clock() - due <= step and not stop.is_set():
            await self.sleep(0.002)
        if not ready or self.clock() - due > step:
            self.skipped_for_browser += not ready
            return False  # it would be late: skip it so the display catches up (not shown on time)
        seq = view.send_frame(jpeg)
        sent = self.clock()
        on_time = sent - due <= step
        self.shown += 1
        self.on_time += on_time
        self.on_time_seqs[seq] = on_time
        if len(self.on_time_seqs) > 256:
            del self.on_time_seqs[min(self.on_time_seqs)]
        self._labels_shown(sent)
        self.shown_at.append(sent)
        for s in view.take_not_shown():  # the browser replaced or could not decode these
            if s in self.on_time_seqs:
                self.shown -= 1
                self.on_time -= self.on_time_seqs.pop(s)
        return True

    def _labels_shown(self, sent: float) -> None:
        """The windows not shown yet went out at ``sent``: their label latency (from each window's last sample)."""
        for p in self.unshown:
            self.latencies.append(sent - self._due(p.end_s - self.settings.grid.step_s - (self.t0 or 0.0)))
            self.label_runs[-1].append(sent)
        self.unshown.clear()

    def _draw(self, frame: Frame, rec: LiveRecognizer) -> tuple[np.ndarray, bytes]:
        """The frame, downscaled to ``width_px``, with the latest labels, crop and timings: the image and its JPEG.

        The crop and the recognizer's stage timings come with the latest prediction; before the
        first one, the centred crop for this frame's size and the recognizer's running timings.

        Raises:
            RuntimeError: OpenCV could not encode the JPEG.
        """
        import cv2

        from ...render import annotate

        settings, prediction = self.settings, self.latest
        image = frame.image_bgr
        h, w = image.shape[:2]
        scale = min(1.0, settings.width_px / w)
        if scale < 1.0:  # draw and encode the small image: cheap at any source size
            size_wh = (max(1, round(w * scale)), max(1, round(h * scale)))
            image = cv2.resize(image, size_wh, interpolation=cv2.INTER_AREA)
        crop = prediction.crop_xywh if prediction is not None else None
        crop = crop or crop_rect((w, h), input_hw=settings.models.input_size_hw)
        crop = tuple(max(1, round(v * scale)) if i >= 2 else round(v * scale) for i, v in enumerate(crop))
        measured = prediction.timings if prediction is not None else rec.timings()
        timings = replace(measured, decode_ms=_mean(self.recent["decode"]), draw_ms=_mean(self.recent["draw"]))
        out = annotate(
            image,
            prediction=prediction,
            crop_xywh=crop,
            timestamp_s=frame.timestamp_s,
            top_k=settings.options.top_k,
            threshold=settings.threshold,
            fps=self._fps(),
            timings=timings,
            coverage_s=prediction.coverage_s if prediction is not None else None,
        )
        if self.tracker is not None and (open_events := self.tracker.open_events):
            from ...render import draw_banner

            out = draw_banner(out, [_banner_line(e) for e in open_events])
        ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality])
        if not ok:
            raise RuntimeError(f"OpenCV could not JPEG-encode a {out.shape} frame")
        return out, jpeg.tobytes()

    # -- bookkeeping -----------------------------------------------------------------------------

    def _add(self, stage: str, ms: float) -> None:
        self.recent[stage].append(ms)
        self.totals[stage][0] += ms
        self.totals[stage][1] += 1

    def _fps(self) -> float | None:
        times = self.shown_at
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else None

    def _front_end(self) -> bool:
        # a page acknowledged frames, or said the player is out of its view (it then gets none to acknowledge)
        return self.controls.view.acks > self.acks_before or self.out_of_view > 0

    def _update_status(self, rel: float) -> None:
        now = self.clock()
        if now < self.next_status:
            return
        self.next_status = now + STATUS_EVERY_S
        from ...render import format_time

        p, fps = self.latest, self._fps()
        label = f"top-1 {p.label} ({p.score:.0%})" if p is not None else "collecting frames..."
        headless = not self._front_end() and now - self.started > ACK_TIMEOUT_S
        shown = (
            "out of view: not drawn"
            if self._unseen()
            else f"{fps or 0.0:.1f} fps shown, {self.on_time / max(1, self._frames_in_view()):.0%} on time"
        )
        self.controls.show(
            f"playing {self._short_name()}: {format_time(rel)}, {shown}, {label}"
            + ("; no front end answered: paced by source time" if headless else "")
        )

    def _frames_in_view(self) -> int:
        return self.frames_source - self.out_of_view

    def _unseen(self) -> bool:
        """No view of the player is on screen and nothing records: frames are neither drawn nor sent."""
        return not self.controls.view.in_view and self.recorder is None

    def _labels_per_s(self, wall_s: float) -> float:
        """How often the label refreshes: labels per second between the first and the last one shown.

        The first window takes ``window_s`` to fill, which is latency, not refresh rate. Time out
        of view is left out: each stretch on screen counts from its first label to its last.
        """
        runs = [r for r in self.label_runs if len(r) > 1 and r[-1] > r[0]]
        if runs:
            return sum(len(r) - 1 for r in runs) / sum(r[-1] - r[0] for r in runs)
        shown = sum(len(r) for r in self.label_runs)
        return shown / wall_s if wall_s > 0 else 0.0

    def _report(self, stopped_by: str, measured: StageTimings) -> PlayerReport:
        wall_s = max(0.0, self.ended - self.started - self.paused_s) if self.t0 is not None else 0.0
        latencies = np.asarray(self.latencies, dtype=np.float64)
        windows = [p.timings for p in self.predictions] or [measured]
        stage_ms = StageTimings(
            decode_ms=self.totals["decode"][0] / max(1, self.totals["decode"][1]),
            preprocess_ms=float(np.mean([t.preprocess_ms for t in windows])),
            encoder_ms=float(np.mean([t.encoder_ms for t in windows])),
            decoder_ms=float(np.mean([t.decoder_ms for t in windows])),
            draw_ms=self.totals["draw"][0] / max(1, self.totals["draw"][1]),
        )
        return PlayerReport(
            source=self.name,
            frames_source=self.frames_source,
            frames_shown=max(0, self.shown),
            frames_shown_on_time=max(0, self.on_time),
            frames_out_of_view=self.out_of_view,
            predictions=tuple(self.predictions),
            label_latency_s=float(latencies.mean()) if latencies.size else None,
            label_latency_p95_s=float(np.percentile(latencies, 95)) if latencies.size else None,
            labels_per_s=self._labels_per_s(wall_s),
            stopped_by=stopped_by,
            front_end=self._front_end(),
            stage_ms=stage_ms,
            wall_s=wall_s,
            frames_skipped_for_browser=self.skipped_for_browser,
            events=tuple(self.tracker.events) if self.tracker is not None else (),
            recording=self.recording,
            windows_after_end=self.windows_after_end,
        )


def _banner_line(event: ActionEvent) -> str:
    """The banner's line for an open event, e.g. ``"EVENT clapping  82%  for 2.5 s"``."""
    return f"EVENT {event.label}  {round(event.peak_score * 100)}%  for {event.duration_s:.1f} s"


def _mean(values: deque[float]) -> float:
    # twice a frame: plain floats (numpy would copy the deque into an array each time)
    return sum(values) / len(values) if values else 0.0
