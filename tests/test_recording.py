"""LivePlayer(record=DIR): what a session showed is kept (MP4 + JSON/CSV/VTT + events), atomically.

Headless, on injected time (FakeTime), with the tiny models: the recording's JSON windows are the
player's own predictions, the MP4 holds the frames as they were drawn, and an interrupt, an error
or a full disk at any point leaves only complete files under their final names.
"""

from __future__ import annotations

import asyncio
import csv
import errno
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from actionrec.errors import ExportError, VideoDecodeError
from actionrec.export import read_json
from actionrec.export.recording import RecordingError, SessionRecorder
from actionrec.models import compile_models, resolve_model
from actionrec.notebook.player import LivePlayer
from actionrec.pipeline import RecognizerOptions
from actionrec.render import TOP_BAR_BGR
from actionrec.video import Frame, open_video
from tests.support.fake_time import FakeTime
from tests.support.interrupts import python_ctrl_c_here
from tests.support.videos import solid

pytestmark = pytest.mark.timeout(60)
RED_BGR = (30, 30, 220)
SESSION_RE = re.compile(r"^red_30fps-\d{8}-\d{6}(-\d+)?$")


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="LATENCY")


def recording_player(
    models, record, *, interrupt_after_s: float | None = None, **kwargs
) -> tuple[LivePlayer, FakeTime]:
    """A player on injected time (labels need the encoder's real time between frames: ratio 1.0).

    ``interrupt_after_s``: its sleep raises KeyboardInterrupt once that much clock time has passed.
    """
    fake = FakeTime(real_sleep_ratio=1.0)

    async def sleep(seconds: float) -> None:
        if interrupt_after_s is not None and fake.elapsed_s > interrupt_after_s:
            raise KeyboardInterrupt
        await fake.sleep(seconds)

    options = kwargs.pop("options", RecognizerOptions.live(top_k=3))
    return LivePlayer(models, clock=fake, sleep=sleep, record=record, options=options, **kwargs), fake


