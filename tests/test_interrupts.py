"""Interrupted work loses nothing: no partial export or cache under a final name, handles released."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import Recognizer
from actionrec.pipeline import files as pipeline_files
from tests.conftest import REPO


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"))


def test_interrupt_mid_analysis_releases_the_file_and_writes_no_cache(models, video_factory, monkeypatch, tmp_path):
    path = video_factory("interrupt.mp4", fps=30, duration_s=4.0, size_wh=(160, 120))
    opened = []
    real_open = pipeline_files.open_video

    class Interrupting:
        """The real source, but Ctrl+C arrives while frame 50 is being read.

        The analysis opens files with a frame filter, so frame 50 itself may be decoded without
        being yielded: the interrupt comes with the first frame yielded from 50 on.
        """

        def __init__(self, real):
            self.real, self.info, self.stats = real, real.info, real.stats

        def __enter__(self):
            self.real.__enter__()
            return self

        def __exit__(self, *exc):
            return self.real.__exit__(*exc)

        def __iter__(self):
            for f in self.real:
                if f.index >= 50:
                    raise KeyboardInterrupt
                yield f

    def interrupting_open(source, **kw):
        opened.append(real_open(source, **kw))
        return Interrupting(opened[-1])

    monkeypatch.setattr(pipeline_files, "open_video", interrupting_open)
    with pytest.raises(KeyboardInterrupt):
        Recognizer(models).analyze(path, progress=False)
    assert opened and opened[0].closed
    cache_dir = tmp_path / "repo" / "data" / "cache"
    assert not cache_dir.exists() or not list(cache_dir.iterdir())
    # the next run completes and caches normally
    monkeypatch.setattr(pipeline_files, "open_video", real_open)
    assert len(Recognizer(models).analyze(path, progress=False)) == 7
    assert len(list(cache_dir.glob("*.npz"))) == 1


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to a child process")
def test_ctrl_c_during_cli_analyze_leaves_only_complete_files(
    tiny_model_dir, tiny_labels_file, video_factory, tmp_path
):
    clip = video_factory("long_for_sigint.mp4", fps=30, duration_s=20.0, size_wh=(320, 240))
    out = tmp_path / "out"
    env = dict(os.environ)  # conftest's AR_* only: temporary data/ and model/
    args = ["analyze", str(clip), str(clip), "--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file)]
    args += ["--out", str(out), "--formats", "json,csv,vtt,mp4", "--no-progress", "--no-cache"]
    proc = subprocess.Popen([sys.executable, "-m", "actionrec", *args], cwd=REPO, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()  # interrupted mid-run, not after it
    files = list(out.iterdir()) if out.exists() else []
    assert not [f for f in files if ".tmp" in f.name or f.name.endswith(".part")], files
    for f in files:  # whatever exists under a final name is complete
        if f.suffix == ".json":
            assert json.loads(f.read_text())["windows"]
        if f.suffix == ".mp4":
            import cv2

            cap = cv2.VideoCapture(str(f))
            n = 0
            while cap.read()[0]:
                n += 1
            assert n == 600
    assert np.all([f.stat().st_size > 0 for f in files])


@pytest.mark.parametrize("second_in", ["join", "drain"])
def test_a_second_ctrl_c_during_shutdown_waits_for_the_reader_before_the_capture_is_released(
    models, monkeypatch, second_in
):
    """Ctrl+C, then Ctrl+C again while the file encoder waits for its requests or its reader (inside read())."""
    import threading

    from actionrec.pipeline import FileEncoder, stages
    from actionrec.video.core import VideoInfo, VideoSource, VideoStats

    class InsideRead:
        """Frames whose next() blocks (a slow read()) until the test lets it return."""

        def __init__(self):
            self.inside, self.entered, self.leave = False, threading.Event(), threading.Event()

        def __iter__(self):
            return self

        def __next__(self):
            self.inside = True
            self.entered.set()
            self.leave.wait(10)
            self.inside = False
            raise StopIteration

    frames = InsideRead()
    released_inside = []
    joins = []

    class SecondCtrlCInJoin(threading.Thread):
        def join(self, timeout=None):
            if self.name == "actionrec-reader":
                joins.append(frames.inside)
                if second_in == "join" and len(joins) == 1:
                    raise KeyboardInterrupt  # the second Ctrl+C, while the reader is in read()
                frames.leave.set()  # read() returns only now, after the second Ctrl+C
            return super().join(timeout)

    real_drain = stages.EncoderQueue.drain
    drains = []

    def drain_then_ctrl_c(self):
        real_drain(self)
        drains.append(1)
        if second_in == "drain" and len(drains) == 1:
            raise KeyboardInterrupt  # Python delivers a Ctrl+C that came during the wait right after it

    encoder = FileEncoder(models, Recognizer(models).grid, progress=False)

    def first_ctrl_c(jobs, bar):
        assert frames.entered.wait(5)
        raise KeyboardInterrupt

    monkeypatch.setattr(encoder, "_encode", first_ctrl_c)
    monkeypatch.setattr(stages.threading, "Thread", SecondCtrlCInJoin)
    monkeypatch.setattr(stages.EncoderQueue, "drain", drain_then_ctrl_c)
    info = VideoInfo("slow.mp4", (64, 48), 30.0, None, None, False, 0)
    source = VideoSource(info, VideoStats(), frames, on_close=lambda: released_inside.append(frames.inside))
    try:
        with pytest.raises(KeyboardInterrupt), source:
            encoder.run(source, source="slow.mp4")
    finally:
        frames.leave.set()
    assert released_inside == [False]  # the capture was released after the reader left read()
    assert joins == ([True, True] if second_in == "join" else [True])  # an interrupted join runs again
    assert not [t for t in threading.enumerate() if t.name == "actionrec-reader"]
