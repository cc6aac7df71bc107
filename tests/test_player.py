"""LivePlayer, kernel side: real-time pacing, Stop/Pause/interrupt, ack flow control (no browser)."""

from __future__ import annotations

import ast
import asyncio
import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from actionrec.models import compile_models, resolve_model
from actionrec.notebook.player import MAX_UNACKED, LivePlayer, PlaybackControls, PlaybackSettings, PlayerReport
from actionrec.notebook.player.playback import Playback
from actionrec.pipeline import RecognizerOptions
from actionrec.results import StageTimings
from actionrec.video import Frame
from tests.support.fake_time import FakeTime
from tests.support.videos import solid, switch

pytestmark = pytest.mark.timeout(60)
RED_BGR = (30, 30, 220)


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="LATENCY")


def fake_timed_player(models, *, real_sleep_ratio: float = 0.0, **kwargs) -> tuple[LivePlayer, FakeTime]:
    """A LivePlayer on injected time: its clock moves only while it sleeps (see FakeTime).

    Tests that check labels pass ``real_sleep_ratio=1.0``: the encoder then gets the real time
    between frames it gets in a real run (labels do not depend on the machine's load), while the
    clock the player paces by stays exact.
    """
    fake = FakeTime(real_sleep_ratio=real_sleep_ratio)
    return LivePlayer(models, clock=fake, sleep=fake.sleep, **kwargs), fake


class FakePage:
    """A browser showing the player: acks each frame ``delay_s`` of clock time later (``shown=False`` for ``drop``)."""

    def __init__(self, player: LivePlayer, fake: FakeTime, *, delay_s: float, drop: set[int] = frozenset()) -> None:
        self.view, self.fake, self.delay_s, self.drop = player.view, fake, delay_s, drop
        self.frames: list[bytes] = []
        self.max_in_flight = 0
        self.view.send = self.receive

    def receive(self, content: dict, buffers: list | None = None) -> None:
        seq = content["seq"]
        self.frames.append(bytes(buffers[0]))
        if self.view.front_end:  # before the first ack the player does not wait (it may be headless)
            self.max_in_flight = max(self.max_in_flight, len(self.view._sent_at))
        ack = {"type": "ack", "seq": seq, "shown": seq not in self.drop}
        self.fake.after(self.delay_s, lambda: self.view._on_page_msg(self.view, ack, []))


def test_a_file_plays_at_its_own_pace_with_labels(models, red_clip):
    player, fake = fake_timed_player(models, options=RecognizerOptions.live(top_k=2), real_sleep_ratio=1.0)
    report = asyncio.run(player.play(red_clip))
    print(report)
    assert report.stopped_by == "end"
    assert report.frames_source == 48
    # Paced by the clip's timestamps (47 frame intervals), not as fast as it can decode.
    assert fake.elapsed_s == pytest.approx(47 / 30, abs=1 / 30)
    assert report.wall_s == pytest.approx(47 / 30, abs=1e-6)
    assert report.shown_ratio == 1.0  # per-frame pacing: test_each_frame_of_a_variable_rate_file_...
    assert report.front_end is False  # headless: no acks, paced by source time
    assert "no front end: paced by source time" in report.summary()
    assert [p.label for p in report.predictions][:1] == ["red"]
    assert len(report.predictions[0].labels) == 2
    # Latency and refresh rate depend on how soon the encoder answers (real time): sane, not bounded.
    assert report.label_latency_s is not None and report.label_latency_s >= 0
    assert report.labels_per_s > 0
    assert "stopped (end of the video)" in player._status.value
    assert player.last_report is report


def test_max_seconds_bounds_source_time(models, red_clip):
    start = time.perf_counter()
    report = asyncio.run(LivePlayer(models, max_seconds=0.5).play(red_clip))  # the real clock and sleep
    elapsed = time.perf_counter() - start
    assert report.stopped_by == "max_seconds"
    assert report.frames_source == 15
    # The one wall-clock check of the player: a floor (14 frame intervals of the default real-time
    # pacing). Load only makes playback later, so a busy machine never misses it; it fails if the
    # default sleep or clock stops pacing.
    assert elapsed >= 14 / 30
    assert report.stage_ms.decode_ms > 0 and report.stage_ms.draw_ms > 0 and report.stage_ms.encoder_ms > 0


