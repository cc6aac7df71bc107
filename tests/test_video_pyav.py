"""The PyAV fallback decoder on the inputs synthetic clips lack: late and negative stream starts, coarse
or fine time bases, corrupt packets OpenCV got past, declared durations that lie, demuxers that fail,
seeks that land beside audio or on nothing.

Each clip is written here with PyAV (:func:`write_clip`), then edited as bytes where a real file
would be damaged. The OpenCV side is the real capture stopped early (:class:`~tests.support.captures.Capture`) or,
where OpenCV would have to decode past a packet it cannot, a stand-in that serves frames
(:class:`ServedCapture`). These tests kill mutants of ``actionrec/video/pyav.py`` that the rest of
``tests/test_video.py`` leaves alive (``benchmarks/mutation.py pyav``).
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from actionrec.video import open_video
from actionrec.video.pyav import ContainerFacts
from tests.support.captures import Capture
from tests.support.videos import make_raw_h264, read_stamp, stamp

pytestmark = pytest.mark.timeout(60)

SIZE_WH = (192, 64)  # wide enough for the 12-cell frame-index barcode


def write_clip(
    path: Path,
    *,
    n: int = 20,
    fps: int = 10,
    codec: str = "mpeg4",
    fmt: str | None = None,
    start_s: float = 0.0,
    time_base: Fraction | None = None,
    codec_options: dict[str, str] | None = None,
    options: dict[str, str] | None = None,
    corrupt: frozenset[int] = frozenset(),
    size_wh: tuple[int, int] = SIZE_WH,
    pix_fmt: str = "yuv420p",
    title: str | None = None,
    audio_s: float = 0.0,
) -> Path:
    """Frame ``i`` (barcode ``i``) at ``start_s + i / fps``; the packets of frames in ``corrupt`` hold zeros.

    With ``audio_s``, a silent 8 kHz AAC track of that length from ``start_s`` too (the muxer interleaves it).
    """
    import av

    tb = time_base or Fraction(1, 1000)
    w, h = size_wh
    with av.open(str(path), "w", format=fmt, options=options or {}) as container:
        if title is not None:
            container.metadata["title"] = title
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuvj420p" if codec == "mjpeg" else pix_fmt
        stream.options = codec_options or ({"g": "100", "qscale": "2"} if codec in ("mpeg4", "mjpeg") else {})
        stream.codec_context.time_base = tb
        stream.time_base = tb
        sound = container.add_stream("aac", rate=8000) if audio_s else None

        def mux(packets):
            for packet in packets:
                if packet.pts is not None and round(float(packet.pts * packet.time_base - start_s) * fps) in corrupt:
                    bad = av.Packet(bytes(packet.size))
                    bad.pts, bad.dts, bad.duration, bad.time_base = packet.pts, packet.dts, packet.duration, tb
                    bad.stream, packet = stream, bad
                container.mux(packet)

        for i in range(n):
            img = np.full((h, w, 3), (40 + 9 * i) % 256, np.uint8)
            if w >= 96:
                stamp(img, i)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            if pix_fmt == "gray":
                frame = frame.reformat(format="gray")
            frame.pts, frame.time_base = round((start_s + i / fps) / tb), tb
            mux(stream.encode(frame))
        mux(stream.encode())
        for k in range(math.ceil(audio_s * 8000 / 1024)):
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 8000, round(start_s * 8000) + k * 1024
            container.mux(sound.encode(chunk))
        if sound is not None:
            container.mux(sound.encode())
    return path


def frames_of(path: Path, **kw):
    with open_video(path, **kw) as video:
        frames = list(video)
    return video, frames


def assert_frames(frames, indices, fps=10, first_index=0):
    """The frames of barcodes ``indices``, numbered in order from ``first_index``, at ``index / fps`` s."""
    assert [read_stamp(f.image_bgr) for f in frames] == list(indices)
    assert [f.index for f in frames] == list(range(first_index, first_index + len(frames)))
    assert [f.timestamp_s for f in frames] == pytest.approx([i / fps for i in indices], abs=1e-3)


class ServedCapture:
    """An OpenCV stand-in that decoded ``n`` frames at ``i / fps`` s (concealing any bad packet), then stopped."""

    def __init__(self, n, fps=10, size_wh=SIZE_WH):
        self.n, self.fps, self.size_wh, self.reads = n, fps, size_wh, 0

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return True

    def read(self):
        if self.reads >= self.n:
            return False, None
        self.reads += 1
        img = np.zeros((self.size_wh[1], self.size_wh[0], 3), np.uint8)
        stamp(img, self.reads - 1)
        return True, img

    def get(self, prop):
        return {cv2.CAP_PROP_POS_MSEC: (self.reads - 1) * 1000.0 / self.fps, cv2.CAP_PROP_FPS: float(self.fps)}.get(
            prop, 0.0
        )

    def release(self):
        pass


def capture(**kw):
    return {"capture_factory": lambda path: Capture(path, **kw)}


def served(n, **kw):
    return {"capture_factory": lambda path: ServedCapture(n, **kw)}


DECODERS = {"pyav": {"opened": False}, "opencv-then-pyav": {"stop_after": 3}}


# --- streams whose first timestamp is not 0 -------------------------------------------------------


@pytest.mark.parametrize("decoder", sorted(DECODERS))
@pytest.mark.parametrize("kind", ["mpegts", "mp4-edit-list"])
def test_a_stream_that_starts_late_is_timed_from_its_start(tmp_path, kind, decoder):
    # MPEG-TS streams start ~1.4 s in (PyAV's muxer delay); an MP4 whose first frame is at 2 s stores
    # an edit list. OpenCV's POS_MSEC and PyAV's times both count from the stream's first frame.
    if kind == "mpegts":
        path = write_clip(tmp_path / "late.ts", fmt="mpegts", codec="libx264", codec_options={"g": "100"})
    else:
        path = write_clip(tmp_path / "late.mp4", start_s=2.0)
    video, frames = frames_of(path, **capture(**DECODERS[decoder]))
    assert_frames(frames, range(20))
    assert (video.stats.frames_corrupt, video.stats.truncated) == (0, False)


def test_a_stream_that_starts_before_zero_is_continued_after_where_opencv_stopped(tmp_path):
    # MKV keeps negative timestamps when its muxer is told to: this stream starts at -1 s. OpenCV
    # stops at 0.2 s of its 2 s; PyAV counts packet times from the stream start too, so it finds the
    # 17 frames after OpenCV's last one (counting from 0 instead, the last packet would be at -0.1 s).
    import av

    path = write_clip(tmp_path / "negative.mkv", start_s=-1.0, options={"avoid_negative_ts": "disabled"})
    with av.open(str(path)) as container:
        v = container.streams.video[0]
        assert v.start_time * v.time_base == -1  # the premise: a negative start
    _, frames = frames_of(path, **capture(stop_after=3))
    assert_frames(frames, range(20))


def test_a_cut_off_stream_that_starts_late_is_truncated_where_its_packets_end(tmp_path):
    import av

    whole = write_clip(tmp_path / "late.mp4", start_s=2.0, options={"movflags": "faststart"})
    with av.open(str(whole)) as container:
        ends = [p.pos + p.size for p in container.demux(video=0) if p.size]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: ends[9]])  # 10 of 20 frames: 1 s of 2
    video, frames = frames_of(cut, **capture(opened=False))
    assert_frames(frames, range(10))
    assert video.stats.truncated
    assert f"{cut} is truncated: its packets end at 1.00 s but the container says 2.00 s" in video.stats.warnings[-1]


# --- packets that do not decode ---------------------------------------------------------------------


def test_bad_packets_opencv_got_past_are_not_counted_again(tmp_path):
    # OpenCV concealed the bad packets of frames 5 and 7 and stopped after frame 7 (0.7 s); PyAV
    # restarts at the keyframe at or before 0.7 s (MJPEG: every frame is one), meets 7 again:
    # already behind us, not counted. Only 12 and 13 count. The stream starts at 2 s: packet times
    # are taken from the stream start.
    path = write_clip(tmp_path / "bad.mp4", codec="mjpeg", start_s=2.0, corrupt=frozenset({5, 7, 12, 13}))
    video, frames = frames_of(path, **served(8))
    assert_frames(frames[8:], [8, 9, 10, 11, 14, 15, 16, 17, 18, 19], first_index=8)
    assert video.stats.frames_corrupt == 2
    assert video.stats.warnings == [
        f"{path}: OpenCV stopped after 8 frames at 0.70 s; PyAV decoded 10 more and skipped 2 undecodable packet(s)"
    ]


def test_every_bad_packet_is_counted_when_pyav_decodes_the_whole_file(tmp_path):
    path = write_clip(tmp_path / "bad.mkv", codec="mjpeg", corrupt=frozenset({5, 7, 12}))
    video, frames = frames_of(path, **capture(opened=False))
    assert_frames(frames, [i for i in range(20) if i not in {5, 7, 12}])
    assert video.stats.frames_corrupt == 3


# --- time bases, packet sizes and seeks ----------------------------------------------------------


def test_a_time_base_finer_than_a_microsecond_resumes_at_the_right_frame(tmp_path):
    # 1/10,000,000 s ticks (MOV/MP4 allow any): a seek target counted in ticks, not in microseconds.
    path = write_clip(
        tmp_path / "fine.mp4",
        codec="libx264",
        time_base=Fraction(1, 10_000_000),
        codec_options={"g": "5", "preset": "ultrafast"},
    )
    _, frames = frames_of(path, **capture(stop_after=3))
    assert_frames(frames, range(20))


def test_one_byte_packets_are_frames(tmp_path):
    # 1x1 grey raw video: every packet is a single byte, and each is a frame
    path = write_clip(tmp_path / "dot.mkv", codec="rawvideo", size_wh=(1, 1), pix_fmt="gray")
    _, frames = frames_of(path, **capture(stop_after=3))
    assert [f.timestamp_s for f in frames] == pytest.approx([i / 10 for i in range(20)])
    assert [int(f.image_bgr[0, 0, 0]) for f in frames] == pytest.approx([40 + 9 * i for i in range(20)], abs=2)


def cut_avi(path: Path, out: Path, kept: int) -> Path:
    """``path`` cut just before the chunk of its video packet ``kept`` (packets ``0..kept-1`` remain)."""
    import av

    with av.open(str(path)) as container:
        starts = [p.pos for p in container.demux(video=0) if p.size]
    out.write_bytes(path.read_bytes()[: starts[kept] - 8])  # 8 bytes: the chunk's id and size
    return out


@pytest.mark.parametrize(
    ("kept", "truncated"),
    [
        (6, True),  # packets end at 3.0 s of 4.5 s: more than two frames (1 s) short
        (7, False),  # at 3.5 s: exactly two frames short is within the tolerance
    ],
)
@pytest.mark.parametrize("decoder", ["pyav", "opencv-then-pyav"])
def test_an_avi_is_truncated_when_its_packets_end_over_two_frames_before_its_stated_length(
    tmp_path, kept, truncated, decoder
):
    # AVI states its stream's length and counts time in frames: one tick is 0.5 s here. Cut before
    # its index (idx1), 10 frames at 2/s say 4.5 s. OpenCV stops one frame before the cut, so PyAV
    # has exactly one packet left to decode.
    whole = write_clip(tmp_path / "two.avi", n=10, fps=2, time_base=Fraction(1, 2))
    cut = cut_avi(whole, tmp_path / f"cut{kept}.avi", kept)
    kw = {"opened": False} if decoder == "pyav" else {"stop_after": kept - 1}
    video, frames = frames_of(cut, **capture(**kw))
    assert_frames(frames, range(kept), fps=2)
    assert video.stats.truncated is truncated
    says = [w for w in video.stats.warnings if "is truncated" in w]
    assert says == (
        [
            f"{cut} is truncated: its packets end at {kept / 2:.2f} s but the container says 4.50 s (an interrupted "
            f"download, copy or recording); {kept} frames decoded and analysed. Get the complete file for the rest"
        ]
        if truncated
        else []
    )


# --- durations a container states -----------------------------------------------------------------


def set_mkv_duration(path: Path, out: Path, duration_ms: float) -> Path:
    """A copy of the MKV ``path`` whose segment Duration element says ``duration_ms`` (0: none)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Duration, an 8-byte float
    assert at > 0
    data[at + 3 : at + 11] = struct.pack(">d", duration_ms)
    out.write_bytes(bytes(data))
    return out


