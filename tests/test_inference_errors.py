"""An error inside an inference callback is one clear Python error, never a dead process.

OpenVINO keeps an exception raised in an ``AsyncInferQueue`` callback and re-raises it at the next
``start_async``/``wait_all``; a call after that ends the process (``std::terminate``, exit 134), so
a notebook kernel dies. Each path runs in a subprocess: on the code before the fix it aborted.
"""

import os
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from actionrec.errors import ModelOutputError
from actionrec.pipeline.jobs import InferJobs, embeddings_of, logits_of
from tests.conftest import REPO
from tests.support.tiny_models import write_labels, write_model_dir
from tests.support.videos import make_video

ENCODER_MESSAGE = (
    r"encoder output has 256 values per sample \(shape \[2, 256, 1, 1\] for a request of 1 sample\(s\)\); "
    r"the decoder expects 512 \(its embedding_dim\): the encoder and decoder IRs do not belong together"
)
DECODER_MESSAGE = (
    r"decoder output has 400 values per window \(shape \[2, 200\]\); there are 200 labels, one per class its "
    r"shape declares: the decoder IR does not give one row of class scores per window"
)


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """Model folders whose encoder (or decoder) output passes the compile-time checks but not a request."""
    root = tmp_path_factory.mktemp("broken")
    return {
        "encoder": (
            write_model_dir(root / "encoder", precisions=("FP32",), encoder_output_rows=2),
            write_labels(root / "labels400.json", 400),
            ENCODER_MESSAGE,
        ),
        "decoder": (
            write_model_dir(root / "decoder", precisions=("FP32",), decoder_output_rows=2),
            write_labels(root / "labels200.json", 200),
            DECODER_MESSAGE,
        ),
    }


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", fps=30, duration_s=2.0, size_wh=(96, 64))


def run(args, tmp_path):
    env = dict(os.environ)  # conftest: only temporary AR_DATA_DIR/AR_CACHE_DIR
    env["PYTHONPATH"] = str(REPO)
    env["AR_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def assert_not_aborted(proc):
    """Exit code 1 from a Python error: not 134 / -SIGABRT (std::terminate), no native message."""
    assert proc.returncode == 1, f"exit code {proc.returncode}\n{proc.stderr}"
    for native in ("terminate called", "restore() called a second time", "Aborted", "core dumped"):
        assert native not in proc.stderr, proc.stderr


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_cli_reports_a_callback_error_in_one_line_and_exits_1(part, broken, clip, tmp_path):
    model_dir, labels, message = broken[part]
    args = ["-m", "actionrec", "analyze", str(clip), "--model-dir", str(model_dir), "--labels", str(labels)]
    args += ["--precision", "FP32", "--cache-dir", str(tmp_path / "cc"), "--out", str(tmp_path / "out")]
    proc = run([*args, "--no-progress", "--no-cache"], tmp_path)
    assert_not_aborted(proc)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if re.search(message, line)]
    assert len(lines) == 1 and lines[0].startswith(f"FAILED {clip}: "), proc.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # nothing exported


API = """
import sys
from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import Recognizer

model_dir, labels, cache, clip = sys.argv[1:5]
models = compile_models(resolve_model(precision="FP32", model_dir=model_dir, labels=labels), cache_dir=cache)
try:
    Recognizer(models).analyze(clip, progress=False, cache=False)
except Exception as exc:
    print(f"caught: {type(exc).__name__}: {exc}")  # what a notebook cell shows; the kernel lives on
Recognizer(models).analyze(clip, progress=False, cache=False)  # again, uncaught this time
"""


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_api_raises_a_model_output_error_every_time_and_the_process_lives(part, broken, clip, tmp_path):
    model_dir, labels, message = broken[part]
    proc = run(["-c", API, str(model_dir), str(labels), str(tmp_path / "cc"), str(clip)], tmp_path)
    assert_not_aborted(proc)
    assert re.search("^caught: ModelOutputError: " + message, proc.stdout), proc.stdout + proc.stderr
    assert re.fullmatch("actionrec.errors.ModelOutputError: " + message + ".*", proc.stderr.splitlines()[-1])


