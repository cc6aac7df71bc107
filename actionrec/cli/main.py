"""Command line: ``python -m actionrec {fetch,analyze,learn,explain,compare,bench,doctor} ...``.

Every failure exits non-zero with one clear line (``--verbose`` adds the traceback). Flags win over
the matching ``AR_*`` environment variables.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from ..errors import ActionRecError
from . import analyze, bench, compare, doctor, explain, fetch, learn

AddArgs = Callable[[argparse.ArgumentParser], None]
Command = Callable[[argparse.Namespace], int]
# The command table: name -> (its flags, its run function). Each command module imports what is
# heavy (OpenVINO, OpenCV) inside its run function, so ``--help`` stays fast.
COMMANDS: dict[str, tuple[AddArgs, Command]] = {
    "fetch": (fetch.add_args, fetch.run_fetch),
    "analyze": (analyze.add_args, analyze.run_analyze),
    "learn": (learn.add_args, learn.run_learn),
    "explain": (explain.add_args, explain.run_explain),
    "compare": (compare.add_args, compare.run_compare),
    "bench": (bench.add_args, bench.run_bench_command),
    "doctor": (doctor.add_args, doctor.run_doctor_cli),
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every command of :data:`COMMANDS`)."""
    parser = argparse.ArgumentParser(
        prog="python -m actionrec",
        description="Human action recognition with OpenVINO (Open Model Zoo action-recognition-0001).",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add_args, run) in COMMANDS.items():
        p = sub.add_parser(name, help=(run.__doc__ or "").splitlines()[0], description=run.__doc__)
        add_args(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return args.run(args)
    except ActionRecError as exc:
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
