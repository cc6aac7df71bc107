"""Video sources: files, VFR, rotation, damaged and bad inputs, URLs, folders, iterables, cameras.

The oracle is what the synthetic videos were written with: every frame carries its index as a
barcode (``read_stamp``) and its presentation time is known exactly. No camera, network or
../shared needed: cameras are fake capture objects, URLs a local server.
"""

import io
import itertools
import re
import shutil
import struct
import threading
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from actionrec import settings
from actionrec.errors import UploadError, VideoDecodeError, VideoOpenError
from actionrec.video import (
    Frame,
    LiveFrameSource,
    ResolvedSource,
    VideoInfo,
    aopen_video,
    open_video,
    resolve_source,
)
from actionrec.video import live as video_live
from tests.support.captures import Capture
from tests.support.videos import make_raw_h264, read_stamp, set_rotation, stamp

pytestmark = pytest.mark.timeout(60)

VFR_S = [0.0, 0.03, 0.1, 0.12, 0.3, 0.31, 0.5, 0.9, 0.933]


def decode_all(source, **kw):
    with open_video(source, **kw) as video:
        frames = list(video)
    return video, frames


def assert_exact(frames, times_s):
    """Every written frame once, in order, with its own index and timestamp (1 ms)."""
    assert [f.index for f in frames] == list(range(len(times_s)))
    assert [read_stamp(f.image_bgr) for f in frames] == list(range(len(times_s)))
    assert np.allclose([f.timestamp_s for f in frames], times_s, atol=1e-3)


def factory_of(made, **kw):
    def factory(path):
        made.append(Capture(path, **kw))
        return made[-1]

    return factory


@pytest.mark.parametrize(
    ("name", "fps", "codec", "count"),
    [
        ("f10.mp4", 10, "libx264", 10),
        ("f25.mkv", 25, "libx264", None),
        ("f30.avi", 30, "mpeg4", 30),
        ("f60.webm", 60, "libvpx-vp9", None),
    ],
)
def test_constant_rate_files_yield_every_frame_once_with_container_times(video_factory, name, fps, codec, count):
    n = 30 if fps != 10 else 10
    video, frames = decode_all(video_factory(name, fps=fps, duration_s=n / fps, codec=codec))
    assert_exact(frames, [i / fps for i in range(n)])
    assert (video.info.size_wh, video.info.fps, video.info.frame_count) == ((320, 240), pytest.approx(fps), count)
    assert video.info.duration_s == pytest.approx(n / fps, abs=0.02) and not video.info.is_live
    assert (video.stats.frames_decoded, video.stats.timestamp_fallbacks, video.stats.warnings) == (n, 0, [])


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_variable_rate_timestamps_are_the_written_ones(video_factory, suffix):
    video, frames = decode_all(video_factory(f"vfr{suffix}", timestamps_s=VFR_S))
    assert_exact(frames, VFR_S)
    # OpenCV says 28 frames for the MKV (duration x nominal fps): not trustworthy, so not reported
    assert video.info.frame_count == (len(VFR_S) if suffix == ".mp4" else None)


@pytest.mark.parametrize("degrees", [90, 180, 270])
@pytest.mark.parametrize("decoder", ["opencv", "pyav"])
def test_rotation_metadata_gives_upright_frames(video_factory, tmp_path, degrees, decoder):
    plain = video_factory("rot_plain.mp4", fps=10, duration_s=0.3, size_wh=(320, 240))
    rotated = set_rotation(Path(shutil.copy(plain, tmp_path / "rot.mp4")), degrees)
    factory = factory_of([], opened=False) if decoder == "pyav" else None
    video, frames = decode_all(rotated, capture_factory=factory)
    upright = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[degrees]
    _, reference = decode_all(plain)
    assert video.info.rotation_deg == degrees
    assert video.info.size_wh == ((240, 320) if degrees != 180 else (320, 240))
    for got, ref in zip(frames, reference, strict=True):
        assert got.image_bgr.shape == cv2.rotate(ref.image_bgr, upright).shape
        assert np.abs(got.image_bgr.astype(int) - cv2.rotate(ref.image_bgr, upright)).mean() < 2


def test_invalid_timestamps_fall_back_to_previous_plus_one_frame(video_factory):
    path = video_factory("ts.mp4", fps=10, duration_s=0.6)
    # like the XVID AVI's last frame (0.0), plus a NaN, a repeat and a garbage value
    times_ms = [0.0, 100.0, float("nan"), 300.0, 300.0, 1e17]
    video, frames = decode_all(path, capture_factory=factory_of([], times_ms=times_ms))
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert video.stats.timestamp_fallbacks == 3
    assert video.stats.warnings == [
        f"{path}: frame 2 has an invalid timestamp (nan s after 0.100 s); replaced by the previous + 1/fps "
        "(100.0 ms), as are any later ones (count in timestamp_fallbacks)"
    ]


def test_opencv_stopping_early_is_continued_with_pyav(video_factory):
    path = video_factory("early.mp4", fps=25, duration_s=2.0)
    made = []
    video, frames = decode_all(path, capture_factory=factory_of(made, stop_after=17))
    assert_exact(frames, [i / 25 for i in range(50)])
    assert video.stats.warnings == [f"{path}: OpenCV stopped after 17 frames at 0.64 s; PyAV decoded 33 more"]
    assert (video.stats.frames_corrupt, video.stats.truncated) == (0, False)
    assert made[0].releases >= 1


def test_file_opencv_cannot_open_is_decoded_with_pyav(video_factory):
    path = video_factory("pyav.mkv", timestamps_s=VFR_S)
    video, frames = decode_all(path, capture_factory=factory_of([], opened=False))
    assert_exact(frames, VFR_S)
    assert video.stats.warnings == [f"OpenCV cannot open {path}; decoding it with PyAV instead (slower)"]


