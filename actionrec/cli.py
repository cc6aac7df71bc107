"""Command line: ``python -m actionrec {fetch,analyze,bench,doctor} ...``.

Every failure exits non-zero with one clear line (``--verbose`` adds the traceback). Flags win over
the matching ``AR_*`` environment variables.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from . import settings
from .errors import ActionRecError
from .registry import MODELS, PRECISIONS

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Command]] = {}


def command(name: str, add_args: Callable[[argparse.ArgumentParser], None]):
    """Register a subcommand (its argument builder and its run function)."""

    def register(run: Command) -> Command:
        _COMMANDS[name] = (add_args, run)
        return run

    return register


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Flags shared by every command that needs the models."""
    p.add_argument("--model", default=settings.DEFAULT_MODEL, help=f"one of {', '.join(MODELS)} (default: %(default)s)")
    p.add_argument(
        "--precision",
        default=settings.env_str(settings.ENV_PRECISION, settings.DEFAULT_PRECISION),
        choices=PRECISIONS,
        help="model precision (env AR_PRECISION; default: %(default)s)",
    )
    p.add_argument("--cache-dir", help="verified download cache (env AR_CACHE_DIR; default: model/)")
    p.add_argument("--model-dir", help="use models on disk in the OMZ layout, no download (env AR_MODEL_DIR)")
    p.add_argument(
        "--base-url", help="mirror for model files: models_bin/1/<rest> -> URL/<rest> (env AR_MODEL_BASE_URL)"
    )
    p.add_argument("--data-base-url", help="mirror for labels and sample clips (env AR_DATA_BASE_URL)")
    p.add_argument("--labels", help="local labels file instead of the download (env AR_LABELS)")
    p.add_argument("--offline", action="store_true", help="never use the network; fail if a file is not cached")
    p.add_argument("--no-progress", action="store_true", help="hide download progress bars")


def resolve_from_args(args: argparse.Namespace):
    """:func:`actionrec.models.resolve_model` with the flags of :func:`add_model_args`."""
    from .models import resolve_model

    return resolve_model(
        args.model,
        precision=args.precision,
        model_dir=args.model_dir,
        cache_dir=args.cache_dir,
        base_url=args.base_url,
        data_base_url=args.data_base_url,
        labels=args.labels,
        offline=args.offline,
        progress=not args.no_progress,
    )


def _fetch_args(p: argparse.ArgumentParser) -> None:
    add_model_args(p)


@command("fetch", _fetch_args)
def run_fetch(args: argparse.Namespace) -> int:
    """Download and verify one model's files and labels; print where they are."""
    files = resolve_from_args(args)
    state = "verified" if files.verified else "from --model-dir (not hash-checked)"
    print(f"encoder: {files.encoder_xml}  [{state}]")
    print(f"decoder: {files.decoder_xml}  [{state}]")
    print(f"labels:  {files.labels_path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (all registered subcommands)."""
    _load_commands()
    parser = argparse.ArgumentParser(
        prog="python -m actionrec",
        description="Human action recognition with OpenVINO (Open Model Zoo action-recognition-0001).",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add_args, run) in _COMMANDS.items():
        p = sub.add_parser(name, help=(run.__doc__ or "").splitlines()[0], description=run.__doc__)
        add_args(p)
        p.set_defaults(run=run)
    return parser


def _load_commands() -> None:
    # Other modules register their subcommands on import; keep the heavy ones lazy inside run().
    for module in ("actionrec.analyze_cli", "actionrec.bench", "actionrec.doctor"):
        try:
            __import__(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


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
