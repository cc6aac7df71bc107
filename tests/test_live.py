"""LiveRecognizer: same grid as files, never queues, drops samples as 'missing' under load."""

import contextlib
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import LiveRecognizer, RecognizerOptions
from tests.oracle import oracle_windows


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="LATENCY")


def frame(i, t, bgr=(0, 0, 200), size_wh=(160, 120)):
    return SimpleNamespace(image_bgr=np.full((size_wh[1], size_wh[0], 3), bgr, np.uint8), index=i, timestamp_s=t)


LANDSCAPE_CROP = (20, 0, 120, 120)  # the centred square of a 160x120 frame
PORTRAIT_CROP = (0, 20, 120, 120)  # of a 120x160 frame


def drain(live, timeout_s=2.0):
    deadline = time.monotonic() + timeout_s
    while live.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def test_live_windows_match_the_file_oracle_when_not_overloaded(models):
    times = [i / 30 for i in range(100)]
    got = []
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=0.5)) as live:
        assert live.latest is None  # "collecting frames" until the first window
        for i, t in enumerate(times):
            live.push(frame(i, t))
            live._jobs.wait_all()  # a consumer slower than the encoder: no drops expected
            while (p := live.poll()) is not None:
                got.append(p)
        live.close()
        while (p := live.poll()) is not None:
            got.append(p)
    expected = oracle_windows(times, window_s=1.0, clip_len=16, stride_s=0.5)
    assert [round(p.start_s, 6) for p in got] == [round(e["start_s"], 6) for e in expected]
    assert all(p.missing == 0 and p.label == "red" for p in got)
    assert live.samples_missing == 0


class BusyQueue:
    """An encoder queue whose requests never complete until released: every new sample is dropped."""

    last = None  # the newest instance (the recognizer wraps it)

    def __init__(self, compiled, jobs):
        self.request = compiled.create_infer_request()
        self.held = []
        BusyQueue.last = self

    def set_callback(self, cb):
        self.cb = cb

    def start_async(self, inputs, k):
        self.request.infer(inputs)
        out = self.request.get_output_tensor(0).data.copy()
        self.held.append((out, k))

    def release(self):
        for out, k in self.held:
            self.cb(SimpleNamespace(get_output_tensor=lambda i, o=out: SimpleNamespace(data=o)), k)
        self.held = []

    def wait_all(self):
        self.release()


def test_overload_drops_samples_as_missing_instead_of_queueing(models, monkeypatch):
    import openvino

    monkeypatch.setattr(openvino, "AsyncInferQueue", BusyQueue)
    live = LiveRecognizer(models, max_in_flight=1)
    for i in range(40):  # 1.3 s at 30 fps while the single request stays busy
        live.push(frame(i, i / 30))
    assert live.samples_encoded == 0 and live.samples_missing >= 15
    assert len(BusyQueue.last.held) == 1  # never more in flight than allowed
    BusyQueue.last.release()
    p = live.poll()
    assert p is not None and p.missing == 15 and p.label == "red"


def test_each_window_carries_the_crop_of_its_last_encoded_sample(models):
    # The camera turns portrait at 2.0 s: windows whose last sample is later say so, earlier ones do not.
    got = []
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=0.5)) as live:
        for i in range(150):
            live.push(frame(i, i / 30, size_wh=(160, 120) if i < 60 else (120, 160)))
            live._jobs.wait_all()
            while (p := live.poll()) is not None:
                got.append(p)
        step_s = live.grid.step_s
    assert len(got) >= 6
    expected = [LANDSCAPE_CROP if p.end_s - step_s < 2.0 else PORTRAIT_CROP for p in got]
    assert [p.crop_xywh for p in got] == expected
    assert expected[:3] == [LANDSCAPE_CROP] * 3 and expected[-1] == PORTRAIT_CROP
    assert not hasattr(live, "crop_xywh")  # the crop arrives with the prediction, not as live state


def test_a_window_whose_last_samples_were_dropped_keeps_the_crop_of_its_last_encoded_one(models, monkeypatch):
    import openvino

    monkeypatch.setattr(openvino, "AsyncInferQueue", BusyQueue)
    live = LiveRecognizer(models, max_in_flight=1)
    for i in range(40):  # only sample 0 (landscape) is encoded; the portrait ones are dropped
        live.push(frame(i, i / 30, size_wh=(160, 120) if i == 0 else (120, 160)))
    BusyQueue.last.release()
    p = live.poll()
    assert p is not None and p.missing == 15
    assert p.crop_xywh == LANDSCAPE_CROP


