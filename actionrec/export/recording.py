"""Recording a live session: the frames as shown (H.264 MP4), its timeline, events and report.

:class:`SessionRecorder` takes the frames a live display shows and encodes them on a worker thread
(the display puts each in a bounded queue and never waits; a frame that finds it full is not
recorded, :attr:`Recording.frames_dropped`). :meth:`SessionRecorder.finish` closes the video and
writes the session's :class:`~actionrec.results.Timeline` beside it, in one folder per session,
``ROOT/<stem>-<YYYYmmdd-HHMMSS>/`` (``-2``... when taken): ``<stem>.annotated.mp4`` (the frames as
shown at their source times; H.264, yuv420p, ``+faststart``), ``<stem>.json`` / ``.csv`` / ``.vtt``
(the JSON's ``"extra"."recording"`` names the video), ``<stem>.events.json`` / ``.csv`` with
rules, and ``<stem>.html`` (:mod:`actionrec.export.report`) when this version has it.

Every file is written atomically (:func:`~actionrec.atomic.atomic_write`; the video goes to a
hidden ``.<name>.<random>.tmp.mp4`` renamed at the end): an interrupt, an error or a full disk
leaves only complete files under final names, and what is final stays. A session that showed no
frame creates nothing, not even its folder. Details: docs/live-player.md.

Example:
    >>> with SessionRecorder("data/out/recordings", source="camera 0") as recorder:  # doctest: +SKIP
    ...     for image_bgr, timestamp_s in shown:
    ...         recorder.add(image_bgr, timestamp_s)
    ...     recording = recorder.finish(timeline, events=events)
    >>> recording.video  # doctest: +SKIP
    PosixPath('data/out/recordings/camera_0-20260101-120000/camera_0.annotated.mp4')
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import settings
from ..errors import ExportError
from ..results import Timeline
from .events import export_events
from .timeline import _stem_of, write_csv, write_json, write_vtt
from .video import AnnotatedVideoWriter

if TYPE_CHECKING:
    from ..heads.events import ActionEvent

_END = object()  # the queue's last item: flush and close the video


class RecordingError(ExportError):
    """A recorded session could not keep every file (the message says which and why).

    Attributes:
        recording: the :class:`Recording`: what was kept, and what was not.
        report: the session's report, when the caller had one (a live player's ``PlayerReport``).
    """

    def __init__(self, message: str, *, recording: Recording, report: object | None = None) -> None:
        super().__init__(message)
        self.recording, self.report = recording, report


@dataclass(frozen=True)
class Recording:
    """What a recorded session left on disk.

    Attributes:
        folder: the session's folder (``None``: no frame was shown, nothing was written).
        files: ``{name: path}`` of every complete file, among ``"mp4"``, ``"json"``, ``"csv"``,
            ``"vtt"``, ``"events.json"``, ``"events.csv"``, ``"html"``.
        frames: frames in the video.
        frames_dropped: frames shown but not recorded (the encoder's queue was full, or the video
            had failed).
        failures: one line per file that could not be written (``"mp4: cannot write ...: the disk
            is full ..."``); ``()`` when everything was kept.
        notes: what was skipped on purpose, e.g. no report writer in this version.
    """

    folder: Path | None
    files: Mapping[str, Path] = field(default_factory=dict)
    frames: int = 0
    frames_dropped: int = 0
    failures: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every file the session should have left is there."""
        return not self.failures

    @property
    def video(self) -> Path | None:
        """The recorded MP4, when it was kept."""
        return self.files.get("mp4")

    @property
    def json(self) -> Path | None:
        """The timeline JSON (:func:`~actionrec.export.read_json` reads it), when it was kept."""
        return self.files.get("json")

    def summary(self) -> str:
        """One line, e.g. ``"recorded 90 frames to data/out/recordings/camera_0-20260101-120000 (mp4, json, ...)"``."""
        if self.folder is None:
            return "; ".join((*self.failures, *self.notes)) or "nothing recorded"
        kept = ", ".join(self.files) or "no file"
        text = f"recorded {self.frames} frames to {self.folder} ({kept})"
        if self.frames_dropped:
            text += f", {self.frames_dropped} shown frames not recorded (the encoder fell behind)"
        return text + "".join(f"; {line}" for line in (*self.failures, *self.notes))

    def __str__(self) -> str:
        return self.summary()


def session_folder(root: Path, source: str, started: dt.datetime) -> Path:
    """A new, empty folder ``root/<stem>-<YYYYmmdd-HHMMSS>`` for one session (``-2``... if taken).

    Raises:
        ExportError: ``root`` cannot be created or written.
    """
    base = f"{_stem_of(source)}-{started:%Y%m%d-%H%M%S}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            folder = root / (base if n == 1 else f"{base}-{n}")
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            return folder
    except OSError as exc:
        raise ExportError(f"cannot create a recording folder in {root}: {exc}; choose another record folder") from exc
    raise ExportError(f"{root} already holds 999 sessions named {base}*: choose another record folder")


class SessionRecorder:
    """Encodes shown frames off the caller's thread; writes the session's files when it ends.

    Args:
        root: the folder sessions are recorded in (created when the first frame arrives).
        source: what is played (names the session folder and its files, as the exports do).
        fps: nominal frame rate of the video (a rate-control hint; frames keep their own times).
        started: when the session started (names its folder); default now.
        queue_mb: frames waiting for the encoder, in megabytes; a frame arriving when it is full
            is not recorded (counted in :attr:`Recording.frames_dropped`): recording never holds
            the display.

    Use it as a context manager: leaving the ``with`` block without :meth:`finish` (an error,
    an interrupt) stops the encoder and removes its temporary file.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        source: str,
        fps: float | None = None,
        started: dt.datetime | None = None,
        queue_mb: float = settings.DEFAULT_RECORD_QUEUE_MB,
    ) -> None:
        if not queue_mb > 0:
            raise ValueError(f"queue_mb must be > 0 megabytes, got {queue_mb!r}")
        self.root, self.source = Path(root), source
        self.stem = _stem_of(source)
        self.fps = fps if fps and fps > 0 else 30.0
        self.started = started or dt.datetime.now()
        self.queue_mb = queue_mb
        self.folder: Path | None = None
        self.frames_dropped = 0
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._writer: AnnotatedVideoWriter | None = None
        self._abort = threading.Event()
        # Set by the worker when it is gone. Not Thread.join()/is_alive(): on Python < 3.13 a join
        # interrupted by Ctrl+C can leave is_alive() False while the thread still runs.
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._finished = False
        self._keep_folder = False  # finish() writes into it: never removed then

    @property
    def video_path(self) -> Path | None:
        """Where the video goes (it appears there only once complete)."""
        return self.folder / f"{self.stem}.annotated.mp4" if self.folder is not None else None

    def add(self, image_bgr: np.ndarray, timestamp_s: float) -> bool:
        """Queue one shown frame (``H x W x 3`` uint8 BGR, left unmodified) at source time ``timestamp_s``; never waits.

        Returns:
            ``True`` when queued; ``False`` when dropped (the queue is full or the video failed).

        The first frame creates the session's folder and starts the encoder; when the folder
        cannot be created, no frame is recorded and :meth:`finish` says why.
        """
        if self._finished:
            raise RuntimeError("this recording is finished; start a new SessionRecorder for a new session")
        if self._queue is None and self._error is None:
            try:
                self._start(image_bgr)
            except ExportError as exc:  # no folder: nothing is recorded, the display goes on
                self._error = exc
        if self._error is not None:
            self.frames_dropped += 1
            return False
        try:
            self._queue.put_nowait((image_bgr, float(timestamp_s)))
        except queue.Full:
            self.frames_dropped += 1
            return False
        return True

    def _start(self, first_bgr: np.ndarray) -> None:
        self.folder = session_folder(self.root, self.source, self.started)
        h, w = first_bgr.shape[:2]
        frames = max(2, int(self.queue_mb * 1e6 // max(1, first_bgr.nbytes)))
        self._queue = queue.Queue(maxsize=frames)
        self._writer = AnnotatedVideoWriter(self.video_path, fps=self.fps, size_wh=(w, h), start_s=0.0)
        # A daemon: a kernel shut down mid-session must not wait for it (the temp file is removed at exit).
        self._thread = threading.Thread(target=self._encode, name="actionrec-recorder", daemon=True)
        self._thread.start()

    def _encode(self) -> None:
        """The worker: encode queued frames until the end marker; any failure is kept for :meth:`finish`."""
        try:
            with self._writer as sink:
                while (item := self._queue.get()) is not _END:
                    if self._abort.is_set():
                        raise _AbortedError
                    sink.write(*item)
                if self._abort.is_set():
                    raise _AbortedError
        except _AbortedError:
            pass
        except BaseException as exc:  # kept and reported by finish(); the display goes on
            self._error = exc
            self._drain()
        finally:
            self._done.set()

    def _drain(self) -> None:
        """Empty the queue (after a failure or an abort) so nothing waits on a full queue."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()

    def _close_video(self) -> str | None:
        """Flush and close the video; returns why it was not kept (``None``: kept)."""
        if self._thread is None:
            return None
        assert self._queue is not None
        try:
            while not self._done.is_set():  # wait for room for the end marker (the session is over)
                try:
                    self._queue.put(_END, timeout=0.1)
                    break
                except queue.Full:
                    continue
            self._done.wait()
        except BaseException:  # an interrupt while finishing: drop the video (only its temp file existed)
            self.abort()
            raise
        if self._error is not None:
            return f"mp4: {type(self._error).__name__}: {self._error}"
        return None

    def abort(self) -> None:
        """Stop encoding, remove the unfinished video (and the session's folder if empty); waits for the worker."""
        self._finished = True
        self._abort.set()
        if self._thread is None:
            return
        self._drain()
        with contextlib.suppress(queue.Full):  # full: the worker sees the abort flag at its next frame
            self._queue.put_nowait(_END)
        while not self._done.is_set():
            try:
                self._done.wait()
            except KeyboardInterrupt:  # a second interrupt: the temp file must still go
                continue
        if self.folder is not None and not self._keep_folder:
            with contextlib.suppress(OSError):  # only when empty: the session left nothing in it
                self.folder.rmdir()

    def finish(
        self,
        timeline: Timeline,
        *,
        events: Sequence[ActionEvent] | None = None,
        threshold: float = 0.0,
        extra: Mapping[str, Any] | None = None,
    ) -> Recording:
        """Close the video, then write the timeline, events and report beside it.

        Each file is written on its own: one that fails (a full disk) is listed in
        :attr:`Recording.failures`, the others are still written, and nothing already final is
        touched. An interrupt (``KeyboardInterrupt``) while the video is being closed drops the
        video (only a temporary file existed) and the text files are still written.

        Args:
            timeline: the windows shown (their times are the video's times).
            events: the session's action events (``None``: it had no rules; no events files).
            threshold: top-1 probability below which windows count as uncertain.
            extra: more JSON data stored under the timeline JSON's ``"extra"``.

        Returns:
            The :class:`Recording`; its ``folder`` is ``None`` when no frame was shown.
        """
        if self._finished:
            raise RuntimeError("finish() was already called on this recording")
        failures: list[str] = []
        if self.folder is None:
            self._finished = True
            if self._error is not None:
                return Recording(None, frames_dropped=self.frames_dropped, failures=(f"folder: {self._error}",))
            return Recording(None, notes=("no frame was shown: nothing was recorded",))
        self._keep_folder = True
        try:
            problem = self._close_video()
        except KeyboardInterrupt:
            problem = "mp4: interrupted while the video was being finished: not kept"
        self._finished = True
        files: dict[str, Path] = {"mp4": self.video_path} if problem is None else {}
        failures += [problem] if problem is not None else []
        frames = self._writer.frames_written if self._writer is not None and "mp4" in files else 0
        info = {
            "video": files["mp4"].name if "mp4" in files else None,
            "frames": frames,
            "frames_dropped": self.frames_dropped,
            "started": self.started.isoformat(timespec="seconds"),
        }
        writers, notes = _writers(
            self.folder,
            self.stem,
            timeline,
            video=files.get("mp4"),
            events=events,
            threshold=threshold,
            extra={**dict(extra or {}), "recording": info},
        )
        for name, write in writers:  # each on its own: one failing does not stop the others
            try:
                files.update(write())
            except ExportError as exc:
                failures.append(f"{name}: {exc}")
        return Recording(
            self.folder,
            files=files,
            frames=frames,
            frames_dropped=self.frames_dropped,
            failures=tuple(failures),
            notes=tuple(notes),
        )

    def __enter__(self) -> SessionRecorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._finished:
            self.abort()


class _AbortedError(Exception):
    """Raised inside the encoder's ``with`` block so the writer removes its temporary file."""


def _writers(
    folder: Path,
    stem: str,
    timeline: Timeline,
    *,
    video: Path | None,
    events: Sequence[ActionEvent] | None,
    threshold: float,
    extra: dict[str, Any],
) -> tuple[list[tuple[str, Callable[[], dict[str, Path]]]], list[str]]:
    """The files after the video, as ``(name, write)`` with ``write() -> {name: path}``; and what is skipped."""

    def json_file() -> dict[str, Path]:
        return {"json": write_json(timeline, folder / f"{stem}.json", threshold=threshold, extra=extra, events=events)}

    def html_file() -> dict[str, Path]:
        html = folder / f"{stem}.html"
        return {"html": report(timeline, html, video=video, events=tuple(events or ()), threshold=threshold)}

    writers = [
        ("json", json_file),
        ("csv", lambda: {"csv": write_csv(timeline, folder / f"{stem}.csv", threshold=threshold)}),
        ("vtt", lambda: {"vtt": write_vtt(timeline, folder / f"{stem}.vtt", threshold=threshold)}),
    ]
    if events is not None:
        writers.append(("events", lambda: export_events(events, folder, stem=stem, thumbnails=False)))
    if (report := _report_writer()) is None:  # the HTML report lands with the timeline view (issue 14)
        return writers, ["report: not written (this version has no actionrec.export.report)"]
    return [*writers, ("html", html_file)], []


def _report_writer() -> Callable[..., Path] | None:
    """``actionrec.export.report.write_report`` when this version has it, else ``None``."""
    try:
        from .report import write_report
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.report":
            raise  # the report module exists but needs something missing: a real error
        return None
    return write_report