LIVE = """
import sys, threading, time
from types import SimpleNamespace
import numpy as np
from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import LiveRecognizer

model_dir, labels, cache, failing_clock = sys.argv[1:5]
models = compile_models(
    resolve_model(precision="FP32", model_dir=model_dir, labels=labels), cache_dir=cache, hint="LATENCY"
)
main = threading.main_thread()

def clock():  # an injected clock that fails on OpenVINO's threads (the callback calls it)
    if failing_clock == "yes" and threading.current_thread() is not main:
        raise RuntimeError("this clock works on the main thread only")
    return time.perf_counter()

def play(live):
    for i in range(60):
        live.push(SimpleNamespace(image_bgr=np.full((64, 96, 3), 200, np.uint8), index=i, timestamp_s=i / 30))
        live.poll()
        live.close()  # waits for the request in flight (a consumer slower than the encoder)

live = LiveRecognizer(models, clock=clock)
try:
    play(live)
except Exception as exc:
    print(f"caught: {type(exc).__name__}: {exc}")
live.close()  # after push() raised: the old code ended the process here
print("closed")
with LiveRecognizer(models, clock=clock) as live:
    play(live)  # uncaught this time: leaves the with block with the error
"""


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("encoder", "ModelOutputError: " + ENCODER_MESSAGE),
        ("clock", "RuntimeError: this clock works on the main thread only"),
    ],
)
def test_live_push_poll_close_raise_a_callback_error_and_the_process_lives(
    case, message, broken, tiny_model_dir, tiny_labels_file, tmp_path
):
    model_dir, labels = (
        (broken["encoder"][0], broken["encoder"][1]) if case == "encoder" else (tiny_model_dir, tiny_labels_file)
    )
    failing_clock = "yes" if case == "clock" else "no"
    proc = run(["-c", LIVE, str(model_dir), str(labels), str(tmp_path / "cc"), failing_clock], tmp_path)
    assert_not_aborted(proc)
    out = proc.stdout.splitlines()
    assert len(out) >= 2 and out[-1] == "closed", proc.stdout + proc.stderr
    assert re.match("caught: " + message, out[-2]), proc.stdout
    assert re.fullmatch(r"(actionrec\.errors\.)?" + message + ".*", proc.stderr.splitlines()[-1]), proc.stderr


# -- the helper itself, in process (safe now: a callback never raises into OpenVINO) --------------


@pytest.fixture(scope="module")
def relu():
    import openvino as ov
    import openvino.opset13 as ops

    from actionrec.models.runtime import get_core

    x = ops.parameter([1, 4], ov.Type.f32, name="0")
    return get_core().compile_model(ov.Model([ops.relu(x)], [x]), "CPU")


def test_infer_jobs_raise_the_first_callback_error_once_and_stay_usable(relu):
    calls = []

    def callback(request, k):
        calls.append(k)
        if k in (1, 2):
            raise ValueError(f"bad output {k}")

    jobs = InferJobs(relu, 1, callback)  # one request: callbacks run in start order
    x = np.zeros((1, 4), np.float32)
    jobs.start_async({0: x}, 0)
    jobs.start_async({0: x}, 1)
    jobs.drain()  # never raises
    with pytest.raises(ValueError, match=r"^bad output 1$"):
        jobs.start_async({0: x}, 2)  # the kept error, raised on this thread; request 2 is not started
    jobs.wait_all()  # raised once: nothing left to raise, and no std::terminate
    jobs.check()
    jobs.start_async({0: x}, 3)
    jobs.wait_all()
    assert calls == [0, 1, 3]
    jobs.start_async({0: x}, 2)
    with pytest.raises(ValueError, match=r"^bad output 2$"):
        jobs.wait_all()  # a later error is raised in its turn
    jobs.drain()


def test_output_checks_name_the_sizes_and_what_to_do():
    assert embeddings_of(np.ones((8, 512, 1, 1)), samples=8, embedding_dim=512).shape == (8, 512)
    with pytest.raises(ModelOutputError, match=ENCODER_MESSAGE + "; use the encoder and decoder of one model"):
        embeddings_of(np.ones((2, 256, 1, 1)), samples=1, embedding_dim=512)
    assert logits_of(np.ones((1, 200)), num_classes=200).shape == (200,)
    with pytest.raises(ModelOutputError, match=DECODER_MESSAGE + "; use the decoder of the same model"):
        logits_of(np.ones((2, 200)), num_classes=200)


def test_live_push_raises_a_callback_error_once_and_its_sample_counts_as_missing(
    tiny_model_dir, tiny_labels_file, tmp_path
):
    from types import SimpleNamespace

    from actionrec.models import compile_models, resolve_model
    from actionrec.pipeline import LiveRecognizer

    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    models = compile_models(files, cache_dir=tmp_path, hint="LATENCY")
    main, failures = threading.main_thread(), []

    def clock():  # fails once, in the first encoder callback
        if threading.current_thread() is not main and not failures:
            failures.append(1)
            raise RuntimeError("clock failed")
        return time.perf_counter()

    def frame(i):
        return SimpleNamespace(image_bgr=np.full((64, 96, 3), 200, np.uint8), index=i, timestamp_s=i / 16)

    got = []
    with LiveRecognizer(models, clock=clock) as live:
        live.push(frame(0))
        live._jobs.drain()  # the callback of sample 0 has run (and failed)
        with pytest.raises(RuntimeError, match=r"^clock failed$"):
            live.push(frame(1))
        assert live.samples_missing == 1 and live.samples_encoded == 0
        for i in range(2, 40):  # raised once: the recognizer goes on
            live.push(frame(i))
            live._jobs.drain()
            while (p := live.poll()) is not None:
                got.append(p)
    # frame 1 was refused, so sample 1 reuses sample 0's frame: missing too (it has nothing to reuse)
    assert got and got[0].missing == 2 and all(p.missing == 0 for p in got[1:])
