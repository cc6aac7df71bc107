"""Ray worker subclasses for tests: ones that die on a marker file, one that waits on a gate file.

Importable by the Ray worker processes (they run in the driver's working folder, the checkout).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from actionrec.distributed import VideoWorker


class DyingWorker(VideoWorker):
    """``os._exit(1)`` (no cleanup, like a crash) when analysing a file whose name contains ``AR_TEST_DIE_ON``.

    With ``AR_TEST_DIE_MARKER`` set it dies only while that file exists, and removes it first: it
    dies once. Without the marker it dies every time.
    """

    def analyze(self, item, **kwargs):
        name = os.environ.get("AR_TEST_DIE_ON")
        marker = os.environ.get("AR_TEST_DIE_MARKER")
        if name and name in Path(item).name:
            if marker is None:
                os._exit(1)
            if Path(marker).exists():
                Path(marker).unlink()
                os._exit(1)
        return super().analyze(item, **kwargs)


class ChunkDyingWorker(VideoWorker):
    """``os._exit(1)`` on a chunk after window 0 while ``AR_TEST_DIE_MARKER`` exists (removed first: once)."""

    def analyze_chunk(self, item, *, chunk, **kwargs):
        marker = Path(os.environ["AR_TEST_DIE_MARKER"])
        if chunk.first_window > 0 and marker.exists():
            marker.unlink()
            os._exit(1)
        return super().analyze_chunk(item, chunk=chunk, **kwargs)


class GatedWorker(VideoWorker):
    """On a file named ``*slow*``: writes its pid to ``AR_TEST_STARTED``, then waits (up to 120 s) for nothing."""

    def analyze(self, item, **kwargs):
        if "slow" in Path(item).name:
            Path(os.environ["AR_TEST_STARTED"]).write_text(str(os.getpid()))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(0.1)
        return super().analyze(item, **kwargs)


class BrokenStartWorker(VideoWorker):
    """Fails while starting, as a worker whose models cannot load would: raises in ``__init__``."""

    def __init__(self, *args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "/nowhere/encoder.bin")
