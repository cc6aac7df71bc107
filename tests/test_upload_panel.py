"""UploadPanel: the analysis of an upload runs off the comm handler, shows progress, can be cancelled.

The upload control is a stand-in (the browser side is tested in tests/ui); the analysis is the
real one, on tiny models. Where a test needs the analysis to be "still running", it holds it at
a known point with an event (never a sleep).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest

from actionrec import settings
from actionrec.export.video import AnnotatedVideoWriter
from actionrec.pipeline.files import Recognizer

TIMEOUT_S = 60


def stripes(index: int, t: float, img: np.ndarray) -> None:
    img[:] = (200, 60, 40) if int(t) % 2 == 0 else (40, 60, 200)


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    from actionrec.models import compile_models, resolve_model

    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"))


@pytest.fixture
def video(video_factory) -> Path:
    return video_factory("panel_6s.mp4", fps=25, duration_s=6.0, size_wh=(160, 120), paint=stripes)


@pytest.fixture
def second_video(video_factory) -> Path:
    return video_factory("second_4s.mp4", fps=25, duration_s=4.0, size_wh=(160, 120), paint=stripes)


@pytest.fixture
def panel(models, tmp_path):
    import ipywidgets

    from actionrec.notebook.panels import UploadPanel

    class FakeUpload(ipywidgets.HTML):
        def on_upload(self, callback):
            self.callback = callback

    return UploadPanel(models, threshold=0.3, out_dir=tmp_path / "out", upload=FakeUpload())


class Hold:
    """Holds a worker at a point until released; says when it got there."""

    def __init__(self) -> None:
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self) -> None:
        self.reached.set()
        assert self.release.wait(TIMEOUT_S), "the test never released the worker"


def shown_text(panel) -> str:
    return "\n".join(str(o["data"].get("text/html", "")) for o in panel.output.outputs)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def hold_analysis_at_first_progress(monkeypatch, hold: Hold, *, only: str | None = None) -> None:
    """The analysis reports its first progress (shown), then waits for the test."""
    real = Recognizer.analyze

    def analyze(self, source, **kwargs):
        report = kwargs.get("on_progress")
        if report is not None and (only is None or Path(source).name == only):
            first = [True]

            def held(done, total):
                report(done, total)
                if first[0]:
                    first[0] = False
                    hold()

            kwargs["on_progress"] = held
        return real(self, source, **kwargs)

    monkeypatch.setattr(Recognizer, "analyze", analyze)


def test_the_upload_handler_returns_while_the_analysis_runs(panel, video, monkeypatch, tmp_path):
    hold = Hold()
    real = Recognizer.analyze

    def analyze(self, source, **kwargs):  # an analysis that takes as long as the test wants
        hold()
        return real(self, source, **kwargs)

    monkeypatch.setattr(Recognizer, "analyze", analyze)
    returned = threading.Event()
    handler = threading.Thread(target=lambda: (panel.upload.callback(video), returned.set()), daemon=True)
    try:
        handler.start()  # what the comm message handler does when the upload has arrived
        assert returned.wait(10), "the upload's message handler is still busy with the analysis"
        assert hold.reached.wait(TIMEOUT_S)
        # Progress shows while the analysis runs; the kernel is free meanwhile.
        assert panel.progress_text == "analysing panel_6s.mp4…"
        assert panel._progress.layout.display == "" and panel._bar.value == 0.0
        assert "Analysing panel_6s.mp4" in shown_text(panel)
    finally:
        hold.release.set()
    job = panel._job
    result = job.result(timeout_s=TIMEOUT_S)
    assert result is not None and result["paths"]["mp4"].is_file()
    assert "panel_6s.mp4: " in shown_text(panel)
    # the annotated video under its interactive timeline: a widget in the panel's output
    (view,) = [o for o in panel.output.outputs if "application/vnd.jupyter.widget-view+json" in o["data"]]
    from ipywidgets.widgets.widget import _json_to_widget

    widget = _json_to_widget("IPY_MODEL_" + view["data"]["application/vnd.jupyter.widget-view+json"]["model_id"], None)
    assert type(widget).__name__ == "TimelineWidget"
    assert (widget._video.name, widget._playable.name) == ("panel_6s.mp4", "panel_6s.annotated.mp4")
    assert panel.progress_text == "" and panel._progress.layout.display == "none"  # hidden once done


def test_cancel_stops_the_analysis_and_keeps_nothing(panel, video, monkeypatch, tmp_path):
    hold = Hold()
    hold_analysis_at_first_progress(monkeypatch, hold)
    job = panel.upload.callback(video)
    assert hold.reached.wait(TIMEOUT_S)
    # The progress line counts frames (and the bar moves) while the encoder runs.
    assert re.fullmatch(r"analysing panel_6s\.mp4: frame \d+ of 150", panel.progress_text), panel.progress_text
    assert panel._progress.layout.display == "" and 0.0 < panel._bar.value < 0.6
    panel._cancel.click()  # the Cancel button
    hold.release.set()

    assert job.result(timeout_s=TIMEOUT_S) is None
    assert "panel_6s.mp4: analysis cancelled; nothing was exported." in shown_text(panel)
    assert panel.last_result == {"error": "analysis cancelled", "cancelled": True}
    assert files_under(tmp_path / "out") == []
    assert files_under(settings.data_dir("cache")) == []  # no embedding cache of a cancelled run
    assert panel._progress.layout.display == "none"


def test_cancel_while_the_annotated_video_is_written_leaves_no_file(panel, video, monkeypatch, tmp_path):
    hold = Hold()
    real_write = AnnotatedVideoWriter.write

    def write(self, frame_bgr, timestamp_s):
        real_write(self, frame_bgr, timestamp_s)
        if self.frames_written == 20:
            hold()

    monkeypatch.setattr(AnnotatedVideoWriter, "write", write)
    job = panel.upload.callback(video)
    assert hold.reached.wait(TIMEOUT_S)
    assert re.fullmatch(r"writing the annotated video: frame \d+ of \d+", panel.progress_text), panel.progress_text
    assert panel._bar.value >= 0.6
    panel.cancel()
    hold.release.set()

    assert job.result(timeout_s=TIMEOUT_S) is None
    assert "analysis cancelled; nothing was exported" in shown_text(panel)
    assert files_under(tmp_path / "out") == []  # no half video, and no JSON/CSV/VTT of this run either


def test_a_second_upload_cancels_the_running_analysis(panel, video, second_video, monkeypatch, tmp_path):
    hold = Hold()
    hold_analysis_at_first_progress(monkeypatch, hold, only=video.name)
    first = panel.upload.callback(video)
    assert hold.reached.wait(TIMEOUT_S)
    second = panel.upload.callback(second_video)  # returns at once too
    assert not second.done
    hold.release.set()

    assert first.result(timeout_s=TIMEOUT_S) is None and first.cancelled
    result = second.result(timeout_s=TIMEOUT_S)
    assert result is not None and Path(result["timeline"].source).name == "second_4s.mp4"
    assert panel.last_result is result
    text = shown_text(panel)
    assert "second_4s.mp4: " in text and "panel_6s" not in text  # the first one's notice is not shown
    assert files_under(tmp_path / "out") and all(f.startswith("second_4s.") for f in files_under(tmp_path / "out"))


def test_a_failing_file_is_shown_from_the_worker(panel, tmp_path):
    junk = tmp_path / "notes.mp4"
    junk.write_text("not a video")
    assert panel.upload.callback(junk).result(timeout_s=TIMEOUT_S) is None
    text = shown_text(panel)
    assert "notes.mp4 could not be analysed." in text and "VideoOpenError" in text
    assert panel._progress.layout.display == "none"


def test_a_new_upload_starting_cancels_the_analysis_and_analyses_run_one_at_a_time(
    panel, video, second_video, monkeypatch, tmp_path
):
    import traitlets

    hold = Hold()
    hold_analysis_at_first_progress(monkeypatch, hold, only=video.name)
    running: list[str] = []
    overlap: list[str] = []
    real = Recognizer.analyze

    def analyze(self, source, **kwargs):
        if running:
            overlap.append(f"{Path(source).name} started while {running} ran")
        running.append(Path(source).name)
        try:
            return real(self, source, **kwargs)
        finally:
            running.remove(Path(source).name)

    monkeypatch.setattr(Recognizer, "analyze", analyze)
    panel.upload.add_traits(state=traitlets.Unicode("idle"))
    panel.upload.observe(panel._on_state, names="state")
    first = panel.upload.callback(video)
    assert hold.reached.wait(TIMEOUT_S)
    panel.upload.state = "uploading"  # the user picks another file: the running analysis stops
    assert panel.output.outputs == () and panel._progress.layout.display == "none"
    second = panel.upload.callback(second_video)
    hold.release.set()

    assert first.result(timeout_s=TIMEOUT_S) is None and first.cancelled
    assert second.result(timeout_s=TIMEOUT_S) is not None
    assert overlap == []
    assert "second_4s.mp4: " in shown_text(panel) and "cancelled" not in shown_text(panel)