def test_truncated_file_decodes_what_is_there_and_says_so(video_factory, tmp_path):
    data = video_factory("whole.mkv", fps=10, duration_s=3.0).read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    video, frames = decode_all(cut)
    assert 10 <= len(frames) < 30 and [f.index for f in frames] == [read_stamp(f.image_bgr) for f in frames]
    assert video.stats.truncated and video.info.duration_s == pytest.approx(3.0)
    assert re.fullmatch(
        rf"{cut} is truncated: its packets end at 1\.\d\d s but the container says 3\.00 s \(an interrupted "
        rf"download, copy or recording\); {len(frames)} frames decoded and analysed\. "
        "Get the complete file for the rest",
        video.stats.warnings[-1],
    )


def cut_inside_packet(path: Path, out: Path, n: int) -> Path:
    """``path`` cut one byte before the end of its ``n``-th video packet (a copy interrupted there)."""
    import av

    with av.open(str(path)) as container:
        ends = [p.pos + p.size for p in container.demux(video=0) if p.size]
    out.write_bytes(path.read_bytes()[: ends[n - 1] - 1])
    return out


@pytest.mark.parametrize(
    ("fps", "duration_s", "kept", "truncated"),
    [
        (2, 5.0, 1, True),  # packets end at 0.5 s of 5 s
        (2, 5.0, 7, True),  # they end at 3.5 s: more than two frames (1 s) short of the end
        (2, 5.0, 8, False),  # at 4.0 s: exactly two frames short is within the tolerance
        (10, 5.0, 22, True),  # at 4.4 s of 5 s: at 10 frames/s the tolerance is 0.25 s
        (10, 1.0, 5, True),  # at 0.5 s of 1 s: a short file
    ],
)
@pytest.mark.parametrize("decoder", ["opencv", "pyav"])
def test_a_file_is_truncated_when_its_packets_end_over_two_frames_early(
    video_factory, tmp_path, fps, duration_s, kept, truncated, decoder
):
    whole = video_factory(f"f{fps}-{duration_s:g}s.mkv", fps=fps, duration_s=duration_s)
    cut = cut_inside_packet(whole, tmp_path / f"cut{kept}.mkv", kept + 1)  # the packets before it remain
    factory = factory_of([], opened=decoder == "opencv")
    video, frames = decode_all(cut, capture_factory=factory)
    assert [f.index for f in frames] == [read_stamp(f.image_bgr) for f in frames] == list(range(len(frames)))
    if decoder == "opencv" and not truncated:
        return  # OpenCV reached what the tolerance calls the end: PyAV is not asked (no verdict)
    assert video.stats.truncated is truncated
    says = [w for w in video.stats.warnings if "is truncated" in w]
    assert says == (
        [
            f"{cut} is truncated: its packets end at {kept / fps:.2f} s but the container says {duration_s:.2f} s (an "
            f"interrupted download, copy or recording); {len(frames)} frames decoded and analysed. Get the "
            "complete file for the rest"
        ]
        if truncated
        else []
    )


@pytest.mark.parametrize(
    ("cv_fps", "fps", "frame_count"),
    [
        (25.0, 25.0, 50),  # OpenCV's rate, and the stored count agreeing with 2 s x 25
        (12.5, 12.5, None),  # OpenCV's rate wins over the container's; 2 s x 12.5 = 25 is far from 50: dropped
        (0.0, 25.0, 50),  # OpenCV has no rate: the container's
        (1000.0, 25.0, 50),  # nor one up to 1000 frames/s
        (26.5, 26.5, 50),  # 53 expected, 50 stored: within 10 % of the count (5 frames)
        (27.6, 27.6, None),  # 55.2 expected: more than 5 frames off
    ],
)
def test_frame_rate_and_count_are_kept_only_when_plausible(video_factory, cv_fps, fps, frame_count):
    path = video_factory("f25-2s.mp4", fps=25, duration_s=2.0)
    with open_video(path, capture_factory=factory_of([], fps=cv_fps)) as video:
        assert (video.info.fps, video.info.frame_count, video.info.duration_s) == (fps, frame_count, 2.0)


@pytest.mark.parametrize(("cv_fps", "frame_count"), [(12.0, 10), (13.0, None)])
def test_a_short_files_count_may_be_two_frames_off(video_factory, cv_fps, frame_count):
    path = video_factory("f10.mp4", fps=10, duration_s=1.0)
    with open_video(path, capture_factory=factory_of([], fps=cv_fps)) as video:
        assert video.info.frame_count == frame_count


def test_a_one_frame_file_has_a_frame_count_of_one(video_factory):
    video, frames = decode_all(video_factory("one.mp4", fps=10, duration_s=0.1))
    assert len(frames) == 1 and video.info.frame_count == 1


@pytest.mark.parametrize("capture", [{}, {"stop_after": 3}], ids=["opencv", "opencv-then-pyav"])
@pytest.mark.parametrize(
    ("suffix", "duration_s"),
    [(".mp4", 1.0), (".mkv", 2.0)],  # MKV states only the container's duration (the longer sound's)
)
def test_a_video_track_shorter_than_its_sound_is_not_truncated(tmp_path, capture, suffix, duration_s):
    import av

    path = tmp_path / f"talk{suffix}"
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("aac", rate=8000)
        for i in range(10):
            container.mux(video.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), "bgr24")))
        container.mux(video.encode())
        for i in range(16):  # 2 s of sound
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, i * 1024
            container.mux(sound.encode(frame))
        container.mux(sound.encode())
    video, frames = decode_all(path, capture_factory=factory_of([], **capture))
    assert len(frames) == 10 and video.info.duration_s == pytest.approx(duration_s, abs=0.2)  # AAC pads its end
    assert not video.stats.truncated and not [w for w in video.stats.warnings if "truncated" in w]


def test_a_container_duration_is_read_in_seconds(video_factory):
    # MKV states no per-track duration: the container's (in microseconds) is the one
    video, _ = decode_all(video_factory("f25-1s.mkv", fps=25, duration_s=1.0))
    assert video.info.duration_s == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("size_wh", "n"), [((16, 16), 3), ((7680, 4320), 2)])
def test_tiny_and_8k_frames_decode(video_factory, size_wh, n):
    path = video_factory(f"size{size_wh[0]}.mp4", fps=10, duration_s=n / 10, size_wh=size_wh, stamp_index=n == 2)
    video, frames = decode_all(path)
    assert video.info.size_wh == size_wh and len(frames) == n
    assert frames[0].image_bgr.shape == (size_wh[1], size_wh[0], 3)


