"""``python -m actionrec ...`` as a user runs it, in the suite's environment.

The environment is this process's: tests/conftest.py has already removed the developer's ``AR_*``
settings and pointed ``AR_DATA_DIR`` and ``AR_CACHE_DIR`` at temporary folders, so the command
never writes into the checkout. Never start from a copy without ``AR_*``: the command would then
fall back to the checkout's ``data/`` and ``model/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def run_actionrec(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the CLI with ``args`` (working folder: the checkout), ``env`` added to the suite's environment."""
    return subprocess.run(
        [sys.executable, "-m", "actionrec", *args],
        cwd=REPO,
        env=dict(os.environ) | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