def test_trailing_smoothing_and_timings(models):
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=0.25, smoothing=3)) as live:
        for i in range(90):
            bgr = (0, 0, 200) if i < 45 else (200, 0, 0)
            live.push(frame(i, i / 30, bgr))
            live._jobs.wait_all()
            live.poll()
        live.close()
        drain(live)
        assert live.latest.label == "blue"
        t = live.timings()
        assert t.encoder_ms > 0 and t.decoder_ms > 0 and t.preprocess_ms > 0


def test_a_bad_frame_is_a_missing_sample_not_a_stuck_window(models):
    got = []
    with LiveRecognizer(models) as live:
        for i in range(90):
            f = frame(i, i / 30)
            if i == 19:
                f = SimpleNamespace(image_bgr=np.zeros((120, 160), np.uint8), index=i, timestamp_s=i / 30)
            with contextlib.suppress(ValueError):  # the caller reports it and goes on
                live.push(f)
            live._jobs.wait_all()
            while (p := live.poll()) is not None:
                got.append(p)
    assert len(got) >= 4 and sum(p.missing for p in got) >= 1
    assert len(live._state) < 40  # bookkeeping stays bounded


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"top_k": 0}, r"top_k=0 is out of range; valid: 1..1000 classes"),
        ({"smoothing": 0}, r"smoothing=0 is out of range; valid: 1..1000 windows"),
        ({"smoothing": 2.5}, r"smoothing=2.5 is out of range; valid: 1..1000 windows \(a whole number\)"),
        ({"window_s": 0.0}, r"window_s=0.0 is out of range; valid: a positive number of seconds"),
        ({"stride_s": float("nan")}, r"stride_s=nan is out of range; valid: a positive number of seconds"),
    ],
)
def test_options_reject_bad_settings_for_every_recognizer(kwargs, message):
    # One options object: the file recognizer, the live recognizer and the player share it.
    with pytest.raises(ValueError, match=message):
        RecognizerOptions(**kwargs)


def test_live_defaults_differ_from_the_file_defaults_only_in_top_k():
    live, files = RecognizerOptions.live(), RecognizerOptions()
    assert (live.top_k, files.top_k) == (3, 5)
    assert (live.window_s, live.stride_s, live.smoothing) == (files.window_s, files.stride_s, files.smoothing)


def test_a_sample_reusing_the_frame_of_a_dropped_sample_is_missing_not_duplicated(models, monkeypatch):
    import openvino

    monkeypatch.setattr(openvino, "AsyncInferQueue", BusyQueue)
    live = LiveRecognizer(models, max_in_flight=1)
    # 10 frames/s after the first: slower than the 16/s grid, so frames serve two grid points. Frame 0
    # serves samples 0 and 1 (sample 0 is encoded: 1 is a real duplicate); the single request stays
    # busy, so every later sample is dropped, and a frame serving two of them has nothing to reuse.
    times = [0.0, *(0.15 + i / 10 for i in range(15))]
    for i, t in enumerate(times):
        live.push(frame(i, t))
    BusyQueue.last.release()
    p = live.poll()
    assert p is not None and (p.duplicated, p.missing) == (1, 14)
    assert (live.samples_duplicated, live.samples_encoded) == (1, 1)


def test_samples_encoded_is_counted_with_the_embedding_under_the_lock(models):
    """A reader holding the lock sees the counter and the sample's state agree."""
    main = threading.main_thread()
    released, go = threading.Event(), threading.Event()

    class PausingLock:
        """The recognizer's lock; a callback thread pauses right after releasing it."""

        def __init__(self):
            self.lock = threading.Lock()

        def __enter__(self):
            self.lock.acquire()

        def __exit__(self, *exc):
            self.lock.release()
            if threading.current_thread() is not main:
                released.set()
                go.wait(5)

    with LiveRecognizer(models) as live:
        live._lock = PausingLock()
        live.push(frame(0, 0.0))
        try:
            assert released.wait(5)  # the callback stored sample 0 and left the lock
            with live._lock:
                assert live._state[0] == "done"
                assert live.samples_encoded == 1
        finally:
            go.set()
