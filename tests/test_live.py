"""LiveRecognizer: same grid as files, never queues, drops samples as 'missing' under load.

Most tests run the live path as a user does: frames pushed at a camera's pace, ``poll()`` after
each, the encoder's requests completing on OpenVINO's own threads (nothing waits on the
recognizer's internals). The camera's time is injected (:class:`PacedCamera`).
"""

import contextlib
import itertools
import math
import os
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import LiveRecognizer, RecognizerOptions, preprocess
from tests.oracle import oracle_windows

# hang guard for waits on OpenVINO's threads (they finish in milliseconds); never a measurement. Mutation runs
# (benchmarks/mutation.py) lower it: a mutant that keeps a window from resolving then fails in seconds, not a minute.
WAIT_LIMIT_S = float(os.environ.get("AR_TEST_WAIT_LIMIT_S", "60"))
VFR_TIMES = [float(t) for t in np.cumsum(np.random.default_rng(5).uniform(0.025, 0.06, 110)) - 0.025]  # 17-40 fps


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="LATENCY")


@pytest.fixture(scope="module")
def live_models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    """As the notebook's live section compiles them: hint LIVE (on a CPU, streams of one thread each)."""
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="LIVE")


def frame(i, t, bgr=(0, 0, 200), size_wh=(160, 120)):
    return SimpleNamespace(image_bgr=np.full((size_wh[1], size_wh[0], 3), bgr, np.uint8), index=i, timestamp_s=t)


LANDSCAPE_CROP = (20, 0, 120, 120)  # the centred square of a 160x120 frame
PORTRAIT_CROP = (0, 20, 120, 120)  # of a 120x160 frame


def wait_for(condition, what):
    """Poll ``condition`` until true; fail after :data:`WAIT_LIMIT_S` (a hang guard, not a timing check)."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {WAIT_LIMIT_S} s")
        time.sleep(0.001)


class PacedCamera:
    """Frames at ``times_s`` of camera time, from a camera whose clock and sleep are injected.

    Between two frames the camera sleeps until the next frame's time: its clock jumps there. A
    machine fast enough for the frame rate finishes the encoder requests in flight during that
    sleep; the camera models it by waiting (hang guard only) until fewer than ``in_flight`` of
    the grid samples its frames decided are unresolved, read from the recognizer's public counters
    (``samples_encoded + samples_missing + samples_duplicated``). So no sample is dropped for lack
    of time, and every request still completes asynchronously, on OpenVINO's threads.
    """

    def __init__(self, live, times_s, *, bgr=lambda i, t: (0, 0, 200), size_wh=lambda i, t: (160, 120), in_flight=1):
        self.live, self.times_s, self.bgr, self.size_wh, self.in_flight = live, times_s, bgr, size_wh, in_flight
        self.now_s = times_s[0]  # the camera's clock
        self.step_s = live.options.window_s / live.models.clip_len
        self.pushed_s: float | None = None

    def clock(self):
        return self.now_s

    def sleep(self, seconds):
        self.now_s += seconds
        wait_for(lambda: self.unresolved() < self.in_flight, "the encoder keeping up with the camera")

    def decided(self):
        """Grid samples decided by the frames pushed so far: grid times up to the newest frame's."""
        if self.pushed_s is None:
            return 0
        return math.floor((self.pushed_s - self.times_s[0]) / self.step_s + 1e-9) + 1

    def unresolved(self):
        live = self.live
        return self.decided() - (live.samples_encoded + live.samples_missing + live.samples_duplicated)

    def __iter__(self):
        for i, t in enumerate(self.times_s):
            if t > self.now_s:
                self.sleep(t - self.now_s)
            yield frame(i, self.clock(), self.bgr(i, t), self.size_wh(i, t))
            self.pushed_s = t  # the caller pushed it (or it raised, and its sample is missing)

    def finish(self):
        """After the last frame: wait until every decided sample is resolved; the last predictions."""
        wait_for(lambda: self.unresolved() == 0, "the last samples")
        return list(self.live.poll_all())


def run_camera(live, camera):
    """The user's loop: push each frame, poll after each; every prediction, in order."""
    got = []
    for f in camera:
        live.push(f)
        got += live.poll_all()
    return got + camera.finish()


def softmax64(logits):
    z = np.asarray(logits, np.float64).reshape(-1)
    e = np.exp(z - z.max())
    return e / e.sum()


def embedding_of(models, image_bgr):
    """One frame through the encoder on its own: its embedding."""
    return models.encoder(preprocess(image_bgr).tensor)[0].reshape(-1)


def expected_window_outputs(models, times, bgr, *, stride_s):
    """Independent of the recognizer: each oracle window's frames through the encoder, then the decoder.

    Returns ``(logits [C], pooled feature [F])`` per window.
    """
    embedding = {}  # frame index -> its embedding, each frame encoded on its own
    out = []
    for w in oracle_windows(times, window_s=1.0, clip_len=16, stride_s=stride_s):
        for i in set(w["frames"]) - embedding.keys():
            embedding[i] = embedding_of(models, frame(i, times[i], bgr(i, times[i])).image_bgr)
        outputs = models.decoder(np.stack([embedding[i] for i in w["frames"]])[None])
        out.append((outputs[0].reshape(-1), outputs[1].reshape(-1)))
    return out


