"""A real OpenCV capture with faults injected, for the video tests (``capture_factory=``)."""

from __future__ import annotations

import cv2


class Capture:
    """A real OpenCV capture that can refuse to open, stop early or lie about POS_MSEC or its fps."""

    def __init__(self, path, *, opened=True, stop_after=None, times_ms=None, fps=None):
        self.cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        self.opened, self.stop_after, self.times_ms, self.fps = opened, stop_after, times_ms, fps
        self.reads = self.releases = 0

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return self.opened and self.cap.isOpened()

    def read(self):
        if self.stop_after is not None and self.reads >= self.stop_after:
            return False, None
        self.reads += 1
        return self.cap.read()

    def get(self, prop):
        if prop == cv2.CAP_PROP_POS_MSEC and self.times_ms is not None:
            return self.times_ms[self.reads - 1]
        if prop == cv2.CAP_PROP_FPS and self.fps is not None:
            return self.fps
        return self.cap.get(prop)

    def release(self):
        self.releases += 1
        self.cap.release()
