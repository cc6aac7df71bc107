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


def expected_window_probs(models, times, bgr, *, stride_s):
    """Independent of the recognizer: each oracle window's frames through the encoder, then the decoder."""
    embedding = {}  # frame index -> its embedding, each frame encoded on its own
    out = []
    for w in oracle_windows(times, window_s=1.0, clip_len=16, stride_s=stride_s):
        for i in set(w["frames"]) - embedding.keys():
            crop = preprocess(frame(i, times[i], bgr(i, times[i])).image_bgr).tensor
            embedding[i] = models.encoder(crop)[0].reshape(-1)
        emb = np.stack([embedding[i] for i in w["frames"]])
        out.append(softmax64(models.decoder(emb[None])[0]))
    return out


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
            assert held.log.held == 1 and held.log.completed == []  # never more in flight than allowed
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


@pytest.mark.parametrize("smoothing", [1, 3])
def test_a_file_played_live_with_no_drops_gives_the_file_analysis_windows_and_probabilities(
    models, video_factory, smoothing
):
    """Live and file agree: same windows, same probabilities (float tolerance) on the same decoded frames.

    Live smoothing is trailing (the last n windows), the file's is centred: both are recomputed from
    the file's unsmoothed probabilities and compared, so neither side is its own reference.
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
    with LiveRecognizer(models, options=options) as live:
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