def test_an_mkv_whose_packets_end_well_before_its_stated_duration_is_truncated(tmp_path):
    # Only the container's duration is known (no other track): 0.5 s of packets for 1 s stated
    whole = write_clip(tmp_path / "half.mkv", n=5)
    path = set_mkv_duration(whole, tmp_path / "says1s.mkv", 1000.0)
    video, frames = frames_of(path, **capture(opened=False))
    assert_frames(frames, range(5))
    assert video.stats.truncated
    assert f"{path} is truncated: its packets end at 0.50 s but the container says 1.00 s" in video.stats.warnings[-1]


def test_an_implausible_stated_duration_is_not_reported_and_pyav_looks_past_opencv(tmp_path):
    # 5,000,000 s stated: dropped, so OpenCV stopping anywhere (here one frame before the end) is
    # continued. With B-frames the decoder hands the last frames out together at the end: the one
    # OpenCV already gave is dropped, the one after it kept.
    whole = write_clip(
        tmp_path / "b.mkv", codec="libx264", codec_options={"preset": "medium", "bframes": "3", "b-pyramid": "normal"}
    )
    path = set_mkv_duration(whole, tmp_path / "huge.mkv", 5e9)
    video, frames = frames_of(path, **capture(stop_after=19))
    assert video.info.duration_s is None
    assert_frames(frames, range(20))
    assert video.stats.warnings == [f"{path}: OpenCV stopped after 19 frames at 1.80 s; PyAV decoded 1 more"]


