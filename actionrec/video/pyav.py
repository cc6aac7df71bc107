"""The PyAV side of file decoding: container facts, the fallback decoder, clear open errors.

OpenCV decodes files on the fast path (:mod:`actionrec.video.files`). PyAV steps in only when
OpenCV cannot: a file OpenCV will not open, a first frame it cannot decode, or a ``read()`` that
returned False well before the container's end (corrupt packets mid-stream: OpenCV stops there,
FFmpeg can skip the bad packet and go on). PyAV also reads the container header once per file (no
decoding), so :class:`~actionrec.video.VideoInfo` reports a frame count and duration only when
trustworthy, and the errors for unopenable files say in words what the file holds.

PyAV frames are rotated by their display matrix as OpenCV auto-rotates, and their timestamps are
relative to the stream start like ``CAP_PROP_POS_MSEC``, so both decoders give the same frames and
times.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VideoDecodeError, VideoOpenError

_AFTER_EPS_S = 1e-4  # frames at or before the last OpenCV timestamp (+ this) were already delivered
MAX_FPS = 1000.0
_MAX_DURATION_S = 1e6
# Tags are text for people, not facts the decoder needs: old AVI/MKV tools write Latin-1 (an "é" as
# one byte), and PyAV's default strict UTF-8 decoding would refuse to open such a file at all.
_READ_OPTIONS = {"metadata_errors": "replace"}


@dataclass(frozen=True)
class ContainerFacts:
    """What a container declares about itself (read without decoding).

    Attributes:
        streams: e.g. ``"video h264, audio aac"``.
        nb_frames: declared frame count of the video stream, ``None`` when not stored.
        stream_duration_s: the video stream's declared duration.
        container_duration_s: the container's duration (over all streams).
        avg_fps: the video stream's average rate.
    """

    streams: str
    nb_frames: int | None
    stream_duration_s: float | None
    container_duration_s: float | None
    avg_fps: float | None

    @property
    def duration_s(self) -> float | None:
        """The declared duration: the video stream's, else the container's."""
        return self.stream_duration_s or self.container_duration_s

    def trusted(self, cv_fps: float | None) -> tuple[float | None, int | None, float | None]:
        """(fps, frame_count, duration_s) keeping only plausible values (``None`` otherwise).

        OpenCV's ``CAP_PROP_FRAME_COUNT`` is never used: for containers that store no count it is
        duration × fps (off by one on MKV, -1.4e17 on a browser WebM, too small on VFR WebM).
        A stored count is kept only when it agrees with duration × fps within 10 %.
        """
        fps = cv_fps if plausible(cv_fps, MAX_FPS) else (self.avg_fps if plausible(self.avg_fps, MAX_FPS) else None)
        duration = self.duration_s if plausible(self.duration_s, _MAX_DURATION_S) else None
        count = self.nb_frames if self.nb_frames and self.nb_frames > 0 else None
        if count and duration and fps and abs(count - duration * fps) > max(2.0, 0.1 * count):
            count = None
        return fps, count, duration


def plausible(value: float | None, upper: float) -> bool:
    """True for a finite ``value`` in ``(0, upper)`` (container fields can hold garbage)."""
    return value is not None and math.isfinite(value) and 0.0 < value < upper


def probe(path: Path) -> ContainerFacts | None:
    """Read the container header with PyAV; ``None`` when PyAV cannot open the file."""
    import av

    try:
        with av.open(str(path), **_READ_OPTIONS) as container:
            return _facts(container)
    except av.error.FFmpegError:
        return None


def _facts(container) -> ContainerFacts:
    # A stream PyAV has no decoder for (KLV telemetry, a track cut off in its header) has no codec context.
    streams = ", ".join(f"{s.type} {_codec_name(s)}" for s in container.streams) or "no streams"
    videos = container.streams.video
    if not videos:
        return ContainerFacts(streams, None, None, None, None)
    v = videos[0]
    tb = float(v.time_base) if v.time_base else None
    rate = v.average_rate or v.guessed_rate
    return ContainerFacts(
        streams=streams,
        nb_frames=v.frames or None,
        stream_duration_s=v.duration * tb if v.duration and tb else None,
        container_duration_s=container.duration / 1e6 if container.duration else None,
        avg_fps=float(rate) if rate else None,
    )


def _codec_name(stream) -> str:
    context = stream.codec_context
    return context.name if context is not None else "(no decoder)"


class DecodeReport:
    """Counters one PyAV pass fills in: undecodable packets and where the packets ended."""

    def __init__(self) -> None:
        self.corrupt = 0
        self.video_end_s = 0.0
        self.other_end_s = 0.0
        self.demux_error: str | None = None
        self.rotation_deg = 0

    def truncated(self, facts: ContainerFacts | None, step_s: float) -> bool:
        """True when the packets stop well before the declared end (a cut-off file)."""
        if facts is None or not plausible(facts.duration_s, _MAX_DURATION_S):  # no length, or garbage
            return self.demux_error is not None
        tol_s = max(2.0 * step_s, 0.25)
        if facts.stream_duration_s:
            return self.video_end_s < facts.stream_duration_s - tol_s
        # Only the container's duration is known (MKV/WebM): it spans every stream, so a video
        # track that is simply shorter than the audio is not a truncation.
        return max(self.video_end_s, self.other_end_s) < facts.container_duration_s - tol_s


def decode(
    container, *, after_s: float | None, report: DecodeReport, track_ends: bool = True
) -> Iterator[tuple[np.ndarray, float | None]]:
    """Decode the first video stream, skipping undecodable packets instead of stopping.

    Yields ``(image_bgr, timestamp_s or None)`` with the display rotation applied and times
    relative to the stream start. Frames at or before ``after_s`` are dropped (already delivered);
    so are decode errors of packets at or before it.
    """
    import av
    import cv2

    v = container.streams.video[0]
    v.thread_type = "AUTO"
    tb = float(v.time_base)
    start = v.start_time or 0
    starts = {s.index: s.start_time or 0 for s in container.streams}
    rotations = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    packets = container.demux()
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:  # the container ends inside a packet: keep what decoded
            report.demux_error = str(exc)
            return
        if track_ends:
            _track_end(packet, v.index, starts, report)
        if packet.stream.index != v.index:
            continue
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            if after_s is None or packet.pts is None or (packet.pts - start) * tb > after_s + _AFTER_EPS_S:
                report.corrupt += 1
            continue
        for frame in frames:
            t = None if frame.pts is None else (frame.pts - start) * tb
            if after_s is not None and t is not None and t <= after_s + _AFTER_EPS_S:
                continue
            image = frame.to_ndarray(format="bgr24")
            report.rotation_deg = -int(frame.rotation or 0) % 360
            code = rotations.get(report.rotation_deg)
            yield (image if code is None else cv2.rotate(image, code)), t


def _track_end(packet, video_index: int, starts: dict[int, int], report: DecodeReport) -> bool:
    """Record where ``packet`` ends; True when it is a non-empty video packet."""
    if packet.pts is None or not packet.time_base:
        return False
    end_s = float((packet.pts - starts[packet.stream.index] + (packet.duration or 0)) * packet.time_base)
    if packet.stream.index != video_index:
        report.other_end_s = max(report.other_end_s, end_s)
        return False
    report.video_end_s = max(report.video_end_s, end_s)
    return packet.size > 0


def continue_after(path: Path, after_s: float) -> tuple[Iterator[tuple[np.ndarray, float | None]], DecodeReport]:
    """Decode what follows ``after_s`` (where OpenCV stopped), skipping corrupt packets.

    A demux-only pass first checks whether any video packet lies after ``after_s`` and where each
    stream's packets end (the truncation check); only then are frames decoded, from the keyframe
    before ``after_s``.
    """
    import av

    report = DecodeReport()
    more = False
    with _open_at_keyframe(path, after_s) as container:
        if not container.streams.video:  # OpenCV found frames where PyAV finds no video stream
            return iter(()), report
        v = container.streams.video[0]
        starts = {s.index: s.start_time or 0 for s in container.streams}
        tb, start = float(v.time_base), v.start_time or 0
        try:
            for packet in container.demux():
                if _track_end(packet, v.index, starts, report):
                    more = more or (packet.pts - start) * tb > after_s + _AFTER_EPS_S
        except av.error.FFmpegError as exc:
            report.demux_error = str(exc)
    if not more:
        return iter(()), report

    def frames() -> Iterator[tuple[np.ndarray, float | None]]:
        with _open_at_keyframe(path, after_s) as container:
            yield from decode(container, after_s=after_s, report=report, track_ends=False)

    return frames(), report


def _open_at_keyframe(path: Path, after_s: float):
    """:func:`_open_after`, or ``path`` opened afresh when that seek did not land on a keyframe.

    MPEG-TS seeks land on whichever packet is nearest (its demuxer takes every packet for a
    keyframe); decoding from there yields nothing until the next keyframe, maybe many seconds on.
    Decoding from the start is slower but loses nothing (:func:`decode` drops what is not wanted).
    """
    import av

    with _open_after(path, after_s) as container:
        videos = container.streams.video
        landed = next((p for p in container.demux(videos[0]) if p.size), None) if videos else None
        if videos and (landed is None or not landed.is_keyframe):
            return av.open(str(path), **_READ_OPTIONS)
    return _open_after(path, after_s)  # seek again: the peek used the packet up


def _open_after(path: Path, after_s: float):
    """Open ``path`` at the keyframe before ``after_s`` of its first video stream, else at its start.

    A stream that cannot seek (a raw ``.h264`` elementary stream refuses every seek, even to 0)
    is opened afresh instead: decoding starts at the beginning and frames at or before ``after_s``
    are dropped by :func:`decode`.
    """
    import av

    container = av.open(str(path), **_READ_OPTIONS)
    if not container.streams.video:
        return container
    v = container.streams.video[0]
    try:
        container.seek((v.start_time or 0) + int(after_s / float(v.time_base)), stream=v, backward=True)
    except av.error.FFmpegError:
        container.close()
        container = av.open(str(path), **_READ_OPTIONS)
    return container


def open_container(path: Path, display: str):
    """Open ``path`` with PyAV for decoding, or raise the :class:`VideoOpenError` that explains why not."""
    import av

    try:
        container = av.open(str(path), **_READ_OPTIONS)
    except av.error.FFmpegError as exc:
        raise unopenable_error(path, display, exc) from None
    if not container.streams.video:
        facts = _facts(container)
        container.close()
        raise VideoOpenError(
            f"{display} holds no video stream (found: {facts.streams}); this looks like an audio-only "
            "file. Pass a file with a video track (MP4, MKV, WebM, AVI, MOV or GIF)"
        )
    return container


def no_frames_error(display: str, facts: ContainerFacts | None, report: DecodeReport) -> VideoDecodeError:
    """The error for a file that opens but yields no frame at all."""
    what = facts.streams if facts else "unknown streams"
    return VideoDecodeError(
        f"{display} opened ({what}) but no frame could be decoded ({report.corrupt} undecodable packets): "
        "the file is damaged or its codec is not available here. Re-encode it, e.g. "
        "ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4, or copy it again"
    )


def unopenable_error(path: Path, display: str, exc: Exception) -> VideoOpenError:
    """A :class:`VideoOpenError` saying what the file looks like, why PyAV refused it (``exc``) and what to do."""
    found = describe_file(path)
    return VideoOpenError(
        f"cannot open {display} as a video: neither OpenCV nor FFmpeg/PyAV can read it (PyAV: {exc}). "
        f"Found: {found}. Valid inputs are video files (MP4, MKV, WebM, AVI, MOV, GIF). "
        "Copy or download the file again, or convert it: ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4"
    )


def describe_file(path: Path) -> str:
    """A few words on what a file that is not a readable video holds (from its first bytes)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    size = path.stat().st_size
    if not head:
        return "an empty file (0 bytes)"
    lower = head.lstrip()[:64].lower()
    if lower.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return f"an HTML/XML page of {size} bytes, not a video (a web or login page saved under a video name?)"
    if head[4:8] == b"ftyp":
        return _describe_mp4(path, size)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return f"a Matroska/WebM file of {size} bytes whose content is damaged or incomplete"
    if head.startswith(b"RIFF"):
        return f"a RIFF ({head[8:12].decode('ascii', 'replace')}) file of {size} bytes that has no readable video"
    for magic, kind in ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image")):
        if head.startswith(magic):
            return f"{kind}, not a video (put images in a folder and pass the folder)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        return f"a text file of {size} bytes starting with {text[:40]!r}, not a video"
    return f"{size} bytes of unrecognised binary data (starting with {head[:8].hex(' ')})"


def _describe_mp4(path: Path, size: int) -> str:
    """Walk the top-level MP4 boxes: a missing ``moov`` or a cut ``mdat`` means an incomplete file."""
    boxes: list[str] = []
    with open(path, "rb") as f:
        pos = 0
        while pos + 8 <= size and len(boxes) < 64:
            f.seek(pos)
            box_size, kind = struct.unpack(">I4s", f.read(8))
            if box_size == 1:
                box_size = struct.unpack(">Q", f.read(8))[0]
            elif box_size == 0:
                box_size = size - pos
            boxes.append(kind.decode("latin-1"))
            if box_size < 8 or pos + box_size > size:
                return (
                    f"an MP4/MOV file of {size} bytes cut off inside its '{boxes[-1]}' box"
                    + ("" if "moov" in boxes else " before its index (moov box)")
                    + ": an incomplete download, copy or recording"
                )
            pos += box_size
    if "moov" not in boxes:
        return f"an MP4/MOV file of {size} bytes without its index (moov box; boxes found: {', '.join(boxes)})"
    return f"an MP4/MOV file of {size} bytes whose video track cannot be decoded"
