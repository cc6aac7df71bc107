"""The notebook's upload panel: an upload control whose files are analysed in a worker thread.

The analysis and the annotated-video export take seconds to minutes; run in the upload's comm
message handler they would block the kernel for that long (every other cell, the player's buttons,
the Cancel button itself). So :class:`UploadPanel` hands each file to an :class:`AnalysisJob` on a
worker thread: the handler returns at once, a progress bar and a Cancel button show above the
results, and widget updates travel from the thread as ordinary comm messages. Cancelling is
cooperative: the job checks its event between frames (through the analysis's ``on_progress``
and the export's frame loop) and raises :class:`~actionrec.errors.AnalysisCancelledError`.

Example (a cell of ``action_recognition.ipynb``)::

    panel = UploadPanel(models, options=RecognizerOptions(top_k=3), threshold=0.3)
    panel                                        # upload control + progress + results area
"""

from __future__ import annotations

import html
import os
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ActionRecError, AnalysisCancelledError
from ..pipeline.options import RecognizerOptions
from .outputs import output_items

ERROR_STYLE = "color:var(--jp-error-color1,#c62828);white-space:pre-wrap"
ANALYSIS_SHARE = 0.6  # of the progress bar: the analysis; the rest is the annotated video
EXPORT_PROGRESS_EVERY = 8  # frames between progress updates while the annotated video is written


