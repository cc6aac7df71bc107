"""The notebook's live player: a paced canvas with labels, Play / Pause / Stop.

- :mod:`~actionrec.notebook.player.report`: :class:`PlayerReport`, the flow-control constants and
  what the frame loop is handed (:class:`PlaybackSettings`, :class:`PlaybackControls`, :class:`FrameSink`)
- :mod:`~actionrec.notebook.player.view`: :class:`FrameView`, the canvas (a :class:`FrameSink`)
- :mod:`~actionrec.notebook.player.playback`: the frame loop (pacing, drawing); it never sees the widget
- :mod:`~actionrec.notebook.player.widget`: :class:`LivePlayer`
"""

from .report import (
    ACK_EVERY,
    ACK_TIMEOUT_S,
    MAX_UNACKED,
    STATUS_EVERY_S,
    STOP_REASONS,
    FrameSink,
    PlaybackControls,
    PlaybackSettings,
    PlayerReport,
)
from .view import FrameView
from .widget import LivePlayer

__all__ = [
    "ACK_EVERY",
    "ACK_TIMEOUT_S",
    "MAX_UNACKED",
    "STATUS_EVERY_S",
    "STOP_REASONS",
    "FrameSink",
    "FrameView",
    "LivePlayer",
    "PlaybackControls",
    "PlaybackSettings",
    "PlayerReport",
]
