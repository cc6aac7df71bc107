"""An in-process front end for the live player's benchmarks: it decodes and acknowledges every frame.

It stands in for ``player.js`` (JPEG-decode, draw, ``{type: "ack", seq, shown: true}``) without a
browser: the player's frames arrive through the view's comm ``send``, a thread of its own decodes
each one, and the acknowledgement goes to the view's own message handler, as a comm message would.
So the player runs with browser flow control (it sends a frame only when the page has room) and
never waits out an acknowledgement timeout.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable


class AckPage:
    """Decodes and acknowledges the frames a player's view sends (see the module docstring).

    Args:
        view: the player's canvas widget (``LivePlayer.view``); its ``send`` is replaced.
        clock: the time source of :meth:`on_frame`'s ``sent_s`` and ``shown_s``.

    Attributes:
        frames: frames acknowledged so far; ``undecodable``: those whose JPEG did not decode.
    """

    def __init__(self, view, clock: Callable[[], float] = time.perf_counter) -> None:
        self.view, self.clock = view, clock
        self.frames = self.undecodable = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, daemon=True, name="ack-page")
        self._thread.start()
        view.send = self.receive  # the widget's comm send: frames come here instead

    def receive(self, content: dict, buffers: list | None = None) -> None:
        """The view's ``send``: one frame (its sequence number and JPEG bytes), queued for the page."""
        self._queue.put((content["seq"], bytes(buffers[0]), self.clock(), self.sent(content)))

    def sent(self, content: dict) -> object:
        """What to remember of a frame when it is sent (for :meth:`on_frame`); ``None`` here."""
        return None

    def on_frame(self, *, seq: int, sent_s: float, shown_s: float, shown: bool, note: object) -> None:
        """Called on the page's thread once a frame is decoded, before it is acknowledged."""

    def _work(self) -> None:
        import cv2
        import numpy as np

        while True:
            seq, jpeg, sent_s, note = self._queue.get()
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            shown = image is not None
            self.frames += 1
            self.undecodable += not shown
            self.on_frame(seq=seq, sent_s=sent_s, shown_s=self.clock(), shown=shown, note=note)
            self.view._on_page_msg(self.view, {"type": "ack", "seq": seq, "shown": shown}, [])