def decoded(path: Path) -> list[tuple[float, np.ndarray]]:
    """Every frame of ``path`` as (presentation time in seconds, BGR image), decoded with PyAV."""
    with av.open(str(path)) as container:
        return [(float(f.time), f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*"))


def assert_only_complete_files(folder: Path, recording) -> None:
    """No temporary file anywhere, and every file the recording lists reads back whole."""
    leftovers = [n for n in names_in(folder) if n.startswith(".") or ".tmp" in n]
    assert leftovers == [], f"temporary files left behind: {leftovers}"
    for name, path in recording.files.items():
        assert path.parent == recording.folder
        if name == "mp4":
            assert len(decoded(path)) == recording.frames > 0
        elif name == "json":
            read_json(path)
        elif name.endswith("csv"):
            assert next(csv.reader(path.open(encoding="utf-8")))
        elif name == "vtt":
            assert path.read_text(encoding="utf-8").startswith("WEBVTT")


def windows_of(doc: dict) -> list[tuple]:
    return [
        (
            w["index"],
            w["start_s"],
            w["end_s"],
            tuple(c["label"] for c in w["top_k"]),
            tuple(c["score"] for c in w["top_k"]),
        )
        for w in doc["windows"]
    ]


def predictions_of(report) -> list[tuple]:
    return [(p.window_index, p.start_s, p.end_s, p.labels, p.scores) for p in report.predictions]


def test_a_recorded_session_keeps_the_frames_and_windows_shown(models, red_clip, tmp_path):
    root = tmp_path / "recordings"
    player, _ = recording_player(models, root)
    report = asyncio.run(player.play(red_clip))
    print(report)
    rec = report.recording
    assert rec is not None and rec.ok, rec
    assert player.last_recording == rec
    assert rec.folder.parent == root and SESSION_RE.match(rec.folder.name), rec.folder
    assert {"mp4", "json", "csv", "vtt"} <= set(rec.files)
    assert rec.video.name == "red_30fps.annotated.mp4" and rec.json.name == "red_30fps.json"
    assert_only_complete_files(root, rec)

    # The windows are exactly those the player showed (labels, scores, times).
    doc = read_json(rec.json)
    assert len(report.predictions) > 0
    assert windows_of(doc) == predictions_of(report)
    assert doc["extra"]["recording"]["video"] == rec.video.name
    assert doc["extra"]["stopped_by"] == "end"
    assert doc["source"].endswith("red_30fps.mp4") and doc["frames_decoded"] == report.frames_source

    # The frames as shown: one per frame sent, drawn size, at its source time, with the overlay.
    frames = decoded(rec.video)
    assert len(frames) == rec.frames == report.frames_shown == 48
    assert rec.frames_dropped == 0
    assert {img.shape for _, img in frames} == {(240, 320, 3)}
    assert [t for t, _ in frames] == pytest.approx([i / 30 for i in range(48)], abs=1e-3)
    last = frames[-1][1].astype(int)
    bar = (np.abs(last - TOP_BAR_BGR).max(axis=2) <= 40).sum()
    assert bar > 50, "the recorded frame has no top-1 bar: it is not the frame as shown"

    # the report plays the recorded video (beside it, by a relative path) and was drawn from the same windows
    import re

    html = rec.files["html"].read_text(encoding="utf-8")
    assert f'<source src="{rec.video.name}" type="video/mp4">' in html
    data = re.search(r'<script type="application/json" id="ar-view-data">(.*?)</script>', html, re.S)
    assert data, "no view data in the report"
    drawn, saved = json.loads(data.group(1))["lanes"][0]["timeline"], json.loads(rec.files["json"].read_text())
    assert drawn.pop("extra") == {} and saved.pop("extra")["stopped_by"] == "end"  # where it stopped: the JSON's
    assert drawn == saved
    # reviewed later like a file: the JSON gives back the windows shown (for the timeline widget)
    from actionrec.export import read_timeline

    assert predictions_of(read_timeline(rec.files["json"])) == predictions_of(report)
    assert str(rec.folder) in player._status.value  # the status line says where it went


def test_frames_drawn_smaller_are_recorded_at_the_drawn_size(models, video_factory, tmp_path):
    clip = video_factory("wide_red.mp4", fps=30, duration_s=0.5, size_wh=(642, 362), paint=solid(RED_BGR))
    player, _ = recording_player(models, tmp_path, width_px=321)
    report = asyncio.run(player.play(clip))
    frames = decoded(report.recording.video)
    assert len(frames) == report.frames_shown
    assert {img.shape for _, img in frames} == {(180, 320, 3)}  # drawn 321 x 181: even sizes for yuv420p


async def _frames_then(exc: BaseException, *, count: int, size_wh=(160, 120)):
    """``count`` red frames at 30 fps, then ``exc`` raised by the source."""
    for i in range(count):
        yield Frame(np.full((size_wh[1], size_wh[0], 3), RED_BGR, np.uint8), i, i / 30)
    raise exc


@pytest.mark.parametrize("where", ["source-KeyboardInterrupt", "source-CancelledError", "sleep-KeyboardInterrupt"])
def test_an_interrupted_session_leaves_only_complete_files(models, red_clip, tmp_path, where):
    player, _ = recording_player(models, tmp_path, interrupt_after_s=0.9 if where.startswith("sleep") else None)
    if where.startswith("sleep"):
        source = red_clip
    else:
        exc = KeyboardInterrupt() if where.endswith("KeyboardInterrupt") else asyncio.CancelledError()
        source = _frames_then(exc, count=40)
    report = asyncio.run(player.play(source))
    assert report.stopped_by == "interrupt"
    rec = report.recording
    assert rec.ok and {"mp4", "json", "csv", "vtt"} <= set(rec.files), rec
    assert 0 < rec.frames == report.frames_shown < 48
    assert_only_complete_files(tmp_path, rec)
    assert windows_of(read_json(rec.json)) == predictions_of(report)
    assert read_json(rec.json)["extra"]["stopped_by"] == "interrupt"


def test_an_error_from_the_source_keeps_what_was_shown_and_raises(models, tmp_path):
    player, _ = recording_player(models, tmp_path)
    # 3 s of frames: windows complete before the error even when a loaded machine slows the encoder
    # (with 1.3 s, the only window's requests were still in flight at the error in 1 of ~20 runs)
    with pytest.raises(VideoDecodeError, match="camera unplugged") as info:
        asyncio.run(player.play(_frames_then(VideoDecodeError("camera unplugged"), count=90)))
    rec = player.last_recording
    assert rec is not None and rec.ok and rec.frames == 90, rec
    assert any("what was shown before the error: recorded 90 frames" in note for note in info.value.__notes__)
    assert_only_complete_files(tmp_path, rec)
    assert read_json(rec.json)["extra"]["stopped_by"] == "error"
    assert len(read_json(rec.json)["windows"]) > 0


def test_a_session_that_showed_no_frame_writes_nothing(models, tmp_path):
    root = tmp_path / "recordings"
    player, _ = recording_player(models, root)

    async def stopped_at_once():
        player.stop()  # Stop pressed as the camera starts: its first frame is never shown
        yield Frame(np.full((120, 160, 3), RED_BGR, np.uint8), 0, 0.0)

    report = asyncio.run(player.play(stopped_at_once()))
    assert report.stopped_by == "stop" and report.frames_shown == 0
    assert report.recording.folder is None and report.recording.files == {}
    assert "no frame was shown: nothing was recorded" in report.status_line()
    assert not root.exists()


def test_each_session_gets_its_own_folder_and_others_files_stay(models, red_clip, tmp_path):
    mine = tmp_path / "notes.txt"
    mine.write_text("keep me")
    player, _ = recording_player(models, tmp_path, max_seconds=0.5)
    first = asyncio.run(player.play(red_clip)).recording
    second = asyncio.run(player.play(red_clip)).recording
    assert first.folder != second.folder and first.folder.parent == second.folder.parent == tmp_path
    for rec in (first, second):
        assert rec.ok and SESSION_RE.match(rec.folder.name)
        assert_only_complete_files(tmp_path, rec)
    assert mine.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["notes.txt", first.folder.name, second.folder.name])


def test_events_are_recorded_when_rules_were_given(models, red_clip, tmp_path):
    player, _ = recording_player(models, tmp_path, events=["red > 0.6 for 0.5s"])
    report = asyncio.run(player.play(red_clip))
    rec = report.recording
    assert len(report.events) == 1
    assert {"events.json", "events.csv"} <= set(rec.files)
    assert read_json(rec.json)["events"] == [e.to_dict() for e in report.events]
    rows = list(csv.DictReader(rec.files["events.csv"].open(encoding="utf-8")))
    assert [r["label"] for r in rows] == ["red"]


def _fail_renames_to(suffix: str, monkeypatch) -> None:
    """Simulate a full disk for files ending with ``suffix``: their atomic rename fails with ENOSPC."""
    import actionrec.atomic

    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith(suffix):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(actionrec.atomic.os, "replace", replace)


def test_a_full_disk_while_finishing_loses_nothing_already_final(models, red_clip, tmp_path, monkeypatch):
    _fail_renames_to(".csv", monkeypatch)
    player, _ = recording_player(models, tmp_path)
    with pytest.raises(
        RecordingError, match=r"recording is incomplete: .*csv: cannot write .*the disk is full"
    ) as info:
        asyncio.run(player.play(red_clip))
    report = info.value.report
    assert player.last_report is report and report.frames_shown == 48
    rec = report.recording
    assert "csv" not in rec.files and {"mp4", "json", "vtt"} <= set(rec.files)
    assert not (rec.folder / "red_30fps.csv").exists()
    assert_only_complete_files(tmp_path, rec)
    assert windows_of(read_json(rec.json)) == predictions_of(report)


def test_a_full_disk_while_encoding_keeps_the_display_and_the_windows(models, red_clip, tmp_path, monkeypatch):
    from actionrec.export.video import AnnotatedVideoWriter

    real_write = AnnotatedVideoWriter.write

    def write(self, frame_bgr, timestamp_s):
        if self.frames_written == 10:
            raise ExportError("cannot write the video: the disk is full")
        real_write(self, frame_bgr, timestamp_s)

    monkeypatch.setattr(AnnotatedVideoWriter, "write", write)
    player, _ = recording_player(models, tmp_path)
    with pytest.raises(RecordingError, match="mp4: ExportError: cannot write the video: the disk is full") as info:
        asyncio.run(player.play(red_clip))
    report = info.value.report
    assert report.frames_shown == 48 and report.shown_ratio == 1.0  # the display went on
    rec = report.recording
    assert "mp4" not in rec.files and {"json", "csv", "vtt"} <= set(rec.files)
    assert_only_complete_files(tmp_path, rec)
    assert not list(rec.folder.glob("*.mp4"))


def test_a_slow_encoder_never_holds_the_display(models, red_clip, tmp_path, monkeypatch):
    """The encoder is stuck for 1 s of the clip: frames that find its queue full are dropped, not waited for."""
    from actionrec.export.video import AnnotatedVideoWriter

    release = threading.Event()
    real_write = AnnotatedVideoWriter.write

    def write(self, frame_bgr, timestamp_s):
        release.wait(timeout=30)
        real_write(self, frame_bgr, timestamp_s)

    monkeypatch.setattr(AnnotatedVideoWriter, "write", write)
    player, fake = recording_player(models, tmp_path, record_queue_mb=0.5)  # 0.5 MB: 2 frames of 320x240
    fake.at(1.0, release.set)
    report = asyncio.run(player.play(red_clip))
    rec = report.recording
    print(rec)
    assert report.frames_shown == 48 and report.shown_ratio == 1.0
    assert rec.frames_dropped >= 25  # ~30 frames shown while the encoder was stuck, 3 of them taken
    assert rec.frames + rec.frames_dropped == report.frames_shown
    assert len(decoded(rec.video)) == rec.frames
    assert "shown frames not recorded (the encoder fell behind)" in rec.summary()


def test_an_interrupt_while_the_video_is_finishing_drops_only_the_video(tmp_path, monkeypatch, request):
    """Ctrl+C while the encoder flushes: no half-written MP4 under any name; the text files are written."""
    from actionrec.export.video import AnnotatedVideoWriter

    python_ctrl_c_here(request)
    from actionrec.results import Prediction, Timeline

    started, release = threading.Event(), threading.Event()
    real_write = AnnotatedVideoWriter.write

    def write(self, frame_bgr, timestamp_s):
        if self.frames_written == 5:
            started.set()
            release.wait(timeout=30)
        real_write(self, frame_bgr, timestamp_s)

    monkeypatch.setattr(AnnotatedVideoWriter, "write", write)

    def interrupt_main() -> None:
        """Ctrl+C once the main thread waits in finish() for the (stuck) encoder; never before."""
        main = threading.main_thread().ident
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            frame = sys._current_frames().get(main)
            names = set()
            while frame is not None:
                names.add(frame.f_code.co_name)
                frame = frame.f_back
            if started.is_set() and "_close_video" in names:
                signal.pthread_kill(main, signal.SIGINT)
                break
            time.sleep(0.01)
        threading.Timer(0.3, release.set).start()

    p = Prediction(0, 0.0, 1.0, ("red", "blue"), (0.9, 0.1), (2, 0))
    timeline = Timeline(
        "camera 0", ("blue", "green", "red"), (p,), window_s=1, stride_s=0.5, step_s=1 / 16, clip_len=16, top_k=2
    )
    image = np.full((120, 160, 3), RED_BGR, np.uint8)
    with SessionRecorder(tmp_path, source="camera 0") as recorder:
        for i in range(10):
            assert recorder.add(image, i / 30)
        threading.Thread(target=interrupt_main, daemon=True).start()
        rec = recorder.finish(timeline)
    assert rec.failures == ("mp4: interrupted while the video was being finished: not kept",)
    assert set(rec.files) == {"json", "csv", "vtt", "html"}  # the report too, without a video
    assert "<source src=" not in rec.files["html"].read_text(encoding="utf-8")
    assert_only_complete_files(tmp_path, rec)
    assert not list(tmp_path.rglob("*.mp4"))


def test_a_recording_that_leaves_the_with_block_early_leaves_nothing(tmp_path):
    image = np.full((120, 160, 3), RED_BGR, np.uint8)
    with pytest.raises(KeyError), SessionRecorder(tmp_path, source="frames") as recorder:
        for i in range(5):
            recorder.add(image, i / 30)
        raise KeyError("the caller failed before finish()")
    assert recorder.folder is not None  # it had started a video
    assert list(tmp_path.iterdir()) == []  # no temp file, and not the empty session folder either


def test_the_recorded_video_plays_back_as_a_file_with_the_json(models, red_clip, tmp_path):
    """A recorded session is reviewed like a file: its MP4 opens with open_video, at the JSON's times."""
    report = asyncio.run(recording_player(models, tmp_path)[0].play(red_clip))
    doc = read_json(report.recording.json)
    with open_video(report.recording.video, progress=False) as video:
        stamps = [f.timestamp_s for f in video]
    assert len(stamps) == report.frames_shown
    assert stamps[0] <= doc["windows"][0]["start_s"] + 1e-3
    assert stamps[-1] >= doc["windows"][-1]["end_s"] - 2 / 30


@pytest.mark.parametrize(
    ("record", "error", "match"),
    [
        (123, TypeError, r"record= takes a folder \(str or Path\), True for data/out/recordings, or None; got int 123"),
        ("", ValueError, r"record='' is empty"),
        ("FILE", ValueError, r"is a file, not a folder; choose a folder"),
        ("FILE/sub", ValueError, r"is a file, so .* cannot be created; choose another folder"),
    ],
)
def test_the_record_argument_is_checked_before_playing(models, tmp_path, record, error, match):
    (tmp_path / "FILE").write_text("x")
    if isinstance(record, str) and record.startswith("FILE"):
        record = str(tmp_path / record)
    with pytest.raises(error, match=match):
        LivePlayer(models, record=record)


def test_record_true_uses_data_out_recordings_and_record_to_changes_it(models, tmp_path, monkeypatch):
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "data"))
    player = LivePlayer(models, record=True)
    assert player.recording_dir == tmp_path / "data" / "out" / "recordings"
    assert not player.recording_dir.exists()  # nothing is written before a frame is shown
    assert player.record_to(tmp_path / "elsewhere") == tmp_path / "elsewhere"
    assert player.recording_dir == tmp_path / "elsewhere"
    assert player.record_to(None) is None and player.recording_dir is None
    with pytest.raises(TypeError, match=r"got float 1\.5"):
        player.record_to(1.5)
    assert player.recording_dir is None  # unchanged by the refused value


