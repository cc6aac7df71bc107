"""Sampled decode of video files: PyAV's threaded decoder, pixels converted only where a sample needs them.

The file pipeline needs every frame's time but the pixels of only the frames grid samples take,
and of those only the model's centre square. On the bench file (1280x720 H.264, 30 fps, 16 samples
per second) OpenCV's path decodes every frame and converts 16 of 30 whole frames to BGR; here:

- frames come out of PyAV's frame-threaded decoder (``thread_type = "AUTO"``) still in YUV, as
  :class:`YuvFrame` objects. Only :meth:`YuvFrame.crop_bgr`, called by the encoder stage for the
  samples it encodes, converts pixels: the Y/U/V planes of the requested rectangle (widened to even
  coordinates for the 4:2:0 chroma) are copied into a small frame and swscale converts just that to
  BGR with the source frame's colour matrix and range (BT.709 where the file says so, as OpenCV
  does), then the rectangle is rotated upright. swscale's unscaled YUV→BGR conversion takes each
  pixel from its own luma and its 2x2 block's chroma, so the crop is bit-identical to the same
  rectangle of a whole-frame conversion, which is what OpenCV does (measured: 0 grey levels on the
  bench file, the test clips and the MP4/MOV clips of ``../shared/media``;
  ``tests/test_sampled_decode.py``). Times use OpenCV's arithmetic (``CAP_PROP_POS_MSEC`` x 0.001),
  so a grid point exactly halfway between two frames goes to the same one.
- a non-reference frame (nothing else is predicted from it: H.264/HEVC B-frames, ~45 % of the bench
  file's frames) that no grid point can take is not decoded at all (``skip_frame = "NONREF"`` for
  its packet). Whether a grid point can take a frame depends on its neighbours in presentation
  order, so packets are demuxed :data:`LOOKAHEAD` ahead (more than H.264's deepest reordering):
  the neighbours of a packet's time are then known before it is decoded. A frame is left undecoded
  only when ``frame_need(prev_s, t_s, next_s)`` says no grid point takes it, all three times are
  valid and distinct, and no packet failed to decode and no timestamp was replaced so far (a lost
  or moved neighbour could make it the nearest frame): the grid samples are then exactly those of
  decoding everything. Skipped frames still count in :attr:`VideoStats.frames_decoded` and take
  their index, so counts and frame indices equal OpenCV's.

The rule (:func:`open_sampled`): the file pipeline (:meth:`Recognizer.encode`, unless
``AR_FILE_DECODER=opencv``) asks for the sampled decode by passing ``frame_need``; a local file gets
it when PyAV opens it as MP4/MOV (the ``mov,mp4`` demuxer, whose timestamps OpenCV reads the same
way), its first video stream decodes to 8-bit 4:2:0 YUV in limited range (``yuv420p``, not
``yuvj420p``/full range: OpenCV's conversion of those is not reproduced here) and has even width and
height. Anything else, or a file whose first frame does not decode, goes the OpenCV way (with its
PyAV fallback) exactly as before. Corrupt packets are skipped and counted as in the fallback decoder;
timestamps go through the same :class:`~actionrec.video.core.TimestampGuard`.

Not thread-safe: one consumer thread converts (the encoder stage), while the decoding runs in the
thread that iterates (the reader stage).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .core import BEFORE_START_S, MAX_TIMESTAMP_S, FrameNeed, TimestampGuard, VideoInfo, VideoSource, VideoStats, chain
from .files import warn_truncated
from .pyav import _READ_OPTIONS, DecodeReport, _track_end, probe

LOOKAHEAD = 20  # packets demuxed ahead: H.264's reordering is at most 16 frames
SAMPLED_FORMATS = ("mov", "mp4")  # PyAV's container.format.name is "mov,mp4,m4a,3gp,3g2,mj2"
_JPEG_RANGE = 2  # AVCOL_RANGE_JPEG (full range)
_ROTATE_CODES = {90: 0, 180: 1, 270: 2}  # cv2.ROTATE_90_CLOCKWISE, ROTATE_180, ROTATE_90_COUNTERCLOCKWISE


class _Converter:
    """Turns a rectangle of a decoded YUV 4:2:0 frame into BGR; one per source (one swscale context)."""

    def __init__(self, stats: VideoStats) -> None:
        from av.video.reformatter import VideoReformatter

        self._reformatter = VideoReformatter()
        self._stats = stats

    def coded_bgr(self, frame, x: int, y: int, w: int, h: int) -> np.ndarray:
        """BGR of the rectangle ``(x, y, w, h)`` of the frame as coded (before rotation)."""
        import av

        x0, y0 = x & ~1, y & ~1  # 4:2:0: chroma covers 2x2 blocks, so copy whole blocks
        x1, y1 = min(frame.width, (x + w + 1) & ~1), min(frame.height, (y + h + 1) & ~1)
        small = av.VideoFrame(x1 - x0, y1 - y0, "yuv420p")
        for i, (dst, src) in enumerate(zip(small.planes, frame.planes[:3], strict=True)):
            d = np.frombuffer(dst, np.uint8).reshape(-1, dst.line_size)
            s = np.frombuffer(src, np.uint8).reshape(-1, src.line_size)
            f = 1 if i == 0 else 2  # the chroma planes are half size both ways
            sx, sy, sw, sh = x0 // f, y0 // f, (x1 - x0) // f, (y1 - y0) // f
            d[:sh, :sw] = s[sy : sy + sh, sx : sx + sw]
        # The source's colour matrix (BT.709 on HD files that say so), as OpenCV's conversion uses it.
        bgr = self._reformatter.reformat(
            small, format="bgr24", src_colorspace=frame.colorspace, src_color_range=frame.color_range, threads=1
        ).to_ndarray()
        self._stats.frames_converted += 1
        return bgr[y - y0 : y - y0 + h, x - x0 : x - x0 + w]


class YuvFrame:
    """One decoded frame kept in YUV: its time, its upright size, its pixels on demand.

    Satisfies :class:`~actionrec.video.core.CroppableFrame`. Attributes as :class:`Frame`, plus
    ``size_wh`` (upright width, height) and ``rotation_deg`` (clockwise, applied on conversion).
    """

    __slots__ = ("_converter", "_frame", "index", "rotation_deg", "size_wh", "timestamp_s")

    def __init__(self, frame, index: int, timestamp_s: float, rotation_deg: int, converter: _Converter) -> None:
        self._frame, self._converter = frame, converter
        self.index, self.timestamp_s, self.rotation_deg = index, timestamp_s, rotation_deg
        w, h = frame.width, frame.height
        self.size_wh = (h, w) if rotation_deg in (90, 270) else (w, h)

    @property
    def image_bgr(self) -> np.ndarray:
        """The whole upright frame in BGR (a full conversion: the pipeline never needs it)."""
        return self.crop_bgr(0, 0, *self.size_wh)

    def crop_bgr(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        """The upright rectangle ``(x, y, w, h)`` as HxWx3 uint8 BGR; only its pixels are converted.

        Raises:
            ValueError: the rectangle is empty or not inside the frame.
        """
        fw, fh = self.size_wh
        if w < 1 or h < 1 or x < 0 or y < 0 or x + w > fw or y + h > fh:
            raise ValueError(f"crop (x={x}, y={y}, w={w}, h={h}) is not inside the {fw}x{fh} frame")
        cw, ch = self._frame.width, self._frame.height  # as coded
        r = self.rotation_deg
        # The coded rectangle that the rotation turns into (x, y, w, h) (see cv2.rotate's codes).
        rect = {
            0: (x, y, w, h),
            90: (y, ch - x - w, h, w),
            180: (cw - x - w, ch - y - h, w, h),
            270: (cw - y - h, x, h, w),
        }[r]
        bgr = self._converter.coded_bgr(self._frame, *rect)
        if r == 0:
            return bgr
        import cv2

        return cv2.rotate(bgr, _ROTATE_CODES[r])

    def __repr__(self) -> str:
        w, h = self.size_wh
        return f"YuvFrame(index={self.index}, timestamp_s={self.timestamp_s:.3f}, size={w}x{h})"


def sampled_reason(container) -> str | None:
    """Why ``container`` cannot take the sampled decode (``None``: it can); see the module docstring."""
    if not set(container.format.name.split(",")) & set(SAMPLED_FORMATS):
        return f"container {container.format.name} is not MP4/MOV"
    if not container.streams.video:
        return "no video stream"
    context = container.streams.video[0].codec_context
    if context is None or context.format is None:
        return "no decoder or unknown pixel format"
    if context.format.name != "yuv420p" or context.color_range == _JPEG_RANGE:
        return f"pixel format {context.format.name} (range {context.color_range}), not limited-range yuv420p"
    if context.width % 2 or context.height % 2:
        return f"odd frame size {context.width}x{context.height}"
    return None


def open_sampled(path: Path, display: str, *, fps: float | None, frame_need: FrameNeed) -> VideoSource | None:
    """Open ``path`` for the sampled decode, or ``None`` when the rule sends it the OpenCV way.

    Args:
        path: an existing local file.
        display: the name to show.
        fps: rate to assume when the file states none.
        frame_need: which frames a consumer needs (a non-reference frame it declines is not decoded).

    Returns:
        A source of :class:`YuvFrame` objects (first frame decoded), or ``None``.
    """
    import av

    try:
        container = av.open(str(path), **_READ_OPTIONS)
    except av.error.FFmpegError:
        return None
    try:
        if sampled_reason(container) is not None:
            container.close()
            return None
        stats, report = VideoStats(), DecodeReport()
        converter = _Converter(stats)
        frames = _decode(container, report=report, stats=stats, frame_need=frame_need)
        first = next(frames, None)
    except BaseException:
        container.close()
        raise
    if first is None or first[0].format.name != "yuv420p" or first[0].color_range == _JPEG_RANGE:
        container.close()
        return None
    facts = probe(path)
    nominal, count, duration = facts.trusted(None) if facts else (None, None, None)
    guard = TimestampGuard(stats, 1.0 / (nominal or fps or 30.0), display)
    rotation = -int(first[0].rotation or 0) % 360
    size = (first[0].height, first[0].width) if rotation in (90, 270) else (first[0].width, first[0].height)
    info = VideoInfo(display, size, nominal or fps, count, duration, False, rotation, decoder="pyav-sampled")

    def checked() -> Iterator[YuvFrame]:
        prev = BEFORE_START_S
        try:
            for frame, index, t in chain(first, frames):
                if t is None or not prev < t < MAX_TIMESTAMP_S:
                    t = guard.fix(prev, index, t)
                prev = t
                stats.last_timestamp_s = t
                yield YuvFrame(frame, index, t, -int(frame.rotation or 0) % 360, converter)
        finally:
            container.close()
        stats.frames_corrupt += report.corrupt
        stats.truncated = report.truncated(facts, guard.step_s)
        warn_truncated(display, facts, report, stats)

    return VideoSource(info, stats, checked(), on_close=container.close)


def _decode(container, *, report: DecodeReport, stats: VideoStats, frame_need: FrameNeed):
    """Yield ``(av_frame, index, t_s or None)`` in presentation order, leaving unneeded non-reference frames out.

    ``index`` counts every frame of the source (left-out ones too); ``stats.frames_decoded`` and
    ``stats.nonref_skipped`` are kept up to date.
    """
    import av

    v = container.streams.video[0]
    v.thread_type = "AUTO"
    context = v.codec_context
    tb, start = float(v.time_base), v.start_time or 0
    starts = {s.index: s.start_time or 0 for s in container.streams}
    ahead: deque = deque()
    behind: deque[int] = deque(maxlen=LOOKAHEAD)  # pts of the packets already sent to the decoder
    asked: list[int] = []  # heap: pts of packets sent with skip_frame NONREF, not yet seen decoded
    skipping = False
    index = 0

    def seconds(pts: int) -> float:
        # OpenCV's CAP_PROP_POS_MSEC arithmetic, then its * 0.001: the same floats, so grid points
        # that fall exactly halfway between two frames are decided the same way on both paths.
        return (pts - start) * tb * 1000.0 * 0.001

    def may_skip(pts: int | None) -> bool:
        if pts is None or report.corrupt or stats.timestamp_fallbacks:
            return False
        near = [p.pts for p in ahead if p.pts is not None] + list(behind)
        before = [q for q in near if q < pts]
        after = [q for q in near if q > pts]
        if not before or not after or pts in near:
            return False
        return not frame_need(seconds(max(before)), seconds(pts), seconds(min(after)))

    def send(packet):
        nonlocal skipping
        skip = may_skip(packet.pts) if packet.size else False
        if skip != skipping:
            context.skip_frame = "NONREF" if skip else "DEFAULT"
            skipping = skip
        if skip:
            heapq.heappush(asked, packet.pts)
        if packet.pts is not None:
            behind.append(packet.pts)
        try:
            decoded = packet.decode()
        except av.error.FFmpegError:
            report.corrupt += 1
            return
        yield from emit(decoded)

    def emit(decoded):
        nonlocal index
        for frame in decoded:
            while asked and frame.pts is not None and asked[0] <= frame.pts:
                if heapq.heappop(asked) < frame.pts:  # sent before this frame, never came out: left undecoded
                    stats.nonref_skipped += 1
                    stats.frames_decoded += 1
                    index += 1
            stats.frames_decoded += 1
            yield frame, index, None if frame.pts is None else seconds(frame.pts)
            index += 1

    packets = container.demux()
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as exc:  # the container ends inside a packet: keep what decoded
            report.demux_error = str(exc)
            break
        _track_end(packet, v.index, starts, report)
        if packet.stream.index != v.index:
            continue
        ahead.append(packet)
        if len(ahead) > LOOKAHEAD:
            yield from send(ahead.popleft())
    while ahead:
        yield from send(ahead.popleft())
    if skipping:
        context.skip_frame = "DEFAULT"
    try:
        drained = list(context.decode(None))  # the frame threads' last frames (none after the flush packet)
    except av.error.FFmpegError:
        drained = []
    yield from emit(drained)
    stats.nonref_skipped += len(asked)  # sent after the last frame that came out
    stats.frames_decoded += len(asked)