def expected_window_probs(models, times, bgr, *, stride_s):
    """The probabilities of :func:`expected_window_outputs`' windows (the model's own classes)."""
    return [softmax64(logits) for logits, _ in expected_window_outputs(models, times, bgr, stride_s=stride_s)]


@pytest.mark.parametrize("times", [[i / 30 for i in range(100)], VFR_TIMES], ids=["30fps", "vfr"])
def test_live_windows_match_the_file_oracle_when_not_overloaded(models, times):
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=0.5)) as live:
        assert live.latest is None  # "collecting frames" until the first window
        got = run_camera(live, PacedCamera(live, times))
    expected = oracle_windows(times, window_s=1.0, clip_len=16, stride_s=0.5)
    assert len(got) == len(expected) >= 4
    for p, exp in zip(got, expected, strict=True):
        assert (p.start_s, p.end_s) == (pytest.approx(exp["start_s"], abs=1e-9), pytest.approx(exp["end_s"], abs=1e-9))
        # the coverage the recognizer reports, against the oracle's (the chosen frames' times)
        assert p.coverage_s == pytest.approx(exp["coverage_s"], abs=1e-9)
        assert p.duplicated == exp["duplicated"]
    assert all(p.missing == 0 and p.label == "red" for p in got)
    assert live.samples_missing == 0 and live.latest is got[-1]
    assert any(abs(e["coverage_s"] - (e["end_s"] - e["start_s"])) > 1e-3 for e in expected)  # not the grid span


def test_windows_completing_between_two_polls_are_all_returned_in_order(models):
    """A slow consumer polls rarely: poll_all() gives every window since the last call, poll() the newest."""
    times = [i / 30 for i in range(100)]
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=0.5)) as live:
        camera = PacedCamera(live, times)
        for f in camera:
            live.push(f)  # no poll while the frames come
        wait_for(lambda: camera.unresolved() == 0, "the last samples")
        got = live.poll_all()
        assert live.poll_all() == () and live.poll() is None  # nothing new since
    expected = oracle_windows(times, window_s=1.0, clip_len=16, stride_s=0.5)
    assert [p.window_index for p in got] == list(range(len(expected))) and len(got) >= 4
    assert [p.start_s for p in got] == pytest.approx([e["start_s"] for e in expected], abs=1e-9)
    assert live.latest is got[-1]


def ramp_bgr(i, t):
    """Red fading to blue over 3 s: every window's probabilities differ from its neighbours'."""
    return (round(40 + 60 * t), 0, round(220 - 60 * t))


def test_live_smoothing_is_the_mean_of_the_last_n_windows(models):
    times = [i / 30 for i in range(90)]
    expected = expected_window_probs(models, times, ramp_bgr, stride_s=0.25)
    assert len(expected) >= 6  # more windows than smoothing + 1: a longer or unbounded average differs
    assert min(np.abs(a - b).max() for a, b in itertools.pairwise(expected)) > 1e-3
    runs = {}
    for n in (1, 3):
        with LiveRecognizer(models, options=RecognizerOptions(stride_s=0.25, smoothing=n)) as live:
            runs[n] = run_camera(live, PacedCamera(live, times, bgr=ramp_bgr))
        assert [p.window_index for p in runs[n]] == list(range(len(expected)))
    for w, (raw, smoothed) in enumerate(zip(runs[1], runs[3], strict=True)):
        np.testing.assert_allclose(raw.probs, expected[w], atol=1e-6)
        trailing = np.mean(expected[max(0, w - 2) : w + 1], axis=0)  # the window and the two before it
        np.testing.assert_allclose(smoothed.probs, trailing, atol=1e-6, err_msg=f"window {w}")
        assert smoothed.scores[0] == pytest.approx(trailing.max(), abs=1e-6)
        assert smoothed.labels[0] == ("red", "blue")[int(np.argmax(trailing)) == 0]


def test_real_requests_completing_out_of_order_still_give_windows_in_grid_order(models, monkeypatch):
    """OpenVINO's own queue and threads; sample 7's request finishes after 8's, 15's after 16's...

    Each pair straddles the two halves of a window, which the tiny decoder's "brightening" class
    tells apart: embeddings stored in completion order would change the window's probabilities.
    """
    import openvino

    from tests.support.held_requests import CompletionLog, gated_models

    log = CompletionLog()
    marks = {k: log.hold_until(lambda userdata, later=k + 1: userdata == later) for k in range(7, 63, 8)}

    def bgr(i, t):  # frames at 16 fps: frame i is grid sample i
        return (20 + 3 * i, marks.get(i, 0), 200 - 2 * i)

    times = [i / 16 for i in range(64)]
    expected = expected_window_probs(models, times, bgr, stride_s=0.5)
    monkeypatch.setattr(openvino, "AsyncInferQueue", log.queue_class())
    gated = gated_models(models, log)
    with LiveRecognizer(gated, options=RecognizerOptions(stride_s=0.5), max_in_flight=2) as live:
        got = run_camera(live, PacedCamera(live, times, bgr=bgr, in_flight=2))
    assert (log.held, log.timed_out) == (len(marks), 0)
    assert all(log.completed.index(k + 1) < log.completed.index(k) for k in marks)  # really out of order
    assert (live.samples_encoded, live.samples_missing) == (64, 0)
    assert len(got) == len(expected) == 7
    for w, p in enumerate(got):
        np.testing.assert_allclose(p.probs, expected[w], atol=1e-6, err_msg=f"window {w}")


