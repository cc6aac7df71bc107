"""Interrupted work loses nothing: no partial export or cache under a final name, handles released."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import Recognizer
from actionrec.pipeline import files as pipeline_files
from tests.conftest import REPO
from tests.support.interrupts import default_ctrl_c_in_child


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
    assert len(list(cache_dir.glob("????????????????????????????????.npz"))) == 1  # the embeddings


def _wait_for(what: str, ready, proc: subprocess.Popen, err: list[str], *, limit_s: float = 120.0):
    """Poll ``ready()`` until it is truthy; a safety net, not a timing check: ``limit_s`` only ends a hung run."""
    deadline = time.monotonic() + limit_s
    while not (found := ready()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"never saw {what} (exit {proc.poll()}); stderr:\n{''.join(err)}")
        time.sleep(0.005)
    return found


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to a child process")
def test_ctrl_c_during_cli_analyze_leaves_only_complete_files(
    tiny_model_dir, tiny_labels_file, video_factory, tmp_path
):
    """Ctrl+C while the second input's annotated video is being written, the first input's exports complete.

    The signal is sent at a known point, not after a delay: once the first input's summary is on
    stdout (printed after all its files are written) and the second input's annotated video (its
    first format, the slow one) exists on disk under some name (the temporary one).
    """
    import cv2

    first = video_factory("sigint_first.mp4", fps=30, duration_s=2.0, size_wh=(160, 120))
    second = video_factory("sigint_second.mp4", fps=30, duration_s=15.0, size_wh=(320, 240))
    out = tmp_path / "out"
    # conftest's AR_* only (temporary data/ and model/); run outside the checkout, importing it.
    pythonpath = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=pythonpath)
    args = ["analyze", str(first), str(second), "--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file)]
    args += ["--out", str(out), "--formats", "mp4,json,csv,vtt", "--no-progress", "--no-cache"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "actionrec", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_ctrl_c_in_child,
    )
    lines: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True),
        threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True),
    ]
    for t in readers:
        t.start()
    try:
        _wait_for(
            "the first input's summary", lambda: any(line.startswith("  wrote vtt: ") for line in lines), proc, err
        )
        _wait_for(
            "the second input's annotated video being written", lambda: list(out.glob("*sigint_second*")), proc, err
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for t in readers:
            t.join(timeout=10)
    stdout, stderr = "".join(lines), "".join(err)
    assert proc.returncode == 130, stderr
    assert f"{first}: " in stdout and f"{second}: " not in stdout, stdout  # the signal landed within the second
    # Only the first input's four files: no temporary file, nothing of the second under any name.
    assert sorted(p.name for p in out.iterdir()) == [
        "sigint_first.annotated.mp4",
        "sigint_first.csv",
        "sigint_first.json",
        "sigint_first.vtt",
    ], stderr
    windows = json.loads((out / "sigint_first.json").read_text())["windows"]
    n_windows = int(re.search(rf"^{re.escape(str(first))}: (\d+) windows", stdout, re.M).group(1))
    assert len(windows) == n_windows > 0
    rows = (out / "sigint_first.csv").read_text().splitlines()
    assert len(rows) > n_windows  # a header, then at least one row per window (one per top-k class)
    assert (out / "sigint_first.vtt").read_text().startswith("WEBVTT")
    cap = cv2.VideoCapture(str(out / "sigint_first.annotated.mp4"))
    n_frames = 0
    while cap.read()[0]:
        n_frames += 1
    cap.release()
    assert n_frames == 60  # every frame of the 2 s clip: the video was finished, not cut


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
