"""What a browser's ``<video>`` plays, and a browser-playable copy of what it does not.

Browsers play H.264, VP8, VP9 and AV1 in MP4 or WebM; an XVID or MJPEG AVI, an HEVC MP4 (in
Chromium without platform decoders) or an MKV does not. :func:`browser_playability` decides from
the container and the codec PyAV probes; :func:`transcode_for_browser` writes an H.264 MP4 copy
(through :class:`~actionrec.export.video.AnnotatedVideoWriter`, so: yuv420p, ``+faststart``, even
sizes, the source's timestamps), atomically.

Example:
    >>> browser_playability("clip.avi")  # doctest: +SKIP
    BrowserPlayability(playable=False, codec='mjpeg', container='.avi', reason='...')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExportError
from .video import AnnotatedVideoWriter

BROWSER_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
BROWSER_CONTAINERS = frozenset({".mp4", ".m4v", ".webm"})


@dataclass(frozen=True)
class BrowserPlayability:
    """Whether browsers play a video file as it is.

    Attributes:
        playable: ``True`` when the container and the video codec are ones browsers play.
        codec: the video codec PyAV reports (``"h264"``, ``"mjpeg"``, ``"hevc"``; ``""`` unknown).
        container: the file's suffix, lower case.
        reason: why not (empty when playable).
    """

    playable: bool
    codec: str
    container: str
    reason: str = ""


def browser_playability(path: str | os.PathLike[str]) -> BrowserPlayability:
    """Probe ``path`` (PyAV): do browsers play it as it is?

    Raises:
        FileNotFoundError: ``path`` is not a file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no video at {p}")
    container = p.suffix.lower()
    import av

    try:
        with av.open(str(p)) as f:
            codec = f.streams.video[0].codec_context.name if f.streams.video else ""
    except (av.error.FFmpegError, OSError) as exc:
        return BrowserPlayability(False, "", container, f"PyAV cannot read it ({type(exc).__name__}: {exc})")
    if container not in BROWSER_CONTAINERS:
        return BrowserPlayability(False, codec, container, f"{codec or 'unknown'} video in {container or 'no suffix'}")
    if codec not in BROWSER_CODECS:
        return BrowserPlayability(False, codec, container, f"{codec or 'unknown'} video")
    return BrowserPlayability(True, codec, container)


def transcode_for_browser(source: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Write an H.264 MP4 copy of ``source`` that browsers play (atomically); returns ``path``.

    Raises:
        VideoOpenError: ``source`` cannot be opened.
        ExportError: no frames, no H.264 encoder, or ``path`` cannot be written.
    """
    from ..video.open import open_video

    out = Path(path)
    if out.suffix.lower() != ".mp4":
        raise ValueError(f"the browser copy is an H.264 .mp4, got {out.name!r}")
    with open_video(source, progress=False) as frames:
        fps = frames.info.fps or 25.0
        w, h = frames.info.size_wh
        with AnnotatedVideoWriter(out, fps=fps, size_wh=(w, h)) as sink:
            for frame in frames:
                sink.write(frame.image_bgr, frame.timestamp_s)
    if not out.is_file():
        raise ExportError(f"transcoding {source} gave no file at {out}")
    return out