@pytest.fixture
def held(models, monkeypatch):
    """The tiny encoder behind a gate: the request for a frame painted ``held.bgr`` waits for ``held.log.release()``.

    Real requests on OpenVINO's threads; with one request in flight at most, every sample that comes
    while it is held is dropped.
    """
    import openvino

    from tests.support.held_requests import CompletionLog, gated_models

    log = CompletionLog()
    green = log.hold_until_released()
    monkeypatch.setattr(openvino, "AsyncInferQueue", log.queue_class())
    yield SimpleNamespace(models=gated_models(models, log), log=log, bgr=(0, green, 200))
    log.release()


def next_prediction(live):
    """Poll until a prediction arrives (the held request completes on OpenVINO's threads)."""
    got = []
    wait_for(lambda: got.append(live.poll()) or got[-1] is not None, "a prediction")
    return got[-1]


def test_overload_drops_samples_as_missing_instead_of_queueing(held):
    with LiveRecognizer(held.models, max_in_flight=1) as live:
        try:
            for i in range(40):  # 1.3 s at 30 fps while the single request stays busy
                live.push(frame(i, i / 30, held.bgr if i == 0 else (0, 0, 200)))
            assert live.samples_encoded == 0 and live.samples_missing == 20
            assert live.poll() is None and live.latest is None
            # The one request reaches the gate on an inference thread, after push returned: wait for it.
            assert held.log.wait_held(1) and held.log.held == 1 and held.log.completed == []  # never more in flight
        finally:
            held.log.release()
        p = next_prediction(live)
    assert p.missing == 15 and p.label == "red" and held.log.completed == [0]
    assert (live.samples_encoded, live.samples_missing) == (1, 20)


def test_each_window_carries_the_crop_of_its_last_encoded_sample(models):
    # The camera turns portrait at 2.0 s: windows whose last sample is later say so, earlier ones do not.
    times = [i / 30 for i in range(150)]
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=0.5)) as live:
        got = run_camera(live, PacedCamera(live, times, size_wh=lambda i, t: (160, 120) if i < 60 else (120, 160)))
        step_s = live.grid.step_s
    assert len(got) >= 6
    expected = [LANDSCAPE_CROP if p.end_s - step_s < 2.0 else PORTRAIT_CROP for p in got]
    assert [p.crop_xywh for p in got] == expected
    assert expected[:3] == [LANDSCAPE_CROP] * 3 and expected[-1] == PORTRAIT_CROP
    assert not hasattr(live, "crop_xywh")  # the crop arrives with the prediction, not as live state


def test_a_window_whose_last_samples_were_dropped_keeps_the_crop_of_its_last_encoded_one(held):
    with LiveRecognizer(held.models, max_in_flight=1) as live:
        try:
            live.push(frame(0, 0.0, held.bgr, size_wh=(160, 120)))  # only sample 0 (landscape) is encoded
            for i in range(1, 40):  # the portrait ones are dropped
                live.push(frame(i, i / 30, size_wh=(120, 160)))
        finally:
            held.log.release()
        p = next_prediction(live)
    assert p.missing == 15
    assert p.crop_xywh == LANDSCAPE_CROP


def test_smoothed_label_follows_the_scene_and_every_stage_is_timed(models):
    # The recognizer's clock is injected: 1 ms per reading (from any thread), so each stage spans >= 1 ms.
    ticks = itertools.count()
    times = [i / 30 for i in range(90)]
    options = RecognizerOptions(stride_s=0.25, smoothing=3)
    with LiveRecognizer(models, options=options, clock=lambda: next(ticks) / 1000) as live:
        got = run_camera(live, PacedCamera(live, times, bgr=lambda i, t: (0, 0, 200) if i < 45 else (200, 0, 0)))
        assert got[0].label == "red" and live.latest is got[-1] and live.latest.label == "blue"
        t = live.timings()
        assert min(t.encoder_ms, t.decoder_ms, t.preprocess_ms) >= 1.0
        assert got[-1].timings == t  # each prediction carries the timings of when it was decoded


def test_a_bad_frame_is_a_missing_sample_not_a_stuck_window(models):
    got = []
    with LiveRecognizer(models) as live:
        camera = PacedCamera(live, [i / 30 for i in range(90)])
        for f in camera:
            if f.index == 19:
                f = SimpleNamespace(image_bgr=np.zeros((120, 160), np.uint8), index=f.index, timestamp_s=f.timestamp_s)
            with contextlib.suppress(ValueError):  # the caller reports it and goes on
                live.push(f)
            while (p := live.poll()) is not None:
                got.append(p)
        got += camera.finish()
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