def test_path_with_spaces_and_non_ascii_characters(video_factory, tmp_path):
    folder = tmp_path / "mes vidéos ü 视频"
    folder.mkdir()
    path = Path(shutil.copy(video_factory("f10.mp4", fps=10, duration_s=1.0), folder / "clip été 1.mp4"))
    video, frames = decode_all(str(path))
    assert video.info.source == str(path) and len(frames) == 10


@pytest.mark.parametrize(
    "capture", [{}, {"opened": False}, {"stop_after": 2}], ids=["opencv", "pyav", "opencv-then-pyav"]
)
def test_a_file_whose_metadata_is_not_utf8_opens(tmp_path, capture):
    # Found by tests/test_fuzz_video.py: old AVI/MKV tools store Latin-1 tags (an "é" as one byte
    # 0xE9); PyAV decoded them strictly and open_video raised a bare UnicodeDecodeError.
    import av

    path = tmp_path / "latin1.mkv"
    with av.open(str(path), "w") as container:
        container.metadata["title"] = "caf-MARK"
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), "bgr24")))
        container.mux(stream.encode())
    data = path.read_bytes()
    assert data.count(b"MARK") == 1
    path.write_bytes(data.replace(b"MARK", b"\xe9\xe9\xe9\xe9"))
    video, frames = decode_all(path, capture_factory=factory_of([], **capture))
    assert len(frames) == 5 and video.info.duration_s == pytest.approx(0.5, abs=0.11)


def test_a_file_with_a_data_stream_opens(tmp_path):
    # Found by tests/test_fuzz_video.py (a MOV cut inside its index leaves a "data" track): a stream
    # PyAV has no decoder for has no codec context, and reading the container's facts raised a bare
    # AttributeError. Real files carry such streams too (KLV telemetry in drone footage, in MPEG-TS).
    import av

    path = tmp_path / "klv.ts"
    with av.open(str(path), "w", format="mpegts") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        data = container.add_data_stream()
        for i in range(5):
            container.mux(video.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), "bgr24")))
            packet = av.Packet(b"klv")
            packet.stream, packet.pts, packet.dts, packet.time_base = data, i, i, video.time_base
            container.mux(packet)
        container.mux(video.encode())
    video, frames = decode_all(path)
    assert len(frames) == 5 and video.info.size_wh == (64, 48)


def test_a_raw_h264_stream_that_cannot_seek_decodes_to_its_end(tmp_path):
    # Found by tests/test_fuzz_video.py: a raw elementary stream (a Raspberry Pi camera's .h264)
    # states no length, so PyAV looks past OpenCV's last frame; such a stream refuses every seek,
    # even to 0, and the fallback seek(0) raised a bare av.error.PermissionError after the frames.

    path = make_raw_h264(tmp_path / "camera.h264", frames=20, grey_step=10)
    video, frames = decode_all(path)
    assert len(frames) == 20 and video.stats.frames_corrupt == 0 and not video.stats.truncated


def write_image(path: Path, index: int) -> None:
    image = np.full((96, 128, 3), 90, np.uint8)
    stamp(image, index)
    cv2.imencode(path.suffix, image)[1].tofile(path)


def test_image_folder_in_name_order_with_fps_and_a_damaged_image(tmp_path):
    folder = tmp_path / "frames ö"
    folder.mkdir()
    for i in range(12):
        write_image(folder / f"img_{i + 1}{'.png' if i % 2 else '.jpg'}", i)  # img_2 sorts before img_10
    (folder / "img_5.jpg").write_text("not an image")  # index 4 is damaged
    (folder / "notes.txt").write_text("ignored")
    video, frames = decode_all(folder, fps=12.5)
    assert [read_stamp(f.image_bgr) for f in frames] == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11]
    assert [f.index for f in frames] == list(range(11))
    assert [f.timestamp_s for f in frames] == pytest.approx([k / 12.5 for k in (0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11)])
    assert (video.info.size_wh, video.info.fps, video.info.frame_count) == ((128, 96), 12.5, 12)
    assert video.stats.frames_corrupt == 1 and video.stats.warnings == [
        f"{folder / 'img_5.jpg'} cannot be read as an image; skipped"
    ]


def test_iterables_of_frames_and_arrays():
    images = [np.full((20, 30, 3), i, np.uint8) for i in range(5)]
    video, frames = decode_all(images)
    assert [f.timestamp_s for f in frames] == pytest.approx([i / 30 for i in range(5)])
    assert (video.info.source, video.info.size_wh, video.info.frame_count, video.info.is_live) == (
        "frames",
        (30, 20),
        5,
        False,
    )
    given = [Frame(images[0], 3, 1.0), Frame(images[1], 7, 0.5), Frame(images[2], 9, 2.0)]
    video, frames = decode_all(iter(given), fps=10)
    assert [(f.index, f.timestamp_s) for f in frames] == [(3, 1.0), (7, 1.1), (9, 2.0)]
    assert video.stats.timestamp_fallbacks == 1 and frames[0] is given[0]
    ticks = iter([50.0, 50.2, 50.25, 50.3])
    _, frames = decode_all((im for im in images[:3]), live=True, clock=lambda: next(ticks))
    assert [f.timestamp_s for f in frames] == pytest.approx([0.2, 0.25, 0.3])


def test_closing_an_iterable_source_closes_its_generator():
    closed = []

    def gen():
        try:
            while True:
                yield np.zeros((8, 8, 3), np.uint8)
        finally:
            closed.append(True)

    with open_video(gen(), fps=5) as video:
        next(video)
    assert closed == [True] and video.closed