@pytest.mark.parametrize(
    ("facts", "cv_fps", "trusted"),
    [
        (ContainerFacts("video h264", None, None, None, 5000.0), None, (None, None, None)),  # rate over 1000/s
        (ContainerFacts("video h264", None, None, None, math.inf), 0.0, (None, None, None)),
        (ContainerFacts("video h264", None, 5e6, None, 25.0), None, (25.0, None, None)),  # 58 days
        (ContainerFacts("video h264", None, None, -3.0, 25.0), None, (25.0, None, None)),
        (ContainerFacts("video h264", -7, None, None, None), None, (None, None, None)),  # a negative count
        (ContainerFacts("video h264", 50, 2.0, None, 25.0), None, (25.0, 50, 2.0)),
    ],
)
def test_container_facts_keep_only_plausible_values(facts, cv_fps, trusted):
    assert facts.trusted(cv_fps) == trusted


# --- what OpenCV and PyAV see differently ----------------------------------------------------------


def test_frames_opencv_finds_where_pyav_sees_no_video_are_kept(tmp_path):
    # An audio-only file as far as PyAV can tell: OpenCV's 4 frames are all there is, no error.
    import av

    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w") as container:
        sound = container.add_stream("aac", rate=8000)
        for i in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, i * 1024
            container.mux(sound.encode(frame))
        container.mux(sound.encode())
    video, frames = frames_of(path, **served(4))
    assert_frames(frames, range(4))
    assert video.stats.warnings == []