def test_a_sample_reusing_the_frame_of_a_dropped_sample_is_missing_not_duplicated(held):
    # 10 frames/s after the first: slower than the 16/s grid, so frames serve two grid points. Frame 0
    # serves samples 0 and 1 (sample 0 is encoded: 1 is a real duplicate); the single request stays
    # busy, so every later sample is dropped, and a frame serving two of them has nothing to reuse.
    times = [0.0, *(0.15 + i / 10 for i in range(15))]
    with LiveRecognizer(held.models, max_in_flight=1) as live:
        try:
            for i, t in enumerate(times):
                live.push(frame(i, t, held.bgr if i == 0 else (0, 0, 200)))
        finally:
            held.log.release()
        p = next_prediction(live)
    assert (p.duplicated, p.missing) == (1, 14)
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


class FileCamera(PacedCamera):
    """A file's decoded frames pushed at their own timestamps, paced like :class:`PacedCamera` (no drops)."""

    def __init__(self, live, frames):
        super().__init__(live, [f.timestamp_s for f in frames])
        self.frames = frames

    def __iter__(self):
        for f in self.frames:
            if f.timestamp_s > self.now_s:
                self.sleep(f.timestamp_s - self.now_s)
            yield f
            self.pushed_s = f.timestamp_s


def _ramp_paint(i, t, img):
    img[:] = (round(40 + 45 * t), 0, round(220 - 45 * t))  # red fading to blue over the clip's 4 s


@pytest.mark.parametrize(("smoothing", "hint"), [(1, "LATENCY"), (3, "LATENCY"), (3, "LIVE")])
def test_a_file_played_live_with_no_drops_gives_the_file_analysis_windows_and_probabilities(
    models, live_models, video_factory, smoothing, hint
):
    """Live and file agree: same windows, same probabilities (float tolerance) on the same decoded frames.

    Live smoothing is trailing (the last n windows), the file's is centred: both are recomputed from
    the file's unsmoothed probabilities and compared, so neither side is its own reference. With the
    ``LIVE`` hint, two requests run at once on a 2-core CPU and complete in any order.
    """
    from actionrec.pipeline import Recognizer
    from actionrec.video import open_video

    vfr = [float(t) for t in np.cumsum(np.random.default_rng(11).uniform(0.02, 0.05, 110)) - 0.02]
    clip = video_factory("live-vs-file-ramp.mp4", timestamps_s=vfr, size_wh=(160, 120), paint=_ramp_paint)
    n_labels = len(models.labels)
    options = RecognizerOptions(stride_s=0.25, top_k=n_labels, smoothing=smoothing)

    recognizer = Recognizer(models, options=options)
    decoded = recognizer.analyze_windows(clip, progress=False, cache=False)
    unsmoothed = np.stack([softmax64(row) for row in decoded.logits])
    file_tl = recognizer.timeline(decoded)
    with open_video(clip, progress=False) as video:
        frames = list(video)
    with LiveRecognizer(models if hint == "LATENCY" else live_models, options=options) as live:
        got = run_camera(live, FileCamera(live, frames))

    assert len(got) == len(file_tl.predictions) == decoded.num_windows >= 8
    assert live.samples_missing == 0
    for w, (lp, fp) in enumerate(zip(got, file_tl.predictions, strict=True)):
        assert (lp.start_s, lp.end_s) == (pytest.approx(fp.start_s, abs=1e-9), pytest.approx(fp.end_s, abs=1e-9))
        assert lp.coverage_s == pytest.approx(fp.coverage_s, abs=1e-9) and lp.duplicated == fp.duplicated
        trailing = unsmoothed[max(0, w - smoothing + 1) : w + 1].mean(axis=0)
        half = smoothing // 2
        centred = unsmoothed[max(0, w - half) : w + half + 1].mean(axis=0)
        live_probs = np.zeros(n_labels)
        live_probs[list(lp.class_ids)] = lp.scores
        file_probs = np.zeros(n_labels)
        file_probs[list(fp.class_ids)] = fp.scores
        assert live_probs == pytest.approx(trailing, abs=1e-4), f"window {w}: live is the trailing mean"
        assert file_probs == pytest.approx(centred, abs=1e-4), f"window {w}: the file's is the centred mean"
    # the ramp makes neighbouring windows differ: with smoothing the two means really differ
    if smoothing > 1:
        pairs = zip(got, file_tl.predictions, strict=True)
        assert any(lp.scores[0] != pytest.approx(fp.scores[0], abs=1e-3) for lp, fp in pairs)


# -- serial drives: each sample resolved before the next call, so every count and reading is exact ------------


def resolved(live):
    """Grid samples the recognizer has settled: encoded, dropped or served by the frame before."""
    return live.samples_encoded + live.samples_missing + live.samples_duplicated


def push_and_settle(live, f, samples):
    """Push ``f``, then wait (hang guard only) until ``samples`` grid samples are settled."""
    live.push(f)
    wait_for(lambda: resolved(live) == samples, f"sample {samples - 1} settled")


