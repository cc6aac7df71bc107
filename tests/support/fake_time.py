"""Injected time for pacing tests: a clock that moves only when the code under test sleeps.

:class:`FakeTime` is both the ``clock`` (call it) and the ``sleep`` (await :meth:`FakeTime.sleep`)
of a player or loop. Sleeping advances the clock by exactly the time asked, runs the callbacks
scheduled with :meth:`FakeTime.at` that fell due, then yields to the event loop once (so other
tasks and ``call_soon`` callbacks still run). Work done between sleeps takes no clock time, so
pacing is checked against source timestamps exactly, whatever the machine's load.

Example::

    fake = FakeTime()
    player = LivePlayer(models, clock=fake, sleep=fake.sleep)
    fake.at(0.5, player.stop)          # press Stop 0.5 s of clock time after the start
    report = asyncio.run(player.play(clip))
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable


class FakeTime:
    """A manual clock with an ``asyncio``-style ``sleep`` that advances it (see the module docstring).

    Args:
        start_s: the clock's first reading (not 0, so code that treats 0 as "unset" is exercised).
        real_sleep_ratio: each sleep also waits this fraction of its length in real time. The
            clock stays exact either way; with 1.0 background threads (OpenVINO's encoder
            callbacks) get the real time a real run gives them, so a test that checks labels does
            not depend on how fast they run while the loop itself costs no clock time.
    """

    def __init__(self, start_s: float = 1000.0, *, real_sleep_ratio: float = 0.0) -> None:
        self.start_s = self.now_s = start_s
        self.real_sleep_ratio = real_sleep_ratio
        self.slept: list[float] = []  # every sleep asked for, in order
        self._due: list[tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now_s

    @property
    def elapsed_s(self) -> float:
        """Clock time since the start."""
        return self.now_s - self.start_s

    def at(self, elapsed_s: float, callback: Callable[[], object]) -> None:
        """Run ``callback()`` once the clock reaches ``start_s + elapsed_s`` (during a sleep)."""
        heapq.heappush(self._due, (self.start_s + elapsed_s, next(self._order), callback))

    def after(self, delay_s: float, callback: Callable[[], object]) -> None:
        """Run ``callback()`` once ``delay_s`` of clock time has passed from now."""
        self.at(self.elapsed_s + delay_s, callback)

    async def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` (negative counts as 0), fire due callbacks, yield to the loop."""
        self.slept.append(seconds)
        target = self.now_s + max(0.0, seconds)
        while self._due and self._due[0][0] <= target:  # callbacks see the clock at their own time
            when, _, callback = heapq.heappop(self._due)
            self.now_s = max(self.now_s, when)
            callback()
        self.now_s = target
        await asyncio.sleep(max(0.0, seconds) * self.real_sleep_ratio)  # 0: yield once


class ScriptedClock:
    """A clock that returns ``readings`` in order, then repeats the last one; ``taken`` lists what was read.

    For code that waits on a real ``threading.Condition`` between readings: the readings say how much
    time has passed, so a test decides when a timeout falls due, and the real waits stay as short
    as the gaps between readings.

    Example::

        clock = ScriptedClock(100.0, 101.999, 102.0, 109.0)
        camera = BrowserCamera(clock=clock)
        camera.wait_ready()             # gives up at 102.0: 2 s after it started waiting
        assert clock.taken[-1] == 102.0
    """

    def __init__(self, *readings: float) -> None:
        if not readings:
            raise ValueError("ScriptedClock needs at least one reading")
        self._left = list(readings)
        self.taken: list[float] = []

    def __call__(self) -> float:
        value = self._left.pop(0) if len(self._left) > 1 else self._left[0]
        self.taken.append(value)
        return value
