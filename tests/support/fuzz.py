"""Seeded fuzz runs in the suite, long campaigns outside it.

A fuzz target is a check run on Hypothesis-generated cases. In the suite it runs a short, derandomized (seeded) set of
cases (seconds). Set ``FUZZ_SECONDS`` to run it as a campaign instead: fresh random cases,
batch after batch, until the time is up; the count of cases run is printed (``-s`` shows it)::

    FUZZ_SECONDS=600 python -m pytest -s -p no:randomly tests/test_fuzz_upload.py

A failing case stops the run and Hypothesis prints it, shrunk, as a reproducer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy


def campaign_seconds() -> float:
    """``FUZZ_SECONDS`` (0 in the suite)."""
    return float(os.environ.get("FUZZ_SECONDS") or 0)


def timeout_mark() -> pytest.MarkDecorator:
    """A per-test timeout that lets a campaign run its ``FUZZ_SECONDS`` (the suite's is 300 s)."""
    return pytest.mark.timeout(300 + 2 * int(campaign_seconds()))


SUITE_EXAMPLES = 60  # per target in the suite: a few seconds each
_BATCH = 500


def fuzz(check: Callable[..., object], *strategies: SearchStrategy, name: str, examples: int = SUITE_EXAMPLES) -> int:
    """Run ``check`` on generated cases: seeded in the suite, a timed campaign with ``FUZZ_SECONDS``.

    Args:
        check: called with one value drawn from each strategy; it raises (or asserts) on a bad
            outcome.
        *strategies: Hypothesis strategies, one per argument of ``check``.
        name: the campaign's name in the printed figures.
        examples: seeded cases in the suite.

    Returns:
        The number of cases run.
    """
    calls = 0

    def counted(case: tuple) -> None:
        nonlocal calls
        calls += 1
        check(*case)

    common = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}
    seconds = campaign_seconds()
    if seconds <= 0:
        settings(max_examples=examples, derandomize=True, **common)(given(st.tuples(*strategies))(counted))()
        return calls
    started = time.monotonic()
    batches = 0
    while time.monotonic() - started < seconds:
        settings(max_examples=_BATCH, derandomize=False, **common)(given(st.tuples(*strategies))(counted))()
        batches += 1
    print(f"\nfuzz {name}: {calls} cases in {time.monotonic() - started:.0f} s ({batches} batches), no failure")
    return calls