@pytest.mark.parametrize(
    ("items", "error", "message"),
    [
        ([], VideoOpenError, "the iterable of frames is empty; it must yield Frame objects or HxWx3 uint8 BGR arrays"),
        (["a.png"], VideoOpenError, "the iterable yields str items; it must yield Frame objects or HxWx3 uint8"),
        (
            [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8)],
            VideoDecodeError,
            "item 1 of the frame iterable: image_bgr must be an HxWx3 uint8 BGR array, got a uint8 array of "
            "shape (4, 4); convert it first",
        ),
        (
            [Frame(np.zeros((4, 4, 3), np.uint8), 2, 0.0), Frame(np.zeros((4, 4, 3), np.uint8), 2, 0.1)],
            VideoDecodeError,
            "item 1 of the frame iterable has index 2 after 2; Frame indices must increase",
        ),
        (np.zeros((4, 4, 3), np.uint8), VideoOpenError, "received one array of shape (4, 4, 3), not a sequence"),
        (3.5, VideoOpenError, "received a float, which is not a video source; valid: a video file path"),
    ],
)
def test_bad_iterables_say_what_was_received(items, error, message):
    with pytest.raises(error, match=re.escape(message)):
        decode_all(items)


def test_async_iterables_open_with_aopen_video_and_iterate_with_async_for():
    import asyncio

    closed = []

    async def camera():
        try:
            for i in range(4):
                await asyncio.sleep(0)
                yield (
                    np.full((20, 30, 3), i, np.uint8) if i % 2 else Frame(np.full((20, 30, 3), i, np.uint8), i, i / 10)
                )
        finally:
            closed.append(True)

    async def play():
        async with await aopen_video(camera(), clock=iter([0.0, 0.15, 0.35]).__next__) as video:
            return video, [f async for f in video]

    video, frames = asyncio.run(play())
    assert (video.info.source, video.info.size_wh, video.info.is_live, video.info.fps) == (
        "camera",
        (30, 20),
        True,
        None,
    )
    assert [(f.index, f.timestamp_s) for f in frames] == [(0, 0.0), (1, 0.15), (2, 0.2), (3, 0.35)]
    assert closed == [True] and video.closed and video.stats.frames_decoded == 4
    with pytest.raises(TypeError, match=r"camera delivers its frames asynchronously: iterate it with `async for"):
        next(iter(asyncio.run(aopen_video(camera()))))


def test_a_plain_open_video_of_an_async_iterable_says_to_use_aopen_video():
    async def frames():
        yield np.zeros((8, 8, 3), np.uint8)

    gen = frames()
    with pytest.raises(
        VideoOpenError, match=r"received an async iterable \(async_generator\); open it with `await aopen_video"
    ):
        open_video(gen)


def test_aopen_video_closes_an_async_source_it_never_read_and_refuses_an_empty_one():
    import asyncio

    closed = []

    async def frames(n):
        try:
            for _ in range(n):
                yield np.zeros((8, 8, 3), np.uint8)
        finally:
            closed.append(n)

    async def open_and_close():
        video = await aopen_video(frames(3))
        await video.aclose()  # the first frame was taken at opening; the rest never read

    asyncio.run(open_and_close())
    with pytest.raises(VideoOpenError, match="the iterable of frames is empty"):
        asyncio.run(aopen_video(frames(0)))
    assert closed == [3, 0]


def test_aopen_video_reads_sync_sources_in_place(video_factory):
    import asyncio

    clip = video_factory("sync.mp4", fps=10, duration_s=0.5)

    async def play():
        async with await aopen_video(clip) as video:
            return video, [f.index async for f in video]

    video, indices = asyncio.run(play())
    assert indices == [0, 1, 2, 3, 4] and not video.info.is_live and video.closed


# -- the frame filter -----------------------------------------------------------------------------------


def even_tenths(prev_s, t_s):
    return round(t_s * 10) % 2 == 0


def test_frame_filter_given_at_open_skips_the_conversion_of_unwanted_file_frames(video_factory):
    calls = []

    def keep(prev_s, t_s):
        calls.append((round(prev_s, 3), round(t_s, 3)))
        return even_tenths(prev_s, t_s)

    video, frames = decode_all(video_factory("f10.mp4", fps=10, duration_s=1.0), frame_filter=keep)
    assert [f.index for f in frames] == [read_stamp(f.image_bgr) for f in frames] == [0, 2, 4, 6, 8]
    assert calls == [(round((i - 1) / 10, 3), round(i / 10, 3)) for i in range(1, 10)]  # never for the first
    assert (video.stats.frames_decoded, video.stats.frames_skipped, video.stats.last_timestamp_s) == (
        10,
        5,
        pytest.approx(0.9),
    )
    assert not hasattr(video, "keep")  # the filter is an argument, not an attribute set on the source


def test_frame_filter_is_ignored_by_sources_that_are_not_opencv_files(video_factory):
    images = [np.full((8, 8, 3), i, np.uint8) for i in range(6)]
    _, frames = decode_all(images, frame_filter=even_tenths, fps=10)
    assert [f.index for f in frames] == list(range(6))
    path = video_factory("pyav.mkv", timestamps_s=VFR_S)
    video, frames = decode_all(path, frame_filter=lambda prev, t: False, capture_factory=factory_of([], opened=False))
    assert_exact(frames, VFR_S)  # PyAV yields every frame
    assert video.stats.frames_skipped == 0


# -- resolve_source ---------------------------------------------------------------------------------------


def test_resolve_source_says_what_a_source_is_without_fetching(tmp_path, http_server):
    url = http_server.add("clips/r.mp4", b"not fetched")
    upload = io.BytesIO(b"\x00\x00\x00\x18ftypmp42")
    generator = (np.zeros((4, 4, 3), np.uint8) for _ in range(3))
    assert resolve_source(3) == ResolvedSource("camera", 3, "camera 3")
    assert resolve_source(" 1 ") == ResolvedSource("camera", 1, "camera 1")
    assert resolve_source("rtsp://me:pw@cam/s") == ResolvedSource("stream", "rtsp://me:pw@cam/s", "rtsp://***@cam/s")
    assert resolve_source(url, fetch=False) == ResolvedSource("url", url, url)
    assert resolve_source(upload, fetch=False).kind == "upload" and upload.tell() == 0
    found = resolve_source(generator, fetch=False)
    assert found.kind == "frames" and found.value is generator and next(generator).shape == (4, 4, 3)
    assert http_server.requests == []
    assert resolve_source(tmp_path) == ResolvedSource("folder", tmp_path, str(tmp_path))
    assert repr(resolve_source(b"abc", fetch=False)) == "ResolvedSource(kind='upload', display='upload')"


