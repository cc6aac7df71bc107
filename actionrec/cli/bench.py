"""``python -m actionrec bench VIDEO``: video frames/s against the same-run ceiling (see :mod:`actionrec.bench`)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from .. import settings
from ..bench import run_bench
from .common import add_device_args, add_model_args, devices_from_args, resolve_from_args


def add_args(p: argparse.ArgumentParser) -> None:
    """Add the ``bench`` flags to ``p``: the video, model flags, repeats."""
    p.add_argument("video", type=Path, help="video file to analyse (e.g. a 1280x720 30 fps H.264 MP4)")
    add_model_args(p)
    add_device_args(p)
    p.add_argument("--encoder-seconds", type=float, default=15.0, help="benchmark_app duration (default: 15)")
    p.add_argument("--baseline", action="store_true", help="also time the original notebook's serial loop")
    p.add_argument("--repeat", type=int, default=3, help="pipeline runs; the median counts (default: 3)")
    p.add_argument(
        "--inference-precision",
        choices=settings.INFERENCE_PRECISIONS,
        default=None,
        help="what every model of the run computes in, benchmark_app's too (env AR_INFERENCE_PRECISION; "
        "default: the device's own); f32 on a CPU with AMX or AVX-512 BF16 comes closer to one without",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")


def run_bench_command(args: argparse.Namespace) -> int:
    """Benchmark: video frames/s, the same-run ceiling, their ratio and peak memory."""
    result = run_bench(
        args.video,
        resolve_from_args(args, need_labels=False),
        **devices_from_args(args),
        cache_dir=args.cache_dir,
        encoder_seconds=args.encoder_seconds,
        baseline=args.baseline,
        repeat=args.repeat,
        inference_precision=args.inference_precision,
    )
    print(json.dumps(asdict(result), indent=2) if args.json else result.to_text())
    return 0