def test_stop_button_ends_playback_and_releases_the_source(models):
    released = []

    def frames():
        try:
            for i in range(300):  # 10 s if nobody stops it
                yield Frame(np.full((120, 160, 3), 200, np.uint8), i, i / 30)
        finally:
            released.append(True)

    player, fake = fake_timed_player(models)
    stop_enabled = []

    def press_stop() -> None:
        stop_enabled.append(not player._buttons["Stop"].disabled)
        player._buttons["Stop"].click()

    fake.at(0.5, press_stop)  # 0.5 s into playback
    report = asyncio.run(player.play(frames()))
    assert stop_enabled == [True]
    assert report.stopped_by == "stop"
    assert fake.elapsed_s < 0.5 + 2 / 30  # it stopped at once, not at the end of the 10 s source
    assert 15 <= report.frames_source <= 17  # frames 0..15 are due by 0.5 s (one more may be read)
    assert released == [True]
    assert "stopped (Stop pressed)" in player._status.value
    assert player._buttons["Stop"].disabled and player._buttons["Pause"].disabled


def test_a_kernel_interrupt_ends_cleanly(models, red_clip):
    player, fake = fake_timed_player(models)

    async def main():
        task = asyncio.create_task(player.play(red_clip))
        fake.at(0.4, task.cancel)  # what ipykernel does to an async cell on "Interrupt the kernel"
        return await task

    report = asyncio.run(main())
    assert report.stopped_by == "interrupt"
    assert 12 <= report.frames_source <= 14  # frames 0..12 are due by 0.4 s: it ended there
    assert player.last_report is report


def test_pause_holds_the_source_clock(models, red_clip):
    player, fake = fake_timed_player(models, max_seconds=0.8)
    seen: dict[str, object] = {}

    def look(name: str) -> None:
        seen[name] = (player.view._seq, player._status.value)

    fake.at(0.3, player._buttons["Pause"].click)
    fake.at(0.4, lambda: look("paused"))
    fake.at(0.9, lambda: look("still paused"))
    fake.at(0.9, player._buttons["Play"].click)  # resumes after 0.6 s of pause
    report = asyncio.run(player.play(red_clip))
    assert "paused at 00:00" in seen["paused"][1]
    assert seen["still paused"][0] == seen["paused"][0]  # nothing shown while paused
    assert report.stopped_by == "max_seconds"
    assert fake.elapsed_s >= 0.8 - 1 / 30 + 0.6  # source time + pause
    assert report.wall_s == pytest.approx(0.8 - 1 / 30, abs=1 / 30)  # pauses excluded
    assert report.shown_ratio == 1.0  # resuming does not count the paused time as lateness


class FakeBrowserCamera:
    """A LiveFrameSource like the notebook's BrowserCamera: async frames; its blocking frames() must not be used
    by the player (in a kernel it would wait for comm messages the blocked event loop never delivers).
    Frames come every 1/30 s of ``fake`` time, stamped with it (a camera's wall clock)."""

    def __init__(self, count: int, fake: FakeTime) -> None:
        self.count, self.fake, self.closed, self.blocking_calls = count, fake, False, 0

    @property
    def state(self) -> str:
        return "streaming"

    def frames(self):
        self.blocking_calls += 1
        raise AssertionError("the player used the blocking frames() of an async source")

    async def aframes(self):
        try:
            t0 = self.fake()
            for i in range(self.count):
                await self.fake.sleep(1 / 30)
                yield Frame(np.full((120, 160, 3), (220, 30, 30), np.uint8), i, self.fake() - t0)
        finally:
            self.closed = True


def test_the_browser_camera_itself_plays_through_the_one_source_path(models):
    player, fake = fake_timed_player(
        models, options=RecognizerOptions.live(window_s=0.5, stride_s=0.25), real_sleep_ratio=1.0
    )
    camera = FakeBrowserCamera(24, fake)
    report = asyncio.run(player.play(camera))
    assert report.stopped_by == "end" and report.frames_source == 24
    assert report.source == "FakeBrowserCamera" and report.predictions[0].label == "blue"
    assert camera.blocking_calls == 0 and camera.closed


