"""``python -m actionrec compare CLIP --precisions FP16,FP16-INT8 [--devices CPU,GPU] [--out DIR]``: an A/B table."""

from __future__ import annotations

import argparse
import itertools
import sys

from .. import settings
from ..models.registry import PRECISIONS


def _names(text: str, *, valid: tuple[str, ...] | None = None, what: str) -> tuple[str, ...]:
    """``"FP16,FP16-INT8"`` -> ``("FP16", "FP16-INT8")`` (``argparse.ArgumentTypeError`` when bad)."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if valid is not None:
        names = tuple(n.upper() for n in names)
        bad = [n for n in names if n not in valid]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(bad)}; valid: {','.join(valid)}")
    if not names:
        raise argparse.ArgumentTypeError(f"no {what} in {text!r}; give a comma-separated list")
    return names


def _seconds(text: str) -> tuple[float, ...]:
    try:
        values = tuple(dict.fromkeys(float(v) for v in text.split(",") if v.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of seconds, e.g. 0.5,0.25") from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give positive seconds, e.g. 0.5,0.25")
    return values


def add_args(p: argparse.ArgumentParser) -> None:
    """Add the ``compare`` flags to ``p``: the clip, the lists of precisions/devices/windows/strides, model flags."""
    from .common import add_model_args

    p.add_argument("clip", metavar="CLIP", help="a video file (or URL, downloaded once)")
    p.add_argument(
        "--precisions",
        type=lambda t: _names(t, valid=PRECISIONS, what="precision(s)"),
        default=("FP16", "FP16-INT8"),
        help=f"comma-separated, of {','.join(PRECISIONS)} (default: FP16,FP16-INT8)",
    )
    p.add_argument(
        "--devices",
        type=lambda t: _names(t, what="device(s)"),
        default=(settings.encoder_device(),),
        help="comma-separated OpenVINO devices, e.g. CPU,GPU,NPU (env AR_ENCODER_DEVICE, else AR_DEVICE; default: "
        "CPU); absent ones are skipped",
    )
    p.add_argument(
        "--decoder-device",
        default=settings.env_str(settings.ENV_DECODER_DEVICE),
        help="the decoder's device in every configuration, e.g. CPU (env AR_DECODER_DEVICE; default: each "
        "configuration's device)",
    )
    p.add_argument("--window-s", type=_seconds, default=(settings.DEFAULT_WINDOW_S,), help="seconds per window, e.g. 1")
    p.add_argument("--stride-s", type=_seconds, default=(settings.DEFAULT_STRIDE_S,), help="strides, e.g. 0.5,0.25")
    add_model_args(p, precision=False)
    p.add_argument("--out", help="also write STEM.compare.json and STEM.compare.png into this folder")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="read no earlier embeddings (every encoder set-up is encoded and its speed measured)",
    )


def run_compare(args: argparse.Namespace) -> int:
    """Compare configurations on one clip: top-1 agreement, probability difference, rank correlation, speed, memory."""
    from ..insight import CompareConfig, compare, write_comparison

    decoder = (args.decoder_device or "").strip().upper()
    configs = [
        CompareConfig(precision=p, device=d.upper(), window_s=w, stride_s=s, decoder_device=decoder)
        for p, d, w, s in itertools.product(args.precisions, args.devices, args.window_s, args.stride_s)
    ]
    if len(configs) < 2:
        from ..errors import ActionRecError

        raise ActionRecError(
            f"only one configuration ({configs[0].name}); give two or more precisions, devices, windows or strides"
        )

    def started(i: int, config: CompareConfig) -> None:
        if not args.no_progress:
            print(f"measuring {config.name} ({i + 1} of {len(configs)}) in its own process...", file=sys.stderr)

    result = compare(
        args.clip,
        configs=configs,
        model=args.model,
        model_dir=args.model_dir,
        cache_dir=args.cache_dir,
        base_url=args.base_url,
        data_base_url=args.data_base_url,
        labels=args.labels,
        offline=args.offline,
        cache=not args.no_cache,
        progress=not args.no_progress,
        on_start=started,
    )
    print(result.to_text())
    if args.out:
        for kind, path in write_comparison(result, settings.resolve_path(args.out)).items():
            print(f"  wrote {kind}: {path}")
    return 0
