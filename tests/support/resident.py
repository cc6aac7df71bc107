"""How much of an array is in the process's memory: the resident size of the mapping holding it (Linux).

For the tests that check embedding rows in a temporary file (``actionrec.pipeline.rows``) leave memory.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

SMAPS = Path("/proc/self/smaps")
needs_smaps = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not SMAPS.exists(), reason="resident pages are read from /proc/self/smaps"
)


def resident_kb(*arrays: np.ndarray) -> int:
    """Resident kB of the memory mappings that hold the arrays' first bytes (each mapping counted once).

    Raises:
        LookupError: no mapping holds one of them.
    """
    addresses = {a.ctypes.data for a in arrays}
    total_kb, found, inside = 0, set(), False
    for line in SMAPS.read_text().splitlines():
        head = line.split(maxsplit=1)[0]
        if "-" in head and not head.endswith(":"):
            lo, hi = (int(x, 16) for x in head.split("-"))
            held = {a for a in addresses if lo <= a < hi}
            inside, found = bool(held), found | held
        elif inside and head == "Rss:":
            total_kb += int(line.split()[1])
    if found != addresses:
        raise LookupError(f"no mapping holds address(es) {sorted(addresses - found)}")
    return total_kb