def test_resolve_source_looks_in_the_current_folder_then_the_project(tmp_path, monkeypatch):
    repo = settings.REPO_ROOT  # the tests' project folder
    (repo / "clips").mkdir(parents=True)
    (repo / "clips" / "a.mp4").write_bytes(b"in the project")
    (repo / "clips" / "b.mp4").write_bytes(b"in the project")
    here = tmp_path / "here"
    (here / "clips").mkdir(parents=True)
    (here / "clips" / "a.mp4").write_bytes(b"in the current folder")
    monkeypatch.chdir(here)
    assert resolve_source("clips/a.mp4") == ResolvedSource("file", here / "clips" / "a.mp4", str(here / "clips/a.mp4"))
    assert resolve_source(Path("clips/b.mp4")).value == repo / "clips" / "b.mp4"
    message = f"no such file or folder: 'clips/c.mp4' (looked for {here / 'clips/c.mp4'} and {repo / 'clips/c.mp4'})"
    with pytest.raises(VideoOpenError, match=re.escape(message)):
        resolve_source("clips/c.mp4")


def test_resolve_source_downloads_urls_and_stores_uploads(video_factory, http_server, tmp_path):
    data = video_factory("f10.mp4", fps=10, duration_s=1.0).read_bytes()
    url = http_server.add("clips/d.mp4", data)
    got = resolve_source(url, download_dir=tmp_path, progress=False)
    assert got.kind == "file" and got.display == url and got.value.parent == tmp_path
    assert got.value.read_bytes() == data
    stored = resolve_source(io.BytesIO(data))
    assert stored.kind == "file" and stored.display == f"upload ({len(data)} bytes)"
    assert stored.value.read_bytes() == data and stored.value.parent == settings.data_dir("uploads")
    assert [p.name for p in stored.value.parent.iterdir()] == [stored.value.name]  # no temporary file left


def test_a_failed_upload_write_leaves_nothing_under_the_final_name(video_factory, monkeypatch):
    from actionrec import atomic

    data = video_factory("f10.mp4", fps=10, duration_s=1.0).read_bytes()
    real_replace = atomic.os.replace

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        open_video(data)
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    uploads = settings.data_dir("uploads")
    assert not uploads.exists() or list(uploads.iterdir()) == []


# -- live frame sources (the browser camera's protocol) ------------------------------------------------


class FakeLiveSource:
    """Stands in for the notebook's BrowserCamera: frames() and aframes() of stamped Frames, a state."""

    def __init__(self, times_s):
        self.times_s, self.closed = times_s, False

    @property
    def state(self):
        return "streaming"

    def frames(self):
        try:
            for i, t in enumerate(self.times_s):
                yield Frame(np.full((24, 32, 3), 10 * i, np.uint8), i, t)
        finally:
            self.closed = True

    async def aframes(self):
        for frame in self.frames():
            yield frame


def test_a_live_frame_source_opens_as_a_live_video_with_its_own_timestamps():
    source = FakeLiveSource([0.0, 0.04, 0.09, 0.2])
    assert isinstance(source, LiveFrameSource) and not isinstance(iter([]), LiveFrameSource)
    assert resolve_source(source) == ResolvedSource("live", source, "FakeLiveSource")
    with open_video(source) as video:
        assert video.info == VideoInfo("FakeLiveSource", (32, 24), None, None, None, is_live=True)
        first = next(video)
    assert (first.index, first.timestamp_s) == (0, 0.0) and source.closed  # closing the video ends frames()
    video, frames = decode_all(FakeLiveSource([0.0, 0.04, 0.09, 0.2]))
    assert [f.timestamp_s for f in frames] == [0.0, 0.04, 0.09, 0.2] and video.stats.frames_decoded == 4


def test_the_video_layer_imports_only_the_leaves_below_it():
    import ast

    allowed = {"errors", "settings", "atomic", "results", "download", "redact"}
    for path in (Path(__file__).resolve().parent.parent / "actionrec" / "video").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("actionrec") for a in node.names), f"{path.name}: {ast.dump(node)}"
            if isinstance(node, ast.ImportFrom) and (node.level >= 2 or (node.module or "").startswith("actionrec")):
                parts = (node.module or "").split(".")
                names = {parts[1] if parts[0] == "actionrec" and len(parts) > 1 else parts[0]}
                if node.module is None:
                    names = {a.name for a in node.names}
                assert names <= allowed, f"{path.name} imports {names - allowed} (line {node.lineno})"


# -- URLs ---------------------------------------------------------------------------------------------


def test_url_is_downloaded_once_into_data_downloads_then_opened(video_factory, http_server):
    url = http_server.add("clips/clip.mp4", video_factory("f10.mp4", fps=10, duration_s=1.0).read_bytes())
    video, frames = decode_all(url, progress=False)
    assert video.info.source == url and len(frames) == 10
    cached = list(settings.data_dir("downloads").iterdir())
    assert len(cached) == 1 and re.fullmatch(r"[0-9a-f]{24}\.mp4", cached[0].name)
    n = len(http_server.requests)
    _, again = decode_all(url, progress=False)
    assert len(again) == 10 and len(http_server.requests) == n


def noise(index, t, image):
    image[:] = np.random.default_rng(index).integers(0, 256, image.shape, np.uint8)