def test_sessions_started_in_the_same_second_never_share_a_folder(tmp_path):
    """Another session's folder of the same name (same source, same second) is left alone: ``-2``, ``-3``."""
    import datetime as dt

    from actionrec.results import Prediction, Timeline

    started = dt.datetime(2026, 1, 2, 3, 4, 5)
    theirs = tmp_path / "camera_0-20260102-030405"
    theirs.mkdir()
    (theirs / "camera_0.json").write_text("{}")
    p = Prediction(0, 0.0, 1.0, ("red",), (0.9,), (2,))
    timeline = Timeline(
        "camera 0", ("blue", "green", "red"), (p,), window_s=1, stride_s=0.5, step_s=1 / 16, clip_len=16, top_k=1
    )
    image = np.full((120, 160, 3), RED_BGR, np.uint8)
    folders = []
    for _ in range(2):
        with SessionRecorder(tmp_path, source="camera 0", started=started) as recorder:
            recorder.add(image, 0.0)
            rec = recorder.finish(timeline)
        assert rec.ok and set(rec.files) >= {"mp4", "json"}
        folders.append(rec.folder.name)
    assert folders == ["camera_0-20260102-030405-2", "camera_0-20260102-030405-3"]
    assert (theirs / "camera_0.json").read_text() == "{}"


