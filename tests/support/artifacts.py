"""Where the suite saves what a person should look at (screenshots, rendered frames).

Outside the checkout (the suite never writes into it): ``$ACTIONREC_ARTIFACTS`` when set, else
``<system temp>/actionrec-artifacts/``, with ``ui/`` (JupyterLab screenshots) and ``render/``
(rendered overlays) inside.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ARTIFACTS = Path(os.environ.get("ACTIONREC_ARTIFACTS") or Path(tempfile.gettempdir()) / "actionrec-artifacts")