def test_url_resumes_a_dropped_download(video_factory, http_server, tmp_path):
    data = video_factory("noise.mp4", fps=10, duration_s=1.0, paint=noise).read_bytes()
    assert len(data) > 300_000  # several chunks, so the dropped half leaves a part file to resume
    url = http_server.add("clips/drop.mp4", data)
    http_server.set_fault("clips/drop.mp4", "drop_once")
    _, frames = decode_all(url, progress=False, download_dir=tmp_path)
    assert len(frames) == 10 and http_server.ranged()
    assert [p.suffix for p in tmp_path.iterdir()] == [".mp4"]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("404", "cannot download {url}: the server answered HTTP 404 Not Found. Check the URL"),
        ("500", "downloading {url} failed after 1 attempt (last: HTTP 500 Internal Server Error)"),
        ("html", "cannot download {url}: the server answered HTTP 200 with an HTML page (Content-Type text/html)"),
    ],
)
def test_url_errors_name_the_url_and_the_status_and_keep_nothing(http_server, tmp_path, fault, message):
    url = http_server.add("clips/bad.mp4", b"x" * 1000)
    http_server.set_fault("clips/bad.mp4", fault)
    with pytest.raises(VideoOpenError, match=re.escape(message.format(url=url))):
        open_video(url, download_dir=tmp_path, progress=False, download_retries=0)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".part")] == []


@pytest.mark.parametrize("url", ["file:///tmp/clip.mp4", "ftp://example.org/clip.mp4", "s3://bucket/clip.mp4"])
def test_unsupported_url_schemes_list_the_valid_ones(url):
    scheme = url.split(":")[0]
    with pytest.raises(VideoOpenError, match=re.escape(f"unsupported URL scheme {scheme}:// in {url!r}; valid: http")):
        open_video(url)


# -- bad files ----------------------------------------------------------------------------------------


def audio_only(path: Path, streams: int = 1) -> Path:
    import av

    with av.open(str(path), "w") as container:
        for stream in [container.add_stream("aac", rate=8000) for _ in range(streams)]:
            for i in range(4):
                frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 8000, i * 1024
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return path


def data_only(path: Path) -> Path:
    """An MPEG-TS holding only a data stream (telemetry): no decoder exists for it."""
    import av

    with av.open(str(path), "w", format="mpegts") as container:
        data = container.add_data_stream()
        for i in range(5):
            packet = av.Packet(b"klv")
            packet.stream, packet.pts, packet.dts, packet.time_base = data, i * 9000, i * 9000, Fraction(1, 90000)
            container.mux(packet)
    return path


def box(kind: bytes, payload: bytes = b"") -> bytes:
    """One MP4 box: 32-bit size, 4-letter type, payload."""
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("empty.mp4", lambda p: p.write_bytes(b""), "{p} is empty (0 bytes): the download, copy or recording"),
        ("text.mp4", lambda p: p.write_text("hello, not a video\n" * 3), "Found: a text file of 57 bytes starting"),
        (
            "random.mp4",
            lambda p: p.write_bytes(bytes(range(7, 256)) * 8),
            "Found: 1992 bytes of unrecognised binary data (starting with 07 08 09 0a 0b 0c 0d 0e)",
        ),
        ("page.mp4", lambda p: p.write_text("<!DOCTYPE html><p>hi"), "Found: an HTML/XML page of 20 bytes"),
        ("spaced.mp4", lambda p: p.write_text("  \n<HTML><body>x</body>"), "Found: an HTML/XML page of 23 bytes"),
        ("feed.mp4", lambda p: p.write_text("<?xml version='1.0'?><a/>"), "Found: an HTML/XML page of 25 bytes"),
        ("login.mp4", lambda p: p.write_text("<head></head>"), "Found: an HTML/XML page of 13 bytes, not a video"),
        (
            "tabs.mp4",
            lambda p: p.write_bytes(b"a\tb\r\nc" * 20),
            "Found: a text file of 120 bytes starting with 'a\\tb\\r\\nca\\tb\\r\\nca\\tb\\r\\nca\\tb\\r\\nca\\tb"
            "\\r\\nca\\tb\\r\\nca\\tb\\r', not a video. Valid inputs",
        ),
        (  # only the first 4096 bytes are looked at: a NUL after them does not make the text binary
            "long.mp4",
            lambda p: p.write_bytes((b"hello, not a video\n" * 300)[:4096] + b"\0" * 10),
            "Found: a text file of 4106 bytes starting with 'hello, not a video\\nhello, not a video\\nhe', not a ",
        ),
        (
            "damaged.mkv",
            lambda p: p.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 2),
            "Found: a Matroska/WebM file of 516 bytes whose content is damaged or incomplete. Valid inputs",
        ),
        (
            "damaged.avi",
            lambda p: p.write_bytes(b"RIFF\x00\x01\x00\x00AV\xffI" + bytes(range(256)) * 2),
            "Found: a RIFF (AV\ufffdI) file of 524 bytes that has no readable video. Valid inputs",
        ),
        (
            "picture.mp4",
            lambda p: p.write_bytes(b"\x89PNG" + b"hello" * 50),
            "Found: a PNG image, not a video (put images in a folder and pass the folder). Valid inputs",
        ),
        (
            "photo.mp4",
            lambda p: p.write_bytes(b"\xff\xd8\xff" + b"hello" * 50),
            "Found: a JPEG image, not a video (put images in a folder and pass the folder). Valid inputs",
        ),
        (
            "no-index.mp4",
            lambda p: p.write_bytes(
                box(b"ftyp", b"isom\0\0\0\0") + box(b"free") + box(b"mdat", bytes(32)) + box(b"free")
            ),
            "Found: an MP4/MOV file of 72 bytes without its index (moov box; boxes found: ftyp, free, mdat, free). "
            "Valid inputs",
        ),
        (  # a box size of 1: the real size follows as 64 bits
            "large-box.mp4",
            lambda p: p.write_bytes(
                box(b"ftyp", b"isom\0\0\0\0") + struct.pack(">I4sQ", 1, b"wide", 24) + bytes(8) + box(b"free")
            ),
            "Found: an MP4/MOV file of 48 bytes without its index (moov box; boxes found: ftyp, wide, free). Valid",
        ),
        (  # a box size of 0: the box runs to the end of the file
            "open-box.mp4",
            lambda p: p.write_bytes(
                box(b"ftyp", b"isom\0\0\0\0") + box(b"free") + struct.pack(">I4s", 0, b"mdat") + bytes(20)
            ),
            "Found: an MP4/MOV file of 52 bytes without its index (moov box; boxes found: ftyp, free, mdat). Valid",
        ),
        (  # the walk stops after 64 boxes
            "many-boxes.mp4",
            lambda p: p.write_bytes(box(b"ftyp", b"isom\0\0\0\0") + box(b"free") * 70),
            f"(moov box; boxes found: ftyp, {', '.join(['free'] * 63)}). Valid inputs",
        ),
        (
            "empty-index.mp4",
            lambda p: p.write_bytes(box(b"ftyp", b"isom\0\0\0\0") + box(b"moov", b"\x01" * 40)),
            "{p} holds no video stream (found: no streams); this looks like an audio-only file",
        ),
        (
            "sound.mp4",
            audio_only,
            "{p} holds no video stream (found: audio aac); this looks like an audio-only file. Pass a file with a "
            "video track (MP4, MKV, WebM, AVI, MOV or GIF)",
        ),
        (
            "two-sounds.mkv",
            lambda p: audio_only(p, streams=2),
            "{p} holds no video stream (found: audio aac, audio aac); this looks like an audio-only file",
        ),
        (
            "telemetry.ts",
            data_only,
            "{p} holds no video stream (found: data (no decoder)); this looks like an audio-only file",
        ),
        ("missing.mp4", lambda p: None, "no such file or folder: '{p}' (looked for {p}). Check the spelling"),
        ("folder", lambda p: (p.mkdir(), (p / "a.txt").write_text("x")), "folder {p} holds no images (found: a.txt)"),
    ],
)
def test_bad_files_say_what_was_found_and_what_to_do(tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    error = VideoOpenError
    with pytest.raises(error, match=re.escape(message.format(p=path))):
        open_video(path)


def test_an_unreadable_file_names_both_decoders_what_it_holds_and_the_fix(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("hello, not a video\n")
    with pytest.raises(VideoOpenError) as caught:
        open_video(path)
    assert re.fullmatch(
        rf"cannot open {re.escape(str(path))} as a video: neither OpenCV nor FFmpeg/PyAV can read it "
        r"\(PyAV: \[Errno \d+\] Invalid data found when processing input: .+\)\. "
        r"Found: a text file of 19 bytes starting with 'hello, not a video\\n', not a video\. "
        r"Valid inputs are video files \(MP4, MKV, WebM, AVI, MOV, GIF\)\. Copy or download the file again, "
        r"or convert it: ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT\.mp4",
        str(caught.value),
    )


def test_a_file_that_opens_but_decodes_no_frame_says_it_is_damaged(tmp_path):
    path = tmp_path / "photo.mp4"
    path.write_bytes(b"\xff\xd8\xff")  # FFmpeg opens a JPEG start as a one-frame video, then cannot decode it
    with pytest.raises(VideoDecodeError) as caught:
        open_video(path)
    assert str(caught.value) == (
        f"{path} opened (video mjpeg) but no frame could be decoded (1 undecodable packets): the file is damaged "
        "or its codec is not available here. Re-encode it, e.g. ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p "
        "OUT.mp4, or copy it again"
    )


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"", "an empty file (0 bytes)"),
        (  # PyAV opens a file with an index (its streams are then judged); the words still say what is there
            box(b"ftyp", b"isom\0\0\0\0") + struct.pack(">I4s", 1000, b"moov") + bytes(40),
            "an MP4/MOV file of 64 bytes cut off inside its 'moov' box: an incomplete download, copy or recording",
        ),
        (
            box(b"ftyp", b"isom\0\0\0\0") + box(b"moov", bytes(40)) + struct.pack(">I4s", 4, b"mdat"),
            "an MP4/MOV file of 72 bytes cut off inside its 'mdat' box: an incomplete download, copy or recording",
        ),
        (
            box(b"ftyp", b"isom\0\0\0\0") + box(b"moov", bytes(40)) + box(b"mdat", bytes(8)),
            "an MP4/MOV file of 80 bytes whose video track cannot be decoded",
        ),
    ],
)
def test_describe_file_says_what_an_unreadable_file_holds(tmp_path, data, found):
    from actionrec.video.pyav import describe_file

    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    assert describe_file(path) == found