class UploadPanel:
    """An upload control (files of any size, sent in chunks) whose file is analysed and shown.

    The upload control itself says what it is doing and refuses files over its size limit. Once a
    file has arrived, it is analysed in a worker thread, not in the message handler that
    received it, so the kernel stays responsive (other cells, the player's buttons, Cancel): the
    same steps as the walk-through (analysis, annotated video, exports, timeline plot), with a
    progress bar and a Cancel button above the results. Cancel stops at the next few frames and
    keeps nothing of that run (the annotated video is written first, atomically, and the other
    exports only after it). A new upload cancels the analysis still running: only the newest
    file is analysed, and its results replace the old ones. A file that is not a video, or any
    other failure, is shown in red with what to do. Nothing fails silently.

    Args:
        models: compiled models (``hint="THROUGHPUT"``).
        options: window, stride, top-k and smoothing of the analysis; default :class:`RecognizerOptions
            <actionrec.pipeline.RecognizerOptions>`.
        threshold: top-1 probability below which windows are uncertain.
        out_dir: where exports go (default ``data/out/``).
        upload: the upload widget (default a new :class:`~actionrec.notebook.upload.ChunkedUpload`).

    Attributes:
        widget: the ``ipywidgets.VBox`` (the object displays as it).
        last_result: what the last finished job returned (see :meth:`analyse`).
    """

    def __init__(self, models: Any, *, options: RecognizerOptions | None = None, threshold: float = 0.0,
                 out_dir: str | os.PathLike[str] | None = None, upload: Any = None) -> None:  # fmt: skip
        import ipywidgets as widgets

        self.models, self.threshold, self.out_dir = models, threshold, out_dir
        self.options = options if options is not None else RecognizerOptions()
        if upload is None:
            from .upload import ChunkedUpload

            upload = ChunkedUpload()
        self.upload = upload
        self.output = widgets.Output(layout=widgets.Layout(margin="8px 0 0 0"))
        self.last_result: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._job: AnalysisJob | None = None  # the job whose progress and results are shown
        self._last: AnalysisJob | None = None  # the job started last (the next one waits for it)
        self._bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, layout=widgets.Layout(width="240px"))
        self._status = widgets.Label("")
        self._cancel = widgets.Button(description="Cancel", layout=widgets.Layout(width="90px"))
        self._cancel.on_click(lambda _button: self.cancel())
        self._progress = widgets.HBox([self._bar, self._cancel, self._status], layout=widgets.Layout(display="none"))
        upload.on_upload(self.start)
        if "state" in getattr(upload, "trait_names", list)():
            upload.observe(self._on_state, names="state")
        self.widget = widgets.VBox([upload, self._progress, self.output])

    @property
    def progress_text(self) -> str:
        """What the progress line says now (``""`` when no analysis runs)."""
        return str(self._status.value)

    def _on_state(self, change: dict) -> None:
        # A new upload (or a refused one) replaces the previous file's results: the upload control
        # itself says what is happening, and old results below it would look like the new file's.
        if change["new"] == "uploading":
            self._supersede("a new file is being uploaded")
        if change["new"] in ("uploading", "error"):
            self.output.outputs = ()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _show(self, *objects: Any, clear: bool = False) -> None:
        # Set directly (safe from a comm handler or a worker thread): see output_items.
        self.output.outputs = (*(() if clear else self.output.outputs), *output_items(*objects))

    # -- verbs ---------------------------------------------------------------------------------

    def start(self, path: str | os.PathLike[str]) -> AnalysisJob:
        """Analyse ``path`` in a worker thread and show the result; returns at once (the upload's callback).

        An analysis still running is cancelled first (its results would be replaced anyway) and
        the new one starts once it has stopped.

        Returns:
            The :class:`AnalysisJob`; ``job.result()`` waits for what :meth:`analyse` returns.
        """
        with self._lock:
            previous, job = self._last, AnalysisJob(Path(path))
            self._job = self._last = job
        if previous is not None:
            previous.cancel("a newer file replaced it")
        job.thread = threading.Thread(
            target=self._run, args=(job, previous), name="actionrec-upload-analysis", daemon=True
        )
        job.thread.start()
        return job

    def analyse(self, path: str | os.PathLike[str]) -> dict[str, Any] | None:
        """Analyse ``path``, show the result, and wait for it (:meth:`start`, then its result).

        Returns:
            ``{"timeline": Timeline, "paths": {format: path}}``, or ``None`` when it failed or was
            cancelled (the reason is shown in the panel and kept in ``last_result["error"]``).
        """
        return self.start(path).result()

    def cancel(self) -> None:
        """Stop the running analysis (the Cancel button); nothing of its exports is kept."""
        with self._lock:
            job = self._job
        if job is not None:
            job.cancel("cancelled")

    def _supersede(self, reason: str) -> None:
        """Cancel the running analysis quietly: what comes next replaces its output."""
        with self._lock:
            job, self._job = self._job, None
        if job is not None:
            job.cancel(reason)
            self._set_progress(None)

    # -- the worker thread ---------------------------------------------------------------------

    def _current(self, job: AnalysisJob) -> bool:
        with self._lock:
            return self._job is job

    def _set_progress(self, job: AnalysisJob | None, fraction: float = 0.0, text: str = "") -> None:
        if job is None:
            self._progress.layout.display, self._status.value = "none", ""
        elif self._current(job):
            self._bar.value, self._status.value, self._progress.layout.display = fraction, text, ""

    def _run(self, job: AnalysisJob, previous: AnalysisJob | None) -> None:
        try:
            if previous is not None:
                previous.wait()  # one analysis at a time: the CPU is shared
            result = self._analyse(job) if not job.cancelled else None
        except BaseException as exc:  # the thread's last word: never lost, the waiter is released
            result = None
            if self._current(job):
                self._failed(job.path, f"unexpected {type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
        finally:
            if self._current(job):
                self._set_progress(None)
        job.finish(result)

    def _analyse(self, job: AnalysisJob) -> dict[str, Any] | None:
        from IPython.display import HTML

        from ..pipeline.files import Recognizer
        from .display import file_links, plot_timeline
        from .session import describe_timeline
        from .timeline_widget import TimelineWidget

        p = job.path
        size = f"{p.stat().st_size / 1024**2:.1f} MB" if p.is_file() else "missing"
        if self._current(job):
            self._show(HTML(f"<b>Analysing {html.escape(p.name)}</b> ({size})…"), clear=True)
        self._set_progress(job, 0.0, f"analysing {p.name}…")

        def analysing(done: int, total: int | None) -> None:
            job.check()
            fraction = min(done / total, 1.0) * ANALYSIS_SHARE if total else 0.0
            self._set_progress(job, fraction, f"analysing {p.name}: frame {done}" + (f" of {total}" if total else ""))

        try:
            timeline = Recognizer(self.models, options=self.options).analyze(p, progress=False, on_progress=analysing)
            job.check()
            paths = self._export(job, timeline)
            figure = plot_timeline(timeline, threshold=self.threshold)
        except AnalysisCancelledError as exc:
            if self._current(job):
                self._show(HTML(f"<i>{html.escape(p.name)}: {html.escape(str(exc))}; nothing was exported.</i>"),
                           clear=True)  # fmt: skip
                self.last_result = {"error": str(exc), "cancelled": True}
            return None
        except ActionRecError as exc:
            return self._failed(p, f"{type(exc).__name__}: {exc}") if self._current(job) else None
        except Exception as exc:  # shown to the user with its traceback: an upload must never fail silently
            message = f"unexpected {type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"
            return self._failed(p, message) if self._current(job) else None
        result = {"timeline": timeline, "paths": paths}
        if self._current(job):
            text = describe_timeline(timeline, threshold=self.threshold)
            # the upload under its interactive timeline; the annotated MP4 when browsers cannot play the upload
            view = TimelineWidget(timeline, video=p, playable=paths["mp4"], threshold=self.threshold)
            self._show(HTML(f"<pre>{html.escape(text)}</pre>"), figure, file_links(paths), view, clear=True)
            self.last_result = result
        return result

    def _export(self, job: AnalysisJob, timeline: Any) -> dict[str, Path]:
        """The exports, the annotated video first: a cancel during it leaves no file of this run."""
        from .session import VIDEO_FORMATS, export_all

        p = job.path

        def frames() -> Iterator[Any]:
            from ..video.open import open_video

            with open_video(p, progress=False) as video:
                total = video.info.frame_count
                for frame in video:
                    job.check()
                    if frame.index % EXPORT_PROGRESS_EVERY == 0:
                        share = min((frame.index + 1) / total, 1.0) if total else 0.0
                        text = f"writing the annotated video: frame {frame.index + 1}" + (
                            f" of {total}" if total else ""
                        )
                        self._set_progress(job, ANALYSIS_SHARE + (1 - ANALYSIS_SHARE) * share, text)
                    yield frame

        formats = ("mp4", *(f for f in VIDEO_FORMATS if f != "mp4"))
        return export_all(timeline, frames(), out_dir=self.out_dir, formats=formats, threshold=self.threshold,
                          input_hw=self.models.input_size_hw)  # fmt: skip

    def _failed(self, path: Path, message: str) -> None:
        from IPython.display import HTML

        advice = (
            "Upload a video file (MP4, MKV, WebM, MOV, AVI) of at least one second, or convert it: "
            "ffmpeg -i in.ext -c:v libx264 -pix_fmt yuv420p out.mp4"
        )
        self._show(
            HTML(f"<div style='{ERROR_STYLE}'><b>{html.escape(path.name)} could not be analysed.</b>\n"
                 f"{html.escape(message)}\n\n{html.escape(advice)}</div>"),
            clear=True,
        )  # fmt: skip
        self.last_result = {"error": message}
        return None


class AnalysisJob:
    """One file's analysis in an :class:`UploadPanel`: cancel it, wait for it, read its result.

    Args:
        path: the uploaded file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._reason = ""
        self._result: dict[str, Any] | None = None

    @property
    def cancelled(self) -> bool:
        """Whether a cancel was requested."""
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        """Whether the job has ended (finished, failed or cancelled)."""
        return self._done.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the job to stop at its next check (every few frames)."""
        if not self._cancel.is_set():
            self._reason = reason
            self._cancel.set()

    def check(self) -> None:
        """Raise :class:`~actionrec.errors.AnalysisCancelledError` once a cancel was requested."""
        if self._cancel.is_set():
            raise AnalysisCancelledError(f"analysis {self._reason}")

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until the job ended; ``False`` when ``timeout_s`` passed first."""
        return self._done.wait(timeout_s)

    def result(self, timeout_s: float | None = None) -> dict[str, Any] | None:
        """Wait, then what :meth:`UploadPanel.analyse` returns (``None``: failed or cancelled).

        Raises:
            TimeoutError: the job has not ended within ``timeout_s``.
        """
        if not self._done.wait(timeout_s):
            raise TimeoutError(f"the analysis of {self.path.name} has not ended within {timeout_s} s")
        return self._result

    def finish(self, result: dict[str, Any] | None) -> None:
        """Record the outcome and release the waiters (the worker thread's last step)."""
        self._result = result
        self._done.set()

    def __repr__(self) -> str:
        state = "done" if self.done else "cancelling" if self.cancelled else "running"
        return f"AnalysisJob({self.path.name!r}, {state})"
