"""Video sources: one ``source`` argument in, :class:`Frame` objects out.

- :mod:`~actionrec.video.core`: the types (:class:`Frame`, :class:`VideoInfo`, :class:`VideoStats`,
  :class:`VideoSource`) and the protocols higher layers satisfy (:class:`LiveFrameSource`,
  :class:`Capture`, :data:`FrameFilter`)
- :mod:`~actionrec.video.open`: :func:`open_video`, the one entry point (:func:`aopen_video` for
  async code and async sources), and :func:`resolve_source`
  (what a ``source`` argument is: camera, stream, file, folder, upload, live source, frames)
- :mod:`~actionrec.video.files` (OpenCV) and :mod:`~actionrec.video.pyav` (the fallback decoder):
  video files; :mod:`~actionrec.video.sampled`: the file pipeline's sampled decode (PyAV, threaded,
  pixels converted only for the model crop of sampled frames)
- :mod:`~actionrec.video.live`: cameras and streams; :mod:`~actionrec.video.frames`: image folders and iterables
"""

from .core import (
    DEFAULT_IMAGE_FPS,
    IMAGE_SUFFIXES,
    Capture,
    CroppableFrame,
    Frame,
    FrameFilter,
    FrameNeed,
    LiveFrameSource,
    TimestampGuard,
    VideoInfo,
    VideoSource,
    VideoStats,
)
from .open import LIVE_SCHEMES, ResolvedSource, SourceLike, aopen_video, open_video, resolve_source

__all__ = [
    "DEFAULT_IMAGE_FPS",
    "IMAGE_SUFFIXES",
    "LIVE_SCHEMES",
    "Capture",
    "CroppableFrame",
    "Frame",
    "FrameFilter",
    "FrameNeed",
    "LiveFrameSource",
    "ResolvedSource",
    "SourceLike",
    "TimestampGuard",
    "VideoInfo",
    "VideoSource",
    "VideoStats",
    "aopen_video",
    "open_video",
    "resolve_source",
]