def _fake_report_module(monkeypatch, write_report) -> None:
    """Stand in for ``actionrec.export.report`` (the HTML report lands with the timeline view)."""
    import sys
    import types

    module = types.ModuleType("actionrec.export.report")
    module.write_report = write_report
    monkeypatch.setitem(sys.modules, "actionrec.export.report", module)


def test_the_report_is_written_with_the_recorded_video_when_the_writer_exists(models, red_clip, tmp_path, monkeypatch):
    from actionrec.atomic import atomic_write

    calls = []

    def write_report(timeline, path, *, video=None, lanes=(), events=(), threshold=0.0):
        calls.append({"timeline": timeline, "video": video, "events": events, "threshold": threshold})
        with atomic_write(path, "w") as f:
            f.write("<!doctype html>")
        return Path(path)

    _fake_report_module(monkeypatch, write_report)
    player, _ = recording_player(models, tmp_path, threshold=0.4, events=["red > 0.6 for 0.5s"])
    report = asyncio.run(player.play(red_clip))
    rec = report.recording
    assert rec.ok and rec.notes == ()
    assert rec.files["html"] == rec.folder / "red_30fps.html" and rec.files["html"].read_text() == "<!doctype html>"
    (call,) = calls
    assert call["video"] == rec.video and call["video"].exists()  # the video is final before the report
    assert call["threshold"] == 0.4 and call["events"] == report.events
    assert predictions_of(call["timeline"]) == predictions_of(report)


