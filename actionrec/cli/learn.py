"""``python -m actionrec learn --example ACTION=VIDEO[@START-END] ... --out FILE``: few-shot custom actions.

Trains a custom-action head (:mod:`actionrec.heads.actions`) on the examples, prints its
leave-one-example-out accuracy and confusion matrix, and writes it as a JSON file of format
``actionrec.actions/1``, for ``analyze --actions FILE``. Clips analysed before (same model and
stride) run no inference: their decoder outputs come from the cache.
"""

from __future__ import annotations

import argparse

from .. import settings
from ..errors import ActionRecError
from .common import add_device_args, add_model_args, devices_from_args, resolve_from_args


def add_args(p: argparse.ArgumentParser) -> None:
    """Add the ``learn`` flags to ``p``: examples, the head file, model flags, window/stride."""
    p.add_argument(
        "--example",
        action="append",
        default=[],
        metavar="ACTION=VIDEO[@START-END]",
        help="one example: a clip, or a time range of it in seconds (repeatable), e.g. clapping=long.mp4@12.5-18",
    )
    p.add_argument(
        "--examples",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder with one sub-folder per action; every video in a sub-folder is one example (repeatable)",
    )
    p.add_argument("--out", required=True, help="the custom-actions file to write (JSON, format actionrec.actions/1)")
    add_model_args(p)
    add_device_args(p)
    p.add_argument("--window-s", type=float, default=settings.DEFAULT_WINDOW_S, help="seconds per window")
    p.add_argument("--stride-s", type=float, default=settings.DEFAULT_STRIDE_S, help="seconds between windows")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")


def run_learn(args: argparse.Namespace) -> int:
    """Train custom actions from a few example clips or time ranges, and write them for analyze --actions."""
    from ..heads import examples_from_folder, parse_example, train_actions
    from ..models.runtime import compile_models
    from ..pipeline import Recognizer, RecognizerOptions

    examples = [parse_example(text) for text in args.example]
    for folder in args.examples:
        examples += examples_from_folder(folder)
    if not examples:
        raise ActionRecError("no examples: give --example ACTION=VIDEO[@START-END] (repeatable) or --examples DIR")
    out = settings.resolve_path(args.out)
    files = resolve_from_args(args)
    models = compile_models(files, **devices_from_args(args), hint="THROUGHPUT", cache_dir=args.cache_dir)
    try:
        recognizer = Recognizer(models, options=RecognizerOptions(window_s=args.window_s, stride_s=args.stride_s))
    except ValueError as exc:
        raise ActionRecError(str(exc)) from None
    head = train_actions(recognizer, examples, progress=not args.no_progress, cache=not args.no_cache)
    windows = sum(n for _, n in head.examples)
    print(
        f"trained {len(head.actions)} actions + unknown on {len(head.examples)} examples ({windows} windows) "
        f"of {head.trained_on.describe()}"
    )
    print(head.evaluation)
    path = head.save(out)
    size_kb = path.stat().st_size / 1024
    print(f"wrote {path} ({size_kb:.0f} kB): use it with python -m actionrec analyze --actions {path}")
    return 0
