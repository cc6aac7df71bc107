"""The live player's canvas: :class:`FrameView`, binary JPEG frames with acknowledgements."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .report import ACK_EVERY, ACK_TIMEOUT_S, MAX_UNACKED


class FrameView(anywidget.AnyWidget):
    """A ``<canvas>`` updated in place from binary JPEG frames, with acknowledgements.

    The kernel side keeps the flow-control state: :meth:`ready` says whether one more frame may be
    sent. Acknowledgements may arrive on a kernel subshell thread: the handler only updates
    counters under a lock.

    Attributes:
        front_end: a browser acknowledged at least one frame.
        acks: acknowledgements received (the page sends one per ``ack_every`` frames drawn, and
            one for each frame it did not draw; each covers every frame up to the one it names).
        ack_every: synced to the page: how many drawn frames one acknowledgement covers.
        in_view: ``False`` while every page that spoke says no view of the player is on screen
            (each canvas scrolled away or hidden, or its browser tab in the background); ``True``
            before any page has said anything, and while one page shows it (pages are told apart
            by the id each sends: a reloaded page or a second tab on the same kernel). The frame
            loop neither draws nor sends frames nobody can see.
        max_unacked: the most frames un-acknowledged at once (counted from the first
            acknowledgement: before it the view may be headless and does not wait); flow control
            keeps it at most :data:`MAX_UNACKED`.
    """

    _esm = Path(__file__).with_name("player.js")
    _css = ".ar-player-canvas { display: block; width: 100%; height: auto; background: #111; border-radius: 3px; }"
    _player_id = traitlets.Unicode("").tag(sync=True)
    width_px = traitlets.Int(640).tag(sync=True)
    # the page acknowledges this many drawn frames at once (cumulatively): fewer shell messages
    ack_every = traitlets.Int(ACK_EVERY).tag(sync=True)

    def __init__(self, *, width_px: int = 640, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(_player_id=uuid.uuid4().hex, width_px=width_px)
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = -1
        self._sent_at: dict[int, float] = {}  # un-acked seq -> clock() when sent
        self._not_shown: list[int] = []
        self.front_end = False  # a browser acknowledged at least one frame
        self.acks = 0
        self.max_unacked = 0
        self.browser_error: str | None = None
        self._pages_in_view: dict[str, bool] = {}  # page id -> what it said last
        self.on_msg(self._on_page_msg)

    @property
    def in_view(self) -> bool:
        """A page shows the player, or none has said anything (see the class docstring)."""
        with self._lock:
            return not self._pages_in_view or any(self._pages_in_view.values())

    def _on_page_msg(self, _widget: Any, content: dict, _buffers: list) -> None:
        if content.get("type") == "view" and isinstance(content.get("in_view"), bool):
            with self._lock:
                self._pages_in_view[str(content.get("page", ""))] = content["in_view"]
            return
        if content.get("type") != "ack":
            return
        try:
            seq = int(content["seq"])
        except (KeyError, TypeError, ValueError):
            return  # not from our front end: ignore
        with self._lock:
            self.front_end = True
            self.acks += 1
            for s in [s for s in self._sent_at if s <= seq]:
                del self._sent_at[s]
            if content.get("shown") is False:
                self._not_shown.append(seq)
            if content.get("error"):
                self.browser_error = str(content["error"])

    def ready(self) -> bool:
        """True when one more frame may be sent now.

        Fewer than :data:`MAX_UNACKED` frames in flight; or no front end has ever answered (do not
        wait for acks that never come); or the oldest frame in flight is older than
        :data:`ACK_TIMEOUT_S` (lost: forget it).
        """
        with self._lock:
            if len(self._sent_at) < MAX_UNACKED or not self.front_end:
                return True
            if self._clock() - min(self._sent_at.values()) > ACK_TIMEOUT_S:
                self._sent_at.clear()
                return True
            return False

    def send_frame(self, jpeg: bytes) -> int:
        """Send one JPEG to every view; returns its sequence number."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._sent_at[seq] = self._clock()
            if len(self._sent_at) > 64:  # never acked (no front end): keep the table small
                del self._sent_at[min(self._sent_at)]
            if self.front_end:
                self.max_unacked = max(self.max_unacked, len(self._sent_at))
        self.send({"type": "frame", "seq": seq}, buffers=[jpeg])
        return seq

    def take_not_shown(self) -> list[int]:
        """Sequence numbers the browser received but did not draw (replaced or undecodable)."""
        with self._lock:
            out, self._not_shown = self._not_shown, []
        return out