class ScriptedClock:
    """The recognizer's clock, scripted by the test.

    A reading on the test's thread returns the time and then moves it on by ``step_s`` (so two readings
    around a stage span ``step_s``); a reading on another thread (an encoder callback) returns the
    test thread's last reading plus ``callback_s``. Exact only when the test lets each request
    finish before its next call (:func:`push_and_settle`).
    """

    def __init__(self):
        self.now_s = self.last_s = self.step_s = self.callback_s = 0.0
        self.main = threading.main_thread()

    def __call__(self):
        if threading.current_thread() is not self.main:
            return self.last_s + self.callback_s
        self.last_s = self.now_s
        self.now_s += self.step_s
        return self.last_s


def test_stage_timings_are_milliseconds_of_the_clock_averaged_over_the_last_32(models):
    """Sample 0 takes 60 ms to preprocess and 40 ms to encode, window 0 70 ms to decode; the rest 3, 5 and 7 ms."""
    from actionrec.results import StageTimings

    clock = ScriptedClock()
    got = []
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=1 / 16), clock=clock) as live:  # a window a sample
        assert live.timings() == StageTimings()  # nothing timed yet: zeros
        for k in range(48):  # 16 frames/s: frame k is grid sample k
            clock.step_s, clock.callback_s = (0.060, 0.040) if k == 0 else (0.003, 0.005)
            push_and_settle(live, frame(k, k / 16), k + 1)
            clock.step_s = 0.070 if not got else 0.007
            got += live.poll_all()
    assert [p.window_index for p in got] == list(range(33))

    def ms(t):
        return (t.preprocess_ms, t.encoder_ms, t.decoder_ms)

    approx = pytest.approx
    assert ms(got[0].timings) == approx(((60 + 15 * 3) / 16, (40 + 15 * 5) / 16, 70.0), rel=1e-9)
    # window 17 is decoded after 33 samples: the first one's times are out of the last 32
    assert ms(got[17].timings) == approx((3.0, 5.0, (70 + 17 * 7) / 18), rel=1e-9)
    assert ms(got[32].timings) == approx((3.0, 5.0, 7.0), rel=1e-9)  # 33 windows: window 0's is out
    assert ms(live.timings()) == ms(got[32].timings)


class RecordingHead:
    """A head of two classes read from the model's logits ("red" and the rest); it records its inputs."""

    name = "red or not"
    labels = ("red", "other")

    def __init__(self, red):
        self.red = red  # the model class read as "red"
        self.checked, self.logits, self.features = [], [], []

    def check_models(self, models):
        self.checked.append(models)

    def probabilities(self, logits, features):
        self.logits.append(logits.copy())
        self.features.append(features.copy())
        p = np.stack([softmax64(row)[self.red] for row in logits])
        return np.stack([p, 1 - p], axis=1)


def test_a_head_is_checked_against_the_models_and_gets_each_windows_logits_and_feature(models):
    times = [i / 30 for i in range(60)]
    red = models.labels.index("red")
    expected = expected_window_outputs(models, times, ramp_bgr, stride_s=0.25)
    head = RecordingHead(red)
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=0.25), head=head) as live:
        got = run_camera(live, PacedCamera(live, times, bgr=ramp_bgr))
    assert len(head.checked) == 1 and head.checked[0] is models
    assert live.labels == head.labels and len(got) == len(expected) >= 4
    for w, (p, (logits, feature)) in enumerate(zip(got, expected, strict=True)):
        assert head.logits[w].shape == (1, models.num_classes) and head.features[w].shape == (1, models.feature_dim)
        np.testing.assert_allclose(head.logits[w][0], logits, atol=1e-5, err_msg=f"window {w}")
        np.testing.assert_allclose(head.features[w][0], feature, atol=1e-5, err_msg=f"window {w}")
        q = softmax64(logits)[red]
        assert set(p.labels) == set(head.labels)
        np.testing.assert_allclose(p.probs, [q, 1 - q], atol=1e-6, err_msg=f"window {w}")
    assert np.ptp(np.concatenate(head.features), axis=0).max() > 1e-2  # the ramp: every window's feature differs


def test_a_head_on_a_decoder_without_a_feature_gets_an_empty_float32_feature(models):
    import dataclasses

    plain = dataclasses.replace(models, feature_dim=0, feature_name="")  # as a decoder with no pooled feature
    head = RecordingHead(models.labels.index("red"))
    times = [i / 30 for i in range(40)]
    with LiveRecognizer(plain, options=RecognizerOptions(stride_s=0.5), head=head) as live:
        got = run_camera(live, PacedCamera(live, times))
    assert got and all(p.label == "red" for p in got)
    assert head.features and all(f.shape == (1, 0) and f.dtype == np.float32 for f in head.features)


class CallbackClockError(RuntimeError):
    pass


def clock_failing_in_callbacks():
    """A clock that works on the test's thread only: every encoder callback fails."""
    if threading.current_thread() is not threading.main_thread():
        raise CallbackClockError("this clock works on the main thread only")
    return 0.0


def test_leaving_the_with_block_raises_a_callback_error_but_never_replaces_the_callers_error(models):
    with pytest.raises(CallbackClockError), LiveRecognizer(models, clock=clock_failing_in_callbacks) as live:
        live.push(frame(0, 0.0))  # its callback fails: a normal exit closes, and close() says so

    class LoopError(Exception):
        pass

    with pytest.raises(LoopError), LiveRecognizer(models, clock=clock_failing_in_callbacks) as live:
        live.push(frame(0, 0.0))
        raise LoopError  # e.g. a Ctrl+C in the user's loop: it is what the user sees
    assert live.samples_missing == 1  # the exit waited for the request all the same