def test_describe_file_reads_mp4_box_sizes_as_unsigned(tmp_path):
    # A 2 GiB+ media box (a long recording) whose 32-bit size has its top bit set: a sparse file
    # (no 2 GiB written), the walk skips the box and finds the one after it.
    path = tmp_path / "long.mp4"
    big = 2**31 + 16
    with open(path, "wb") as f:
        f.write(box(b"ftyp", b"isom\0\0\0\0") + struct.pack(">I4s", big, b"mdat"))
        f.seek(16 + big)
        f.write(box(b"free"))
    from actionrec.video.pyav import describe_file

    assert describe_file(path) == (
        f"an MP4/MOV file of {16 + big + 8} bytes without its index (moov box; boxes found: ftyp, mdat, free)"
    )


def test_mp4_cut_before_its_index_is_explained(video_factory, tmp_path):
    data = video_factory("f10.mp4", fps=10, duration_s=1.0).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoOpenError, match=r"cut off inside its 'mdat' box before its index \(moov box\)"):
        open_video(tmp_path / "cut.mp4")


def test_uploaded_bytes_are_stored_and_opened_within_the_size_limit(video_factory):
    data = video_factory("f10.mp4", fps=10, duration_s=1.0).read_bytes()
    video, frames = decode_all(io.BytesIO(data), max_upload_bytes=len(data))
    assert video.info.source == f"upload ({len(data)} bytes)" and len(frames) == 10
    assert [p.suffix for p in settings.data_dir("uploads").iterdir()] == [".mp4"]
    _, again = decode_all(bytearray(data))  # same bytes: the stored copy is reused
    assert len(again) == 10 and len(list(settings.data_dir("uploads").iterdir())) == 1
    with pytest.raises(UploadError, match=f"the upload is larger than the limit of {len(data) - 1} bytes"):
        open_video(data, max_upload_bytes=len(data) - 1)
    with pytest.raises(UploadError, match=r"the upload is empty \(0 bytes\)"):
        open_video(b"")