def test_frames_opencv_finds_where_pyav_sees_no_video_packet_are_kept(tmp_path):
    # PyAV finds a video track but not one packet in it (an audio track only): there is nothing to
    # land on after the seek, so the file is reopened from its start, with the same tolerant options
    # for its Latin-1 title, and yields nothing more. OpenCV's own FFmpeg build is stood in for.
    path = write_clip(tmp_path / "silent.mkv", n=0, audio_s=1.6, title="caf-MARK")
    path.write_bytes(path.read_bytes().replace(b"MARK", b"\xe9\xe9\xe9\xe9"))  # "é" as one byte
    _, frames = frames_of(path, **served(4))
    assert_frames(frames, range(4))


def test_a_ts_seek_landing_beside_audio_still_finds_its_video_is_no_keyframe(tmp_path):
    # An MPEG-TS seek lands on the nearest packets, here an audio packet (every one is a keyframe)
    # before a video packet that is not a keyframe. Only the video packet tells: decoding from there
    # would yield nothing (the only keyframe is frame 0), so the file is decoded from its start.
    import av

    path = write_clip(tmp_path / "sound.ts", fmt="mpegts", codec="libx264", codec_options={"g": "100"}, audio_s=2.0)
    with av.open(str(path)) as container:  # the premise: the packets a seek to 0.2 s lands on
        v = container.streams.video[0]
        container.seek(v.start_time + int(0.2 / v.time_base), stream=v, backward=True)
        landed = [p for p in container.demux() if p.size][:3]
        first_video = next(p for p in landed if p.stream.type == "video")
        assert landed[0].stream.type == "audio" and landed[0].is_keyframe and not first_video.is_keyframe
    _, frames = frames_of(path, **capture(stop_after=3))
    assert_frames(frames, range(20))