def test_every_sample_whose_encoder_output_does_not_fit_counts_as_missing(tmp_path):
    from actionrec.errors import ModelOutputError
    from tests.support.tiny_models import write_labels, write_model_dir

    model_dir = write_model_dir(tmp_path / "broken", precisions=("FP32",), encoder_output_rows=2)
    files = resolve_model(precision="FP32", model_dir=model_dir, labels=write_labels(tmp_path / "l.json", 400))
    broken = compile_models(files, cache_dir=tmp_path / "cc", hint="LATENCY")
    with LiveRecognizer(broken) as live:
        for k in range(40):
            push_and_settle(live, frame(k, k / 16), k + 1)
            assert (live.samples_missing, live.samples_encoded) == (k + 1, 0)
            errors = []

            def raised(errors=errors):
                try:
                    live.poll()
                except ModelOutputError as exc:
                    errors.append(exc)
                return bool(errors)

            wait_for(raised, f"sample {k}'s error")  # each sample's error, once
        assert live.poll_all() == () and live.latest is None  # windows with no encoded sample: no prediction
        # windows 0-3 are over (samples 0-39): kept from 31, the one before window 4's first (as after a prediction)
        assert sorted(live._state) == list(range(31, 40))


def test_the_encoder_gets_as_many_requests_as_may_run_at_once(models, monkeypatch):
    import openvino

    sizes = []

    class CountingQueue(openvino.AsyncInferQueue):
        def __init__(self, *args):
            super().__init__(*args)
            sizes.append(len(self))

    monkeypatch.setattr(openvino, "AsyncInferQueue", CountingQueue)
    for limit in (1, 3):
        with LiveRecognizer(models, max_in_flight=limit):
            pass
    assert sizes == [1, 3]


def release_guard(held):
    """Release the held request after the hang guard's time: code that starts more requests than allowed
    blocks in push() until then (a hang guard, never a measurement)."""
    guard = threading.Timer(WAIT_LIMIT_S, held.log.release)
    guard.daemon = True
    guard.start()
    return guard


def test_bad_frames_are_missing_samples_and_free_their_request(held):
    bad = np.zeros((120, 160), np.uint8)
    guard = release_guard(held)
    try:
        with LiveRecognizer(held.models, max_in_flight=1) as live:
            for k in (0, 1):
                with pytest.raises(ValueError):
                    live.push(SimpleNamespace(image_bgr=bad, index=k, timestamp_s=k / 16))
            assert (live.samples_missing, live.samples_encoded) == (2, 0)
            push_and_settle(live, frame(2, 2 / 16), 3)
            live.push(frame(3, 3 / 16, held.bgr))  # the one request stays busy with it
            live.push(frame(4, 4 / 16))
            live.push(frame(5, 5 / 16))
            assert (live.samples_missing, live.samples_encoded) == (4, 1)  # 4 and 5 dropped: one request at most
            held.log.release()
            wait_for(lambda: resolved(live) == 6, "sample 3")
        assert (held.log.held, held.log.completed) == (1, [2, 3])
    finally:
        guard.cancel()


def test_two_requests_at_most_when_two_are_allowed(held):
    guard = release_guard(held)
    try:
        with LiveRecognizer(held.models, max_in_flight=2) as live:
            push_and_settle(live, frame(0, 0.0), 1)
            live.push(frame(1, 1 / 16, held.bgr))
            live.push(frame(2, 2 / 16, held.bgr))  # two requests held
            live.push(frame(3, 3 / 16))
            assert (live.samples_missing, live.samples_encoded) == (1, 1)
            held.log.release()
            wait_for(lambda: resolved(live) == 4, "samples 1 and 2")
        assert live.samples_encoded == 3
    finally:
        guard.cancel()


def test_dropped_samples_borrow_the_nearest_encoded_embedding_in_their_window(models, held):
    """Samples 0-5 are encoded, 6-10 dropped while sample 5's request is held, 11 on encoded again.

    In grid steps (1/16 s) the frames come at 0, 1, ..., 5, then 6, 7.9, 8.6, 8.8, 10.1 while the
    request is busy: frame 8.6 serves sample 8 after frame 7.9 served sample 7 (a dropped sample's
    frame: missing too), frame 8.8 decides no sample, and frame 10.1 decides two (9 and 10).
    """
    green = held.bgr[1]
    red_to_blue = [(round(40 + 60 * t), 0, round(220 - 60 * t)) for t in np.arange(24) / 16]

    def painted(i, units):
        b, g, r = red_to_blue[min(round(units), 23)]
        return frame(i, units / 16, (b, green if units == 5 else g, r))

    guard = release_guard(held)
    try:
        with LiveRecognizer(held.models, max_in_flight=1) as live:
            for k in range(5):
                push_and_settle(live, painted(k, k), k + 1)
            live.push(painted(5, 5))  # held
            for i, (units, missing) in enumerate([(6, 1), (7.9, 2), (8.6, 3), (8.8, 3), (10.1, 5)], 6):
                live.push(painted(i, units))
                assert (live.samples_missing, resolved(live)) == (missing, 5 + missing), f"frame at {units}"
            held.log.release()
            wait_for(lambda: resolved(live) == 11, "sample 5")
            got = []
            for k in range(11, 24):
                push_and_settle(live, painted(k, k), k + 1)
                got += live.poll_all()
    finally:
        guard.cancel()
    emb = {k: embedding_of(models, painted(k, k).image_bgr) for k in (*range(6), *range(11, 24))}
    # sample 8 is as far from 5 as from 11: the earlier one
    sources = [[0, 1, 2, 3, 4, 5, 5, 5, 5, 11, 11, *range(11, 16)], [11, 11, 11, *range(11, 24)]]
    assert [(p.window_index, p.missing) for p in got] == [(0, 5), (1, 3)]
    for p, ks in zip(got, sources, strict=True):
        probs = softmax64(models.decoder(np.stack([emb[k] for k in ks])[None])[0])
        np.testing.assert_allclose(p.probs, probs, atol=1e-6, err_msg=f"window {p.window_index}")


