"""The slow case of a 2-core AVX2 machine, emulated on a faster one: the benchmarks' shared flags.

``--inference-precision f32`` makes an AMX or AVX-512 BF16 CPU compute as a CPU without them does;
``--busy-core`` keeps one core busy with a second process (a busy loop), as other work on a shared
2-core machine does. Together they come close to the 2-core AVX2 figures, roughly.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def add_arguments(p: argparse.ArgumentParser, *, busy_while: str) -> None:
    """``--inference-precision`` and ``--busy-core`` (one core kept busy ``busy_while``)."""
    p.add_argument(
        "--inference-precision",
        choices=("f32", "bf16", "f16"),
        help="what the models compute in (default: the device's own; f32 on an AMX or AVX-512 BF16 CPU "
        "comes closer to a CPU without them)",
    )
    p.add_argument(
        "--busy-core",
        action="store_true",
        help=f"keep one core busy with a second process {busy_while} (a busy loop): the slow case of a "
        "2-core machine shared with other work",
    )


def describe(args: argparse.Namespace) -> str | None:
    """One line saying which slow case runs, or ``None`` when neither flag was given."""
    if not (args.inference_precision or args.busy_core):
        return None
    busy = ", one core kept busy by a second process" if args.busy_core else ""
    return f"inference precision {args.inference_precision or 'the device default'}{busy}"


@contextmanager
def busy_core(enabled: bool) -> Iterator[None]:
    """A second process spinning on one core for the block (nothing when not ``enabled``)."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if enabled else None
    try:
        yield
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