def test_async_frames_like_the_browser_camera(models):
    closed = []

    player, fake = fake_timed_player(
        models, options=RecognizerOptions.live(window_s=0.5, stride_s=0.25), real_sleep_ratio=1.0
    )

    async def camera():
        try:
            t0 = fake()
            for i in range(24):
                await fake.sleep(1 / 30)  # a 30 fps camera, on the player's injected clock
                yield Frame(np.full((120, 160, 3), (220, 30, 30), np.uint8), i, fake() - t0)
        finally:
            closed.append(True)

    report = asyncio.run(player.play(camera()))
    assert report.stopped_by == "end" and report.frames_source == 24
    assert report.frames_shown == report.frames_shown_on_time == 24  # each sent as it arrives
    assert report.predictions and report.predictions[0].label == "blue"
    assert closed == [True]


def test_acks_limit_frames_in_flight_and_late_frames_are_skipped(models, red_clip):
    player, fake = fake_timed_player(models, width_px=160)
    page = FakePage(player, fake, delay_s=0.1)  # a slow browser: acks 0.1 s after each frame
    report = asyncio.run(player.play(red_clip))
    assert report.front_end is True
    assert page.max_in_flight == MAX_UNACKED  # it reached the limit and never passed it
    assert player.view.max_unacked == page.max_in_flight  # what the view reports (read by the UI test)
    assert report.frames_shown + bool(report.windows_after_end) == len(page.frames)  # + the last labels' repaint
    # At most MAX_UNACKED frames per 0.1 s: the rest are skipped to keep the source pace instead of lagging.
    assert 8 <= report.frames_shown <= 36 and report.frames_skipped_for_browser >= 48 - 36
    assert fake.elapsed_s < 1.6 + 0.1  # it did not fall behind the source
    assert report.stopped_by == "end"
    image = cv2.imdecode(np.frombuffer(page.frames[-1], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (120, 160, 3)  # downscaled to width_px before drawing and JPEG


def test_a_prompt_browser_sees_every_frame(models, red_clip):
    player, fake = fake_timed_player(models, real_sleep_ratio=1.0)
    page = FakePage(player, fake, delay_s=0.005, drop={10, 11})  # the page replaced two frames
    report = asyncio.run(player.play(red_clip))
    assert report.front_end is True
    assert "no front end" not in report.summary()
    assert len(page.frames) >= 40
    assert report.frames_shown + bool(report.windows_after_end) == len(page.frames) - 2  # replaced: not shown
    labelled = cv2.imdecode(np.frombuffer(page.frames[-1], np.uint8), cv2.IMREAD_COLOR)
    placeholder = cv2.imdecode(np.frombuffer(page.frames[0], np.uint8), cv2.IMREAD_COLOR)
    assert labelled.shape == (240, 320, 3)
    assert np.abs(labelled.astype(int) - placeholder.astype(int)).max() > 100  # labels drawn over the frame


def test_play_button_replays_a_file(models, red_clip):
    player, _fake = fake_timed_player(models, max_seconds=0.3)
    assert player._buttons["Play"].disabled  # nothing to replay yet

    async def main():
        first = await player.play(red_clip)
        assert not player._buttons["Play"].disabled
        player._buttons["Play"].click()
        for _ in range(200):
            await asyncio.sleep(0.02)
            if player.last_report is not first:
                return first, player.last_report
        raise AssertionError("Play did not start a new playback")

    first, second = asyncio.run(main())
    assert second.stopped_by == "max_seconds" and second.frames_source == first.frames_source == 9


def test_playing_twice_at_once_is_refused(models, red_clip):
    player, _fake = fake_timed_player(models, max_seconds=0.3)

    async def main():
        task = asyncio.create_task(player.play(red_clip))
        await asyncio.sleep(0)  # the task starts: play() marks the player busy before its first await
        with pytest.raises(RuntimeError, match="already playing; press Stop"):
            await player.play(red_clip)
        return await task

    assert asyncio.run(main()).stopped_by == "max_seconds"


def test_a_missing_file_is_reported(models, tmp_path):
    from actionrec.errors import VideoOpenError

    player = LivePlayer(models)
    with pytest.raises(VideoOpenError, match="no such file"):
        asyncio.run(player.play(tmp_path / "missing.mp4"))
    assert player._status.value.startswith("error: VideoOpenError: no such file")
    assert not player._buttons["Play"].disabled  # a path can be played again


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"threshold": 1.5}, r"threshold=1.5 is not a probability; valid: 0..1"),
        ({"jpeg_quality": 101}, r"jpeg_quality=101 is out of range; valid: 1..100"),
        ({"max_seconds": 0}, r"max_seconds=0 must be > 0 seconds, or None"),
    ],
)
def test_options_are_checked(models, option, match):
    with pytest.raises(ValueError, match=match):
        LivePlayer(models, **option)


