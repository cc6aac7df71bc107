"""The notebook's live player: a paced canvas with labels, Play / Pause / Stop.

- :mod:`~actionrec.notebook.player.report`: :class:`PlayerReport` and the flow-control constants
- :mod:`~actionrec.notebook.player.view`: :class:`FrameView`, the canvas
- :mod:`~actionrec.notebook.player.playback`: the frame loop (pacing, drawing)
- :mod:`~actionrec.notebook.player.widget`: :class:`LivePlayer`
"""

from .report import ACK_TIMEOUT_S, MAX_UNACKED, STATUS_EVERY_S, STOP_REASONS, PlayerReport
from .view import FrameView
from .widget import LivePlayer

__all__ = ["ACK_TIMEOUT_S", "MAX_UNACKED", "STATUS_EVERY_S", "STOP_REASONS", "FrameView", "LivePlayer", "PlayerReport"]
