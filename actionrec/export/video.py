"""The annotated video export: browser-playable H.264/MP4 or VP9/WebM, written atomically.

Part of :mod:`actionrec.export` (which re-exports these names); kept apart so each file holds one
concern. PyAV (``av``) and OpenCV are imported when a video is written, not at import time.

Example:
    >>> from actionrec.pipeline.preprocess import crop_rect
    >>> write_annotated_video(frames, timeline, "data/out/clip.annotated.mp4",
    ...                       crop_fn=lambda img: crop_rect((img.shape[1], img.shape[0])))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExportError
from ..render import annotate, prediction_at
from ..results import Timeline

VIDEO_CODECS = {".mp4": "h264", ".webm": "vp9"}
_ENCODERS = {"h264": "libx264", "vp9": "libvpx-vp9"}
_TIME_BASES = {"h264": Fraction(1, 90000), "vp9": Fraction(1, 1000)}
_ENCODER_OPTIONS = {
    "h264": {"preset": "veryfast", "crf": "23"},
    "vp9": {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b:v": "0", "row-mt": "1"},
}
CropFn = Callable[[np.ndarray], tuple[int, int, int, int]]


class AnnotatedVideoWriter:
    """Browser-playable video: H.264/yuv420p in MP4 (``+faststart``) or VP9 in WebM.

    Frames are stamped with their source timestamps minus ``start_s`` (so variable-rate sources
    keep their timing, and with the default ``start_s=0`` subtitles line up with the source). Odd
    frame sizes lose their last row/column (yuv420p needs even sizes); frames of another size than
    ``size_wh`` are resized. The file appears under ``path`` only when the ``with`` block ends
    without an exception; otherwise nothing is left behind.

    Args:
        path: ``.mp4`` (H.264) or ``.webm`` (VP9).
        fps: nominal frame rate (rate-control hint and container average rate).
        size_wh: frame size (width, height) the frames will have.
        codec: ``"h264"`` or ``"vp9"``; ``None`` picks it from the suffix.
        start_s: source time placed at 0 in the output (``None``: the first frame's time, e.g.
            for a camera's wall-clock timestamps); earlier frames are moved up to 0.

    Example:
        >>> with AnnotatedVideoWriter("out.mp4", fps=30, size_wh=(640, 360)) as sink:  # doctest: +SKIP
        ...     for frame in frames:
        ...         sink.write(frame.image_bgr, frame.timestamp_s)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fps: float,
        size_wh: tuple[int, int],
        codec: str | None = None,
        start_s: float | None = 0.0,
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_CODECS:
            raise ValueError(f"annotated video must be .mp4 (H.264) or .webm (VP9), got {self.path.name!r}")
        self.codec = codec or VIDEO_CODECS[suffix]
        if self.codec != VIDEO_CODECS[suffix]:
            raise ValueError(f"codec {self.codec!r} does not go in {suffix}: use .mp4 for 'h264', .webm for 'vp9'")
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps!r}")
        w, h = (int(v) for v in size_wh)
        if w < 2 or h < 2:
            raise ValueError(f"size_wh must be at least 2x2 pixels, got {size_wh}")
        self.fps, self.size_wh, self.start_s = float(fps), (w, h), start_s
        self.out_wh = (w - w % 2, h - h % 2)
        self.frames_written = 0
        self._stack: contextlib.ExitStack | None = None
        self._last_pts = -1

    def __enter__(self) -> AnnotatedVideoWriter:
        import av

        encoder = _ENCODERS[self.codec]
        if encoder not in av.codecs_available:
            raise ExportError(
                f"this PyAV build has no {encoder} encoder for {self.codec}; install PyAV from PyPI "
                "(`pip install av`, its wheels include libx264 and libvpx) or choose the other format"
            )
        from ..atomic import atomic_write

        stack = contextlib.ExitStack()
        tmp = stack.enter_context(atomic_write(self.path))
        try:
            fmt = "mp4" if self.codec == "h264" else "webm"
            opts = {"movflags": "+faststart"} if fmt == "mp4" else {}
            self._container = av.open(str(tmp), "w", format=fmt, container_options=opts)
            stack.callback(self._container.close)
            rate = Fraction(self.fps).limit_denominator(1001)
            stream = self._container.add_stream(encoder, rate=rate)
            stream.width, stream.height = self.out_wh
            stream.pix_fmt = "yuv420p"
            stream.options = {**_ENCODER_OPTIONS[self.codec], "g": str(max(1, round(self.fps * 2)))}
            stream.codec_context.time_base = stream.time_base = self._time_base = _TIME_BASES[self.codec]
            self._stream = stream
        except BaseException:
            stack.__exit__(*sys.exc_info())
            raise
        self._stack = stack
        return self

    def write(self, frame_bgr: np.ndarray, timestamp_s: float) -> None:
        """Encode one ``H x W x 3`` uint8 BGR frame shown at source time ``timestamp_s``.

        Timestamps that do not increase are nudged one tick forward so the muxer accepts them.
        """
        import av
        import cv2

        if self._stack is None:
            raise ExportError(f"{self.path}: the writer is not open; use `with AnnotatedVideoWriter(...) as sink:`")
        if self.start_s is None:
            self.start_s = float(timestamp_s)
        h, w = frame_bgr.shape[:2]
        if (w, h) != self.size_wh:
            frame_bgr = cv2.resize(frame_bgr, self.size_wh, interpolation=cv2.INTER_AREA)
        ow, oh = self.out_wh
        image = np.ascontiguousarray(frame_bgr[:oh, :ow])
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        pts = max(self._last_pts + 1, round((timestamp_s - self.start_s) / self._time_base))
        frame.pts, frame.time_base, self._last_pts = pts, self._time_base, pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        stack, self._stack = self._stack, None
        if stack is None:
            return
        if exc_type is None:
            try:
                if self.frames_written == 0:
                    raise ExportError(f"no frames were written to {self.path}: the source gave no frames")
                for packet in self._stream.encode(None):  # flush the encoder
                    self._container.mux(packet)
            except BaseException:
                if not stack.__exit__(*sys.exc_info()):
                    raise
                return
        stack.__exit__(exc_type, exc, tb)