def test_frames_slower_than_the_grid_serve_several_samples_with_their_own_embedding(models):
    """5 to 12 frames/s on the 16/s grid: runs of two and three samples on one frame, some across a window start."""
    times = [float(t) for t in np.cumsum(np.random.default_rng(0).uniform(0.08, 0.2, 20)) - 0.08]
    stride_s = 0.25
    expected = expected_window_probs(models, times, ramp_bgr, stride_s=stride_s)
    windows = oracle_windows(times, window_s=1.0, clip_len=16, stride_s=stride_s)
    every = oracle_windows(times, window_s=1.0, clip_len=16, stride_s=1 / 16)  # a window a sample
    sample_frames = every[0]["frames"] + [w["frames"][-1] for w in every[1:]]
    starts = range(4, len(sample_frames) - 15, 4)  # the first sample of each window but the first
    assert sum(sample_frames[k] == sample_frames[k - 1] for k in starts) >= 2  # runs across a window start
    assert any(sample_frames[k] == sample_frames[k - 1] == sample_frames[k - 2] for k in starts)  # of 3 samples
    # a frame may decide samples of two frames (the one before it, then its own): room for both, no drop
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=stride_s), max_in_flight=4) as live:
        got = run_camera(live, PacedCamera(live, times, bgr=ramp_bgr))
    assert live.samples_duplicated == sum(a == b for a, b in itertools.pairwise(sample_frames)) > 2
    assert len(got) == len(expected) >= 4 and live.samples_missing == 0
    for w, p in enumerate(got):
        assert p.duplicated == windows[w]["duplicated"]
        np.testing.assert_allclose(p.probs, expected[w], atol=1e-6, err_msg=f"window {w}")


def test_bookkeeping_after_1000_frames_is_the_next_windows_samples_only(models):
    """Memory stays bounded: what the recognizer keeps per grid sample (state, embedding, time, crop, duplicates).

    No public figure says how much it holds, so this reads its tables: after each window only the
    sample before the next window's first and later (a duplicate starting that window may need the
    sample that encoded its frame: then from that one). Frames every 0.0831 s (12 a second, no two
    grid points equally near): one frame in three serves two samples.
    """
    times = [i * 0.0831 for i in range(1000)]
    step = 1 / 16
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=0.5), max_in_flight=4) as live:
        for i, t in enumerate(times):
            push_and_settle(live, frame(i, t), math.floor(t / step + 1e-9) + 1)
            live.poll_all()
        tables = {"state": live._state, "emb": live._emb, "frame_t": live._frame_t, "crop": live._crop}
        kept = {name: sorted(table) for name, table in tables.items()}
        dups = sorted(live._dup_of)
    n = math.floor(times[-1] / step + 1e-9) + 1  # grid samples
    nxt = (n - 16) // 8 + 1  # the next window

    def frame_of(k):
        return min(range(len(times)), key=lambda i: (abs(times[i] - k * step), i))

    first = nxt * 8 - 1
    while frame_of(first - 1) == frame_of(first):  # a run of samples on one frame: from its first
        first -= 1
    assert live.latest.window_index == nxt - 1 and live.samples_duplicated > 300
    dup = [k for k in range(first + 1, n) if frame_of(k) == frame_of(k - 1)]
    encoded = sorted(set(range(first, n)) - set(dup))  # embeddings and crops: of encoded samples only
    assert kept == {"state": list(range(first, n)), "frame_t": list(range(first, n)), "emb": encoded, "crop": encoded}
    assert dups == dup