def test_report_is_validated_and_summarised():
    fields = {
        "source": "/x/clip.mp4",
        "frames_source": 100,
        "frames_shown": 98,
        "frames_shown_on_time": 97,
        "predictions": (),
        "label_latency_s": 0.31,
        "label_latency_p95_s": 0.4,
        "labels_per_s": 2.0,
        "stopped_by": "stop",
        "front_end": True,
        "stage_ms": StageTimings(),
        "wall_s": 3.3,
    }
    report = PlayerReport(**fields)
    assert report.shown_ratio == 0.97
    assert str(report) == (
        "clip.mp4: 97/100 frames shown on time (97.0%), 0 labels (refreshed 2.0/s), "
        "label latency 0.31 s mean, 0.40 s p95; stopped by Stop pressed"
    )
    latency = "label latency 0.31 s mean, 0.40 s p95"
    figures = f"clip.mp4: 97/100 frames shown on time (97.0%), 0 labels (refreshed 2.0/s), {latency}"
    assert report.figures() == figures
    assert report.status_line() == f"stopped (Stop pressed): {figures}"
    headless = PlayerReport(**{**fields, "front_end": False, "stopped_by": "end", "label_latency_s": None})
    assert headless.status_line() == (
        "stopped (end of the video): clip.mp4: 97/100 frames shown on time (97.0%), 0 labels (refreshed 2.0/s), "
        "no label yet; no front end: paced by source time"
    )
    with pytest.raises(ValueError, match="stopped_by must be one of"):
        PlayerReport(**{**fields, "stopped_by": "tired"})
    with pytest.raises(ValueError, match="frames_shown_on_time <= frames_shown <= frames_source"):
        PlayerReport(**{**fields, "frames_shown": 101})


def test_the_report_says_how_many_windows_missed_samples():
    from actionrec.results import Prediction

    def window(i, missing):
        return Prediction(i, i * 0.5, i * 0.5 + 1, ("red",), (0.9,), (2,), missing=missing)

    fields = {
        "source": "camera 0",
        "frames_source": 100,
        "frames_shown": 100,
        "frames_shown_on_time": 100,
        "label_latency_s": 0.2,
        "label_latency_p95_s": 0.3,
        "labels_per_s": 2.0,
        "stopped_by": "end",
        "front_end": True,
        "stage_ms": StageTimings(),
        "wall_s": 3.3,
    }
    clean = PlayerReport(**fields, predictions=tuple(window(i, 0) for i in range(4)))
    assert (clean.windows_with_missing, clean.sample_slots_missing) == (0, 0)
    assert "missed" not in clean.figures()  # no drop: the windows a file analysis gives
    dropped = PlayerReport(**fields, predictions=(window(0, 0), window(1, 3), window(2, 2), window(3, 0)))
    assert (dropped.windows_with_missing, dropped.sample_slots_missing) == (2, 5)
    assert dropped.figures().endswith(", 2 of 4 windows missed samples (5 sample slots)")
    assert "2 of 4 windows missed samples" in dropped.status_line()


class FakeSink:
    """The narrow view a playback is handed: always ready, in view, keeps the JPEGs, acks nothing."""

    acks = 0
    in_view = True

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def ready(self) -> bool:
        return True

    def send_frame(self, jpeg: bytes) -> int:
        self.frames.append(jpeg)
        return len(self.frames) - 1

    def take_not_shown(self) -> list[int]:
        return []