# -- release on error and interrupt ----------------------------------------------------------------------


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_capture_is_released_when_the_loop_raises(video_factory, exc):
    made = []
    with (
        pytest.raises(exc),
        open_video(video_factory("f10.mp4", fps=10, duration_s=1.0), capture_factory=factory_of(made)) as video,
    ):
        for frame in video:
            if frame.index == 2:
                raise exc
    assert made[0].releases >= 1 and video.closed and next(video, None) is None


# -- cameras ----------------------------------------------------------------------------------------------


class FakeCamera:
    """A capture object standing in for a webcam: stamped frames every ``period_s``."""

    def __init__(self, *, period_s=0.0, limit=None, opened=True, fail=None, hang_after=None):
        self.period_s, self.limit, self.opened, self.fail, self.hang_after = period_s, limit, opened, fail, hang_after
        self.n = 0
        self.released = threading.Event()
        self.props = {}

    def isOpened(self):  # noqa: N802
        return self.opened

    def set(self, prop, value):
        self.props[prop] = value
        return True

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        time.sleep(self.period_s if self.hang_after is None or self.n < self.hang_after else 0.5)
        if self.fail is not None and self.n >= self.fail:
            raise RuntimeError("device error")
        if self.limit is not None and self.n >= self.limit:
            return False, None
        image = np.zeros((64, 120, 3), np.uint8)
        stamp(image, self.n)
        self.n += 1
        return True, image

    def release(self):
        self.released.set()


def grab_threads():
    return [t for t in threading.enumerate() if t.name.startswith("actionrec grab")]


def test_camera_newest_only_skips_frames_for_a_slow_consumer_and_stops_its_thread():
    camera = FakeCamera(period_s=0.004)
    got = []
    with open_video("0", capture_factory=lambda index: camera) as video:
        assert video.info == VideoInfo("camera 0", (120, 64), 30.0, None, None, is_live=True)
        for frame in video:
            got.append(frame)
            time.sleep(0.03)
            if len(got) == 6:
                break
    indices = [f.index for f in got]
    assert indices == sorted(set(indices)) and indices[-1] > 6 and video.stats.frames_dropped > 0
    assert [read_stamp(f.image_bgr) for f in got] == indices
    assert all(b.timestamp_s > a.timestamp_s for a, b in itertools.pairwise(got))
    assert camera.released.is_set() and grab_threads() == []
    assert camera.n - 1 <= video.stats.frames_dropped + len(got) <= camera.n


def test_camera_without_newest_only_yields_every_frame_with_wall_clock_times():
    ticks = iter(np.arange(100.0, 101.0, 0.04))
    camera = FakeCamera(limit=5)
    video, frames = decode_all(0, newest_only=False, capture_factory=lambda i: camera, clock=lambda: next(ticks))
    assert [f.index for f in frames] == [read_stamp(f.image_bgr) for f in frames] == [0, 1, 2, 3, 4]
    assert [f.timestamp_s for f in frames] == pytest.approx([0.04, 0.08, 0.12, 0.16, 0.2])
    assert video.stats.frames_dropped == 0 and camera.released.is_set()
    assert video.stats.warnings == [
        "camera 0 stopped delivering frames (10 failed reads in a row after frame 4): it was disconnected or taken "
        "by another program"
    ]


def test_camera_errors_and_interrupts_release_it():
    with pytest.raises(VideoDecodeError, match=r"camera 0: reading frames failed: device error"):
        decode_all(0, capture_factory=lambda i: FakeCamera(fail=3))
    camera = FakeCamera(period_s=0.002)
    with pytest.raises(KeyboardInterrupt), open_video(0, capture_factory=lambda i: camera) as video:
        for _ in video:
            raise KeyboardInterrupt
    assert camera.released.is_set() and grab_threads() == []


def test_camera_that_hangs_raises_instead_of_waiting_forever(monkeypatch):
    monkeypatch.setattr(video_live, "LIVE_STALL_S", 0.2)
    camera = FakeCamera(hang_after=2, limit=2)
    with pytest.raises(VideoDecodeError, match=r"camera 0 delivered no frame for 0.2 s; check that it is still"):
        decode_all(0, capture_factory=lambda i: camera)
    assert camera.released.is_set() and grab_threads() == []


@pytest.mark.parametrize(
    ("camera", "message"),
    [
        (FakeCamera(opened=False), "camera 2 could not be opened. Check the index (0 is the first camera, 1 the next)"),
        (FakeCamera(limit=0), "camera 2 opened but delivered no frame. Check the index"),
    ],
)
def test_camera_that_does_not_work_says_how_to_fix_it(camera, message):
    with pytest.raises(VideoOpenError, match=re.escape(message)) as info:
        open_video(2, capture_factory=lambda i: camera)
    assert "/dev/video2" in str(info.value) and "use the browser camera instead" in str(info.value)
    assert camera.released.is_set()


def test_rtsp_url_is_a_live_stream_with_credentials_hidden():
    seen = []
    camera = FakeCamera(limit=2)
    # newest_only=False: with the default, the grab thread may replace frame 0 before it is read
    video, frames = decode_all(
        "rtsp://me:secret@cam.local/s1", capture_factory=lambda s: seen.append(s) or camera, newest_only=False
    )
    assert seen == ["rtsp://me:secret@cam.local/s1"] and len(frames) == 2
    assert video.info.source == "rtsp://***@cam.local/s1" and video.info.is_live


@pytest.mark.parametrize(
    ("value", "message"),
    [(True, "received True, not a video source"), (-1, "camera index -1 is negative")],
)
def test_camera_index_must_be_a_non_negative_int(value, message):
    with pytest.raises(VideoOpenError, match=re.escape(message)):
        open_video(value)


def test_frame_and_info_validate_their_fields():
    with pytest.raises(ValueError, match=r"image_bgr must be an HxWx3 uint8 BGR array, got a float64 array"):
        Frame(np.zeros((4, 4, 3)), 0, 0.0)
    with pytest.raises(ValueError, match=r"timestamp_s must be finite and >= 0, got -1"):
        Frame(np.zeros((4, 4, 3), np.uint8), 0, -1.0)
    with pytest.raises(ValueError, match=r"rotation_deg must be 0, 90, 180 or 270, got 45"):
        VideoInfo("x", (4, 4), None, None, None, False, 45)
