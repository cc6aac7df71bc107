"""Ctrl+C in tests, whatever disposition of SIGINT the suite inherited.

A shell that starts the suite in the background without job control (``cmd &`` in a script, as
CI runners and ``nohup``-style launchers do) starts it with SIGINT ignored. Python then installs no
KeyboardInterrupt handler, ``_thread.interrupt_main()`` does nothing, and every child process
inherits the ignored signal: a Ctrl+C test would see its signal vanish and the run finish.
"""

from __future__ import annotations

import signal

import pytest


def python_ctrl_c_here(request: pytest.FixtureRequest) -> None:
    """Python's Ctrl+C handler in this process until the test ends (then what it was)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))


def default_ctrl_c_in_child() -> None:
    """``preexec_fn`` for a child that must see Ctrl+C: SIGINT's default action (Python's handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