def test_a_frame_serving_samples_up_to_a_later_windows_start_lends_it_its_embedding(models):
    """Windows 1 s long every 1.5 s (a gap between them) and a camera that stalls for 1.2 s after frame 15.

    Frame 15's samples (15 to 24, in grid steps of 1/16 s) run past the end of window 0 up to
    window 1's first sample: that sample is the same frame's, decided after window 0 was done.
    """
    times = [i / 16 for i in (*range(16), *range(34, 42))]
    expected = expected_window_probs(models, times, ramp_bgr, stride_s=1.5)
    assert oracle_windows(times, window_s=1.0, clip_len=16, stride_s=1.5)[1]["frames"][0] == 15
    got = []
    with LiveRecognizer(models, options=RecognizerOptions(stride_s=1.5)) as live:
        for i, t in enumerate(times):  # window 0 is decoded before the stall ends
            push_and_settle(live, frame(i, t, ramp_bgr(i, t)), round(t * 16) + 1)
            got += live.poll_all()
            assert len(got) == (i >= 15) + (t >= 39 / 16)  # window 1 ends at sample 39
    assert len(got) == len(expected) == 2
    for w, p in enumerate(got):
        np.testing.assert_allclose(p.probs, expected[w], atol=1e-6, err_msg=f"window {w}")


def test_frames_are_resized_to_the_encoders_own_input_size(models):
    """An encoder taking 112 x 160 (not the usual 224 x 224): every sample is encoded, the label is the frame's."""
    import dataclasses

    from actionrec.models.runtime import get_core
    from tests.support.tiny_models import build_encoder

    encoder = get_core().compile_model(build_encoder(size_hw=(112, 160), embedding_dim=models.embedding_dim), "CPU")
    small = dataclasses.replace(models, encoder=encoder, input_size_hw=(112, 160))
    with LiveRecognizer(small, options=RecognizerOptions(stride_s=0.5)) as live:
        got = run_camera(live, PacedCamera(live, [i / 30 for i in range(40)]))
    assert got and all(p.label == "red" and p.missing == 0 for p in got)
    assert live.samples_missing == 0 and live.samples_encoded == 21  # grid samples 0-20: up to the last frame, 1.3 s


# -- the in-flight limit (actionrec.pipeline.inflight) on real requests ------------------------------


def test_by_default_a_sample_arriving_while_the_encoder_is_busy_waits_in_a_second_request(held):
    """Sample 0's request is held: sample 1 goes to a second request, and only sample 2 is dropped.

    With one request (the latency hint's own number) sample 1 was dropped too.
    """
    guard = release_guard(held)
    try:
        with LiveRecognizer(held.models) as live:
            assert live.max_in_flight == 2  # nothing measured yet
            live.push(frame(0, 0.0, held.bgr))
            live.push(frame(1, 1 / 16, held.bgr))
            live.push(frame(2, 2 / 16))
            assert (live.samples_missing, live.samples_encoded) == (1, 0)
            held.log.release()
            wait_for(lambda: live.samples_encoded == 2, "samples 0 and 1")
        assert live.samples_missing == 1
    finally:
        guard.cancel()


def test_a_slow_encoder_measured_on_the_clock_is_held_to_one_request(held):
    """The recognizer's clock says each request took 0.25 s (over the 0.2 s budget): one in flight.

    Then a sample that arrives while the one request is busy (held) is dropped, not queued.
    """
    ticks = iter(range(0, 10**6, 250))  # ms: every clock reading 0.25 s after the one before
    guard = release_guard(held)
    try:
        with LiveRecognizer(held.models, clock=lambda: next(ticks) / 1000) as live:
            for i in range(4):
                push_and_settle(live, frame(i, i / 16), i + 1)
            assert live.in_flight_limit is not None and live.in_flight_limit.service_s >= 0.25
            assert live.max_in_flight == 1
            live.push(frame(4, 4 / 16, held.bgr))  # the one request stays busy with it
            live.push(frame(5, 5 / 16))
            assert (live.samples_missing, live.samples_encoded) == (1, 4)
            held.log.release()
            wait_for(lambda: resolved(live) == 6, "sample 4")
        assert live.samples_encoded == 5
    finally:
        guard.cancel()


def test_a_fixed_max_in_flight_is_kept_whatever_the_encoder_measures(models):
    with LiveRecognizer(models, max_in_flight=3) as live:
        assert live.in_flight_limit is None and live.max_in_flight == 3


def test_a_closed_live_recognizer_is_freed_with_its_requests(models):
    """As for files (test_stages): the request queue must not keep a finished live session alive."""
    import gc
    import weakref

    with LiveRecognizer(models) as live:
        for i in range(20):
            live.push(frame(i, i / 16))
    gone = weakref.ref(live)
    del live
    gc.collect()
    assert gone() is None, "the live recognizer outlived its session"


def test_the_request_limit_may_grow_to_the_plugins_optimal_number_when_it_is_larger(models):
    """A device that wants more requests than the default cap of 4 (a GPU's streams) may get them all.

    A CPU plugin here offers at most one request per core (2), so the device's number is stood in for:
    the same compiled models, reporting 6.
    """
    import dataclasses

    class SixRequests(type(models)):
        def optimal_requests(self) -> int:
            return 6

    wide = SixRequests(**{f.name: getattr(models, f.name) for f in dataclasses.fields(models)})
    with LiveRecognizer(wide) as live:
        assert live.in_flight_limit is not None and live.in_flight_limit.cap == 6
        assert live.max_in_flight == 2  # nothing measured yet: it starts at 2 whatever the cap
    with LiveRecognizer(models) as live:
        assert live.in_flight_limit.cap == 4 and live.max_in_flight == 2  # the default cap