def test_a_raw_h264_stream_decoded_by_pyav_gets_timestamps_from_its_rate(tmp_path):
    # A raw elementary stream has no timestamps at all: the frame rate FFmpeg assumes (25/s) gives them

    path = make_raw_h264(tmp_path / "camera.h264", frames=12, grey_step=20)
    video, frames = frames_of(path, **capture(opened=False))
    assert video.info.fps == 25.0 and len(frames) == 12
    assert [f.timestamp_s for f in frames] == pytest.approx([i / 25 for i in range(12)])
    assert video.stats.timestamp_fallbacks == 12


class FaultyContainer:
    """A PyAV input container whose seeks fail, or whose demuxer fails after ``demux_ok`` packets."""

    def __init__(self, container, *, seek_fails: bool, demux_ok: int | None):
        self._container, self._seek_fails, self._demux_ok = container, seek_fails, demux_ok

    def __getattr__(self, name):
        return getattr(self._container, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._container.close()

    def seek(self, *args, **kwargs):
        import av

        if self._seek_fails:
            raise av.error.PermissionError(1, "Operation not permitted")
        return self._container.seek(*args, **kwargs)

    def demux(self, *args, **kwargs):
        import av

        for i, packet in enumerate(self._container.demux(*args, **kwargs)):
            if i == self._demux_ok:
                raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
            yield packet


@pytest.fixture
def faulty_av(monkeypatch):
    """``faulty_av(seek_fails=..., demux_ok=...)``: every ``av.open`` from then on gives a :class:`FaultyContainer`."""
    import av

    real_open = av.open

    def install(*, seek_fails=False, demux_ok=None):
        def faulty_open(*args, **kwargs):
            return FaultyContainer(real_open(*args, **kwargs), seek_fails=seek_fails, demux_ok=demux_ok)

        monkeypatch.setattr(av, "open", faulty_open)

    return install


def test_a_file_with_latin1_tags_that_cannot_seek_is_continued_from_its_start(tmp_path, faulty_av):
    # Old tools write Latin-1 tags; a stream that refuses seeks is reopened: with the same tolerant options
    path = write_clip(tmp_path / "latin1.mkv", title="caf-MARK")
    path.write_bytes(path.read_bytes().replace(b"MARK", b"\xe9\xe9\xe9\xe9"))  # "é" as one byte
    faulty_av(seek_fails=True)
    _, frames = frames_of(path, **capture(stop_after=3))
    assert_frames(frames, range(20))


@pytest.mark.parametrize("decoder", ["opencv", "pyav"])
def test_a_file_of_unknown_length_whose_demuxer_fails_is_truncated(tmp_path, faulty_av, decoder):
    # No duration stated (a live recording): only the demuxer failing tells the file is cut off
    path = set_mkv_duration(write_clip(tmp_path / "live.mkv"), tmp_path / "noduration.mkv", 0.0)
    faulty_av(demux_ok=12)
    video, frames = frames_of(path, **capture(opened=decoder == "opencv"))
    # PyAV keeps the frames it decoded before the failure (frame threads may still hold a few)
    assert_frames(frames, range(20) if decoder == "opencv" else range(len(frames)))
    assert decoder == "opencv" or 8 <= len(frames) <= 12
    assert video.info.duration_s is None and video.stats.truncated
    assert video.stats.warnings[-1].startswith(
        f"{path} is truncated: its packets end at 1.20 s but the container breaks off inside a packet"
    )


def test_where_packets_without_a_duration_end_is_their_own_time(tmp_path):
    # FLV stores no packet durations (0): the last packet kept ends at its timestamp, 0.125 s
    # (printed as 0.12: 0.125 is exact in binary and rounds to even), not a tick later
    import av

    whole = write_clip(tmp_path / "vfr.flv", codec="flv", fmt="flv", n=12, fps=8, codec_options={"qscale": "2"})
    with av.open(str(whole)) as container:
        packets = [(p.pos, p.size, p.duration) for p in container.demux(video=0) if p.size]
    assert {duration for _, _, duration in packets} == {0}
    cut = tmp_path / "cut.flv"
    cut.write_bytes(whole.read_bytes()[: packets[1][0] + packets[1][1]])  # frames 0 and 1 (at 0.125 s)
    video, frames = frames_of(cut, **capture(opened=False))
    assert [f.timestamp_s for f in frames] == [0.0, 0.125]
    assert video.stats.truncated
    assert f"{cut} is truncated: its packets end at 0.12 s but the container says 1.50 s" in video.stats.warnings[-1]