def write_annotated_video(
    frames: Iterable[Any],
    timeline: Timeline,
    path: str | os.PathLike[str],
    *,
    crop_fn: CropFn | None = None,
    show_stats: bool = False,
    top_k: int | None = None,
    threshold: float = 0.0,
    fps: float | None = None,
) -> Path:
    """Draw each frame's current prediction, crop and time, and encode (see :class:`AnnotatedVideoWriter`).

    Each frame shows :func:`~actionrec.render.prediction_at` its source time: the latest window
    that had ended by then, as a live viewer would have seen it.

    Args:
        frames: objects with ``image_bgr``, ``index`` and ``timestamp_s`` (e.g. ``actionrec.video.Frame``).
        timeline: the predictions to draw.
        path: ``.mp4`` (H.264) or ``.webm`` (VP9).
        crop_fn: ``crop_fn(image_bgr) -> (x, y, w, h)``, the model crop to outline (``None``: none).
        show_stats: also draw the window's stage timings and coverage.
        top_k: labels drawn per frame, as in :func:`actionrec.render.draw_labels`.
        threshold: top-1 probability below which a frame says "uncertain".
        fps: nominal rate; ``None`` estimates it from the timeline (30 when unknown).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ExportError: no frames, no encoder, or the file cannot be written (nothing is left behind).
    """
    if fps is None:
        known = timeline.frames_decoded > 1 and timeline.duration_s > 0
        fps = timeline.frames_decoded / timeline.duration_s if known else 30.0
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ExportError(f"no frames to write to {path}: the source gave no frames")
    h, w = first.image_bgr.shape[:2]
    with AnnotatedVideoWriter(path, fps=fps, size_wh=(w, h)) as sink:
        for frame in _chain(first, it):
            p = prediction_at(timeline, frame.timestamp_s)
            image = annotate(
                frame.image_bgr,
                prediction=p,
                crop_xywh=crop_fn(frame.image_bgr) if crop_fn is not None else None,
                timestamp_s=frame.timestamp_s,
                top_k=top_k,
                threshold=threshold,
                timings=p.timings if show_stats and p is not None else None,
                coverage_s=p.coverage_s if show_stats and p is not None else None,
            )
            sink.write(image, frame.timestamp_s)
    return Path(path)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
