"""``python -m actionrec explain CLIP --at-s T --out DIR``: which time steps the window at T depends on."""

from __future__ import annotations

import argparse

from .. import settings
from ..errors import ActionRecError
from .common import add_device_args, add_model_args, devices_from_args, resolve_from_args


def add_args(p: argparse.ArgumentParser) -> None:
    """Add the ``explain`` flags to ``p``: the clip, the time, model flags, window/stride, output."""
    p.add_argument("clip", metavar="CLIP", help="a video file (or URL)")
    p.add_argument("--at-s", type=float, required=True, help="the time to explain, in seconds of the clip")
    add_model_args(p)
    add_device_args(p)
    p.add_argument("--window-s", type=float, default=settings.DEFAULT_WINDOW_S, help="seconds per window")
    p.add_argument("--stride-s", type=float, default=settings.DEFAULT_STRIDE_S, help="seconds between windows")
    p.add_argument("--top-n", type=int, default=5, help="moments listed over the whole video (default: 5)")
    p.add_argument("--out", help="folder for STEM.explain.png and STEM.explain.json (default: data/out/)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")


def run_explain(args: argparse.Namespace) -> int:
    """Explain a window: the drop of its top class when each time step is occluded (PNG + JSON)."""
    from ..insight import explain, write_explanation
    from ..models.runtime import compile_models
    from ..pipeline import RecognizerOptions

    try:
        options = RecognizerOptions(window_s=args.window_s, stride_s=args.stride_s)
    except ValueError as exc:
        raise ActionRecError(str(exc)) from None
    if args.top_n < 1:
        raise ActionRecError(f"--top-n {args.top_n}: give 1 or more moments")
    files = resolve_from_args(args)
    models = compile_models(files, **devices_from_args(args), hint="THROUGHPUT", cache_dir=args.cache_dir)
    result = explain(
        args.clip,
        models=models,
        at_s=args.at_s,
        options=options,
        cache=not args.no_cache,
        top_n=args.top_n,
        progress=not args.no_progress,
    )
    out_dir = settings.resolve_path(args.out) if args.out else settings.data_dir("out")
    written = write_explanation(result, out_dir, source=args.clip)
    print(result.to_text())
    for kind, path in written.items():
        print(f"  wrote {kind}: {path}")
    return 0
