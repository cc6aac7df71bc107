"""How much memory a file encoder's last step (its rows -> the result) allocates, measured with tracemalloc.

For the tests that check a stated duration hands the rows over without a copy (test_stages, test_pipeline).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

from actionrec.pipeline import FileEncoder


def result_step_peak_b(monkeypatch: Any, run: Callable[[], Any]) -> tuple[Any, int]:
    """``run()``'s return value and the bytes ``FileEncoder._result`` allocated beyond what the run held.

    ``run`` encodes one source (a ``FileEncoder.run`` or a ``Recognizer.encode``) while tracemalloc traces.
    """
    make_result = FileEncoder._result
    above_b: list[int] = []

    def measured(self, *args, **kwargs):
        before_b = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        try:
            return make_result(self, *args, **kwargs)
        finally:
            above_b.append(tracemalloc.get_traced_memory()[1] - before_b)

    monkeypatch.setattr(FileEncoder, "_result", measured)
    tracemalloc.start()
    try:
        out = run()
    finally:
        tracemalloc.stop()
    return out, above_b[0]
