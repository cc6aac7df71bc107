"""Video sources: one ``source`` argument in, :class:`Frame` objects out.

- :mod:`~actionrec.video.core`: the types (:class:`Frame`, :class:`VideoInfo`, :class:`VideoStats`,
  :class:`VideoSource`)
- :mod:`~actionrec.video.open`: :func:`open_video`, the one entry point
- :mod:`~actionrec.video.files` (OpenCV) and :mod:`~actionrec.video.pyav` (the fallback decoder):
  video files
- :mod:`~actionrec.video.live`: cameras and streams; :mod:`~actionrec.video.frames`: image folders and iterables
"""

from .core import DEFAULT_IMAGE_FPS, IMAGE_SUFFIXES, Frame, TimestampGuard, VideoInfo, VideoSource, VideoStats
from .open import LIVE_SCHEMES, open_video

__all__ = [
    "DEFAULT_IMAGE_FPS",
    "IMAGE_SUFFIXES",
    "LIVE_SCHEMES",
    "Frame",
    "TimestampGuard",
    "VideoInfo",
    "VideoSource",
    "VideoStats",
    "open_video",
]