def test_a_failing_report_writer_loses_nothing_else(models, red_clip, tmp_path, monkeypatch):
    def write_report(timeline, path, **kwargs):
        raise ExportError(f"cannot write {path}: the disk is full")

    _fake_report_module(monkeypatch, write_report)
    player, _ = recording_player(models, tmp_path)
    with pytest.raises(RecordingError, match=r"html: cannot write .*red_30fps\.html: the disk is full") as info:
        asyncio.run(player.play(red_clip))
    rec = info.value.recording
    assert {"mp4", "json", "csv", "vtt"} <= set(rec.files) and "html" not in rec.files
    assert_only_complete_files(tmp_path, rec)


def test_a_record_folder_that_cannot_be_created_when_playing_never_stops_the_display(models, red_clip, tmp_path):
    root = tmp_path / "recordings"
    player, _ = recording_player(models, root)  # valid when the player was made...
    root.write_text("...then a file took its name")
    with pytest.raises(RecordingError, match=r"folder: cannot create a recording folder in .*recordings") as info:
        asyncio.run(player.play(red_clip))
    report = info.value.report
    assert report.frames_shown == 48 and report.shown_ratio == 1.0
    assert report.recording.folder is None and report.recording.files == {}
    assert report.recording.frames_dropped == 48
    assert [p.name for p in tmp_path.iterdir()] == ["recordings"] and root.read_text().startswith("...")


def test_the_record_toggle_turns_recording_on_and_off_for_the_next_sessions(models, red_clip, tmp_path, monkeypatch):
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "data"))
    player, _ = recording_player(models, None)
    toggle = player._record_button
    assert toggle.description == "Record" and toggle.value is False and player.recording_dir is None
    toggle.value = True  # what a click does
    assert player.recording_dir == tmp_path / "data" / "out" / "recordings"
    assert "recorded in" in player._status.value
    toggle.value = False
    assert player.recording_dir is None and "not recorded" in player._status.value

    mine = tmp_path / "mine"
    player, _ = recording_player(models, mine)
    toggle = player._record_button
    assert toggle.value is True
    toggle.value = False
    toggle.value = True  # back to the folder it was given, not the default
    assert player.recording_dir == mine
    player.record_to(None)  # the API and the toggle agree
    assert toggle.value is False
    toggle.value = True
    report = asyncio.run(player.play(red_clip))
    assert report.recording.folder.parent == mine and report.recording.ok