def _settings(models, *, clock, sleep, width_px=160) -> PlaybackSettings:
    options = RecognizerOptions.live()
    return PlaybackSettings(
        models=models,
        options=options,
        grid=options.grid(clip_len=models.clip_len),
        threshold=0.0,
        max_seconds=None,
        width_px=width_px,
        jpeg_quality=80,
        clock=clock,
        sleep=sleep,
    )


def test_playback_runs_on_narrow_controls_without_a_player(models, red_clip):
    stop, sink, status = threading.Event(), FakeSink(), []

    def show(text: str) -> None:
        status.append(text)
        if len(sink.frames) >= 36:  # press Stop from the status line, as a button would
            stop.set()

    controls = PlaybackControls(stop=stop, paused=threading.Event(), show=show, view=sink)
    fake = FakeTime(real_sleep_ratio=1.0)  # every frame is on time: Stop comes at the status line after the 36th
    settings = _settings(models, clock=fake, sleep=fake.sleep)
    report = asyncio.run(Playback(red_clip, settings=settings, controls=controls).run())
    assert report.stopped_by == "stop" and 36 <= report.frames_source < 48
    assert report.frames_shown == len(sink.frames) and report.front_end is False  # stopped: no repaint
    assert status[0] == "playing red_30fps.mp4: collecting frames..."
    assert report.predictions and all(p.crop_xywh == (40, 0, 240, 240) for p in report.predictions)
    image = cv2.imdecode(np.frombuffer(sink.frames[-1], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (120, 160, 3)


# A variable-rate clip: 30 fps bursts around a 4 fps stretch and a 0.57 s hole. No constant rate
# paces it: a player stepping by 1/fps sends the frames after the slow stretch early.
VFR_TIMES_S = (
    [i / 30 for i in range(10)]
    + [0.3 + 0.25 * i for i in range(1, 5)]
    + [1.3 + i / 30 for i in range(1, 11)]
    + [2.2 + i / 30 for i in range(6)]
)
MIN_GAP_S = min(b - a for a, b in itertools.pairwise(VFR_TIMES_S))


class TimedSink(FakeSink):
    """A :class:`FakeSink` that records the clock when each frame is sent."""

    def __init__(self, clock) -> None:
        super().__init__()
        self.clock, self.sent_at = clock, []

    def send_frame(self, jpeg: bytes) -> int:
        self.sent_at.append(self.clock())
        return super().send_frame(jpeg)


def test_each_frame_of_a_variable_rate_file_is_sent_at_its_source_time_never_early(models, video_factory):
    clip = video_factory("player_vfr.mp4", timestamps_s=VFR_TIMES_S, paint=solid(RED_BGR))
    fake = FakeTime()  # the clock moves only while the player sleeps: work costs no clock time
    sink = TimedSink(fake)
    controls = PlaybackControls(stop=threading.Event(), paused=threading.Event(), show=lambda _t: None, view=sink)
    settings = _settings(models, clock=fake, sleep=fake.sleep)
    report = asyncio.run(Playback(clip, settings=settings, controls=controls).run())
    assert report.stopped_by == "end" and report.frames_source == len(VFR_TIMES_S)
    assert len(sink.sent_at) == report.frames_shown == report.frames_shown_on_time == len(VFR_TIMES_S)
    # Frame i is due at (first frame sent) + (t_i - t_0): the source's own timestamps.
    due = [sink.sent_at[0] + t - VFR_TIMES_S[0] for t in VFR_TIMES_S]
    offsets = [round(sent - d, 6) for sent, d in zip(sink.sent_at, due, strict=True)]
    early = [(i, off) for i, off in enumerate(offsets) if off < 0]
    late = [(i, off) for i, off in enumerate(offsets) if off >= MIN_GAP_S]
    assert early == [], f"frames sent before their source time (index, seconds): {early}"
    assert late == [], f"frames sent a frame interval or more after their source time: {late}"
    assert report.wall_s == pytest.approx(VFR_TIMES_S[-1] - VFR_TIMES_S[0], abs=MIN_GAP_S)


class ScrollingSink(TimedSink):
    """A :class:`TimedSink` whose page says no view is on screen from ``away_s`` until ``back_s``
    (seconds of the injected clock after the first frame sent; ``None``: never back)."""

    def __init__(self, clock, *, away_s: float, back_s: float | None) -> None:
        super().__init__(clock)
        self.away_s, self.back_s = away_s, back_s

    @property
    def in_view(self) -> bool:
        if not self.sent_at:
            return True
        t = self.clock() - self.sent_at[0]
        return not (self.away_s <= t and (self.back_s is None or t < self.back_s))


def _play_scrolled(models, clip, **sink_kwargs):
    fake = FakeTime(real_sleep_ratio=1.0)  # labels need the encoder's real time between frames
    sink = ScrollingSink(fake, **sink_kwargs)
    controls = PlaybackControls(stop=threading.Event(), paused=threading.Event(), show=lambda _t: None, view=sink)
    settings = _settings(models, clock=fake, sleep=fake.sleep)
    return asyncio.run(Playback(clip, settings=settings, controls=controls).run()), sink


def test_frames_nobody_can_see_are_neither_drawn_nor_sent_and_the_source_keeps_its_pace(models, video_factory):
    clip = video_factory("player_scrolled.mp4", fps=30, duration_s=3.0, size_wh=(320, 240), paint=solid(RED_BGR))
    report, sink = _play_scrolled(models, clip, away_s=1.0, back_s=2.0)
    assert report.stopped_by == "end" and report.frames_source == 90
    offsets = [t - sink.sent_at[0] for t in sink.sent_at]
    assert not [o for o in offsets if 1.0 + 1e-6 < o < 2.0 - 1e-6], "frames were sent while out of view"
    assert 28 <= report.frames_out_of_view <= 31  # about the second of source time away
    assert report.frames_shown == report.frames_in_view == report.frames_source - report.frames_out_of_view
    assert len(sink.frames) == report.frames_shown + (report.windows_after_end > 0)  # + the end's repaint
    assert report.frames_shown_on_time == report.frames_in_view  # every frame on screen was on time
    assert report.shown_ratio == report.frames_shown_on_time / 90  # not shown counts as not shown
    assert report.front_end  # a page that says the player is out of view is a front end
    assert offsets[report.frames_shown - 1] == pytest.approx(89 / 30, abs=1e-6)  # the hidden second took a second
    ratio = f"{report.shown_ratio:.1%}"
    assert f"{report.frames_shown_on_time}/90 frames shown on time ({ratio}) " in report.figures()
    assert f"({report.frames_out_of_view} not drawn: out of view)" in report.figures()
    assert report.predictions  # recognition went on out of view
    assert report.labels_per_s == pytest.approx(2.0, rel=0.1)  # refreshed twice a second on screen


def test_a_source_that_ends_out_of_view_leaves_its_last_frame_drawn_for_a_view_scrolled_back(models, video_factory):
    blue = (220, 30, 30)
    paint = switch(RED_BGR, blue, at_s=1.0)  # red while in view, blue after it went out of view
    clip = video_factory("player_away.mp4", fps=30, duration_s=2.0, size_wh=(320, 240), paint=paint)
    report, sink = _play_scrolled(models, clip, away_s=0.5, back_s=None)
    assert report.frames_out_of_view == report.frames_source - report.frames_shown > 40
    # one repaint after the end (not a frame shown): the last frame read, not the last one drawn
    assert len(sink.frames) == report.frames_shown + 1
    first, last = (cv2.imdecode(np.frombuffer(sink.frames[i], np.uint8), cv2.IMREAD_COLOR) for i in (0, -1))
    assert last.shape == (120, 160, 3)
    corner = (slice(108, 118), slice(145, 158))  # right of the crop, below the stats: no panel there
    assert np.abs(first[corner].mean(axis=(0, 1)) - RED_BGR).max() < 20
    assert np.abs(last[corner].mean(axis=(0, 1)) - blue).max() < 20, "the repaint is not the source's last frame"
    # its windows all completed out of view (the first after 1 s): seen by nobody, no latency made up
    assert report.predictions and report.label_latency_s is None and report.label_latency_p95_s is None


def test_the_player_s_view_follows_what_its_page_says_of_being_on_screen(models, video_factory):
    clip = video_factory("player_view_msgs.mp4", fps=30, duration_s=2.0, size_wh=(320, 240), paint=solid(RED_BGR))
    player, fake = fake_timed_player(models, real_sleep_ratio=1.0)
    page = FakePage(player, fake, delay_s=0.01)
    view = player.view
    say = lambda content: lambda: view._on_page_msg(view, content, [])  # noqa: E731
    fake.after(0.5, say({"type": "view", "in_view": False}))  # scrolled away
    fake.after(0.7, say({"type": "view", "in_view": "no"}))  # not from our page: ignored
    fake.after(0.7, say({"type": "view"}))
    fake.after(1.2, say({"type": "view", "in_view": True}))  # and back
    report = asyncio.run(player.play(clip))
    assert view.in_view is True and report.front_end
    assert 19 <= report.frames_out_of_view <= 23  # 0.7 s away at 30 fps (21 frames), give or take a frame each end
    assert len(page.frames) == report.frames_shown + (report.windows_after_end > 0)
    assert report.frames_shown == report.frames_in_view == report.frames_source - report.frames_out_of_view


def test_the_kernel_draws_while_any_page_shows_the_player():
    """Pages are told apart by their id: a reloaded page or a second tab never leaves it believing nobody looks."""
    from actionrec.notebook.player.view import FrameView

    view = FrameView()
    say = lambda page, seen: view._on_page_msg(view, {"type": "view", "in_view": seen, "page": page}, [])  # noqa: E731
    assert view.in_view  # no page has said anything
    say("tab-a", False)
    assert not view.in_view
    say("tab-b", True)  # a second tab shows it
    assert view.in_view
    say("tab-b", False)
    assert not view.in_view
    say("tab-a-reloaded", True)  # the first tab reloaded: its new page says what it sees at once
    assert view.in_view
    say("tab-c", False)  # a third tab in the background: the reloaded one still shows it
    assert view.in_view


def test_the_frame_loop_never_reaches_into_the_player():
    player_dir = Path(__file__).resolve().parent.parent / "actionrec" / "notebook" / "player"
    tree = ast.parse((player_dir / "playback.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"widget", "view"}, "playback.py must not import the widget or the canvas"
    for name in ("playback.py", "widget.py", "report.py", "view.py"):
        tree = ast.parse((player_dir / name).read_text(encoding="utf-8"))
        reached = [
            f"{name}:{n.lineno}: .{n.attr}"
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute)
            and n.attr.startswith("_")
            and not n.attr.startswith("__")
            and not (isinstance(n.value, ast.Name) and n.value.id in ("self", "cls"))
        ]
        assert not reached, f"private members of another object: {reached}"


def test_windows_that_complete_after_the_source_ends_are_reported_and_drawn(models, red_clip, monkeypatch):
    """On a busy CPU the last (or only) windows of a clip resolve after its last frame was shown.

    The recognizer here hands out no window until it was closed (the encoder requests of the last
    samples still running when the source ended): the player waits for them, reports them, and
    repaints the last frame with their labels, so the canvas does not end without a label.
    """
    from actionrec.notebook.player import playback as pb
    from actionrec.render import TOP_BAR_BGR

    class LateRecognizer(pb.LiveRecognizer):
        closed = False

        def poll_all(self):
            return super().poll_all() if self.closed else ()

        def close(self):
            super().close()
            self.closed = True

    monkeypatch.setattr(pb, "LiveRecognizer", LateRecognizer)
    sink = FakeSink()
    controls = PlaybackControls(stop=threading.Event(), paused=threading.Event(), show=lambda text: None, view=sink)
    fake = FakeTime(real_sleep_ratio=1.0)
    report = asyncio.run(
        Playback(red_clip, settings=_settings(models, clock=fake, sleep=fake.sleep), controls=controls).run()
    )
    assert report.stopped_by == "end"
    assert report.predictions and {p.labels[0] for p in report.predictions} == {"red"}
    assert report.windows_after_end == len(report.predictions)  # every window came after the end here
    assert report.frames_shown == len(sink.frames) - 1  # the repaint is not a frame of the source
    before, last = (cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_COLOR) for f in sink.frames[-2:])
    bar = (np.abs(last.astype(int) - TOP_BAR_BGR).max(axis=2) <= 30).sum()
    assert bar > 50 and (np.abs(before.astype(int) - TOP_BAR_BGR).max(axis=2) <= 30).sum() == 0
