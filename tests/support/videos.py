"""Synthetic videos for tests, written with PyAV so timestamps (and variable rates) are exact.

Each frame is painted by ``paint(index, timestamp_s, image_bgr)``; the default paints a solid
colour and stamps the frame index as a 12-bit barcode in the top rows (32-px black/white cells,
robust to compression) so tests can tell which source frame a sample came from
(:func:`read_stamp`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

Painter = Callable[[int, float, np.ndarray], None]
STAMP_BITS = 12
STAMP_CELL = 32  # px; the barcode needs width >= STAMP_BITS * STAMP_CELL / 2 (cells shrink with width)


def solid(bgr: tuple[int, int, int]) -> Painter:
    def paint(index: int, t: float, img: np.ndarray) -> None:
        img[:] = bgr

    return paint


def switch(before_bgr: tuple[int, int, int], after_bgr: tuple[int, int, int], *, at_s: float) -> Painter:
    """One colour until ``at_s``, another from then on (a label change at a known time)."""

    def paint(index: int, t: float, img: np.ndarray) -> None:
        img[:] = before_bgr if t < at_s else after_bgr

    return paint


def stamp(img: np.ndarray, index: int) -> None:
    """Write ``index`` as a barcode over the full width of the top band."""
    h, w = img.shape[:2]
    cell_w = w // STAMP_BITS
    band = max(8, min(STAMP_CELL, h // 8))
    for bit in range(STAMP_BITS):
        on = (index >> bit) & 1
        img[:band, bit * cell_w : (bit + 1) * cell_w] = 255 if on else 0


def read_stamp(img: np.ndarray) -> int:
    """Inverse of :func:`stamp` on a (possibly compressed) full frame."""
    h, w = img.shape[:2]
    cell_w = w // STAMP_BITS
    band = max(8, min(STAMP_CELL, h // 8))
    value = 0
    for bit in range(STAMP_BITS):
        cell = img[2 : band - 2, bit * cell_w + 2 : (bit + 1) * cell_w - 2]
        if cell.mean() > 127:
            value |= 1 << bit
    return value


def make_video(
    path: Path,
    *,
    fps: float = 30.0,
    size_wh: tuple[int, int] = (320, 240),
    duration_s: float | None = 2.0,
    timestamps_s: Sequence[float] | None = None,
    paint: Painter | None = None,
    codec: str = "libx264",
    stamp_index: bool = True,
    rotation_deg: int = 0,
    options: dict[str, str] | None = None,
) -> Path:
    """Write a synthetic video and return its path.

    Args:
        path: output file; the container follows the suffix (.mp4, .mkv, .avi, .webm).
        fps: nominal rate (also the time base when ``timestamps_s`` is not given).
        size_wh: frame size (width, height).
        duration_s: length at ``fps`` (ignored when ``timestamps_s`` is given).
        timestamps_s: explicit presentation times for a variable-rate file.
        paint: how to draw frame ``i`` at time ``t`` (default: mid grey).
        codec: PyAV encoder name: ``libx264``, ``mpeg4``, ``mjpeg``, ``libvpx-vp9``...
        stamp_index: stamp the frame index barcode (see :func:`read_stamp`).
        rotation_deg: display-matrix rotation metadata (MP4/MOV only).
        options: encoder options replacing the defaults (e.g. libx264 ``{"preset": "fast"}``, which
            writes B-frames, some of them non-reference; the default ``ultrafast`` writes none).
    """
    import av

    if timestamps_s is None:
        n = max(1, round(duration_s * fps))
        timestamps_s = [i / fps for i in range(n)]
    paint = paint or solid((128, 128, 128))
    w, h = size_wh
    path.parent.mkdir(parents=True, exist_ok=True)
    time_base = Fraction(1, 90000) if path.suffix != ".avi" else Fraction(1, round(fps))
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "12", "preset": "ultrafast", "g": "30"}
        if codec == "mpeg4" or codec == "mjpeg":
            stream.options = {"qscale": "2"}
        if options is not None:
            stream.options = options
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        img = np.zeros((h, w, 3), np.uint8)
        for i, t in enumerate(timestamps_s):
            paint(i, t, img)
            if stamp_index:
                stamp(img, i)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = round(t / time_base)
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return set_rotation(path, rotation_deg) if rotation_deg else path


def set_rotation(path: Path, degrees: int) -> Path:
    """Write a display matrix into the MP4 track header (what phones do)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    offset = at + 8 + (32 if data[at + 4] == 1 else 20) + 16  # after version/flags, times, ids, layer...
    a, b, c, d = {90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}[degrees]
    struct.pack_into(">9i", data, offset, a << 16, b << 16, 0, c << 16, d << 16, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(data))
    return path


def make_raw_h264(
    path: Path, *, frames: int, grey_step: int, rate: int = 10, size_wh: tuple[int, int] = (64, 48)
) -> Path:
    """A raw H.264 elementary stream (a ``.h264`` file as a Raspberry Pi camera writes): no container, no
    timestamps, no length, and it refuses every seek. Frame ``i`` is grey ``grey_step * i``."""
    import av

    w, h = size_wh
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            image = np.full((h, w, 3), grey_step * i, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, "bgr24")))
        container.mux(stream.encode())
    return path
