"""``python -m actionrec doctor``: the doctor's table (or JSON) in a terminal; exit 1 on a FAIL row."""

from __future__ import annotations

import argparse
import json
import sys

from .. import settings
from ..doctor import CODEC_NAMES, run_doctor
from ..models.registry import PRECISIONS


def add_args(p: argparse.ArgumentParser) -> None:
    """Add the ``doctor`` flags to ``p``: cameras, codecs, model files, output format."""
    p.add_argument("--cameras", default="0,1,2", help="camera indices to try, comma-separated (default: %(default)s)")
    p.add_argument("--no-cameras", action="store_true", help="do not try local cameras")
    p.add_argument("--codecs", default=",".join(CODEC_NAMES), help="codecs to test (default: %(default)s)")
    p.add_argument(
        "--model", default=settings.DEFAULT_MODEL, help="model whose files are checked (default: %(default)s)"
    )
    precision = settings.env_str(settings.ENV_PRECISION, settings.DEFAULT_PRECISION)
    p.add_argument("--precision", default=precision, choices=PRECISIONS, help="env AR_PRECISION; default: %(default)s")
    p.add_argument("--cache-dir", help="verified download cache (env AR_CACHE_DIR; default: model/)")
    p.add_argument("--model-dir", help="models on disk in the OMZ layout (env AR_MODEL_DIR)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")


def run_doctor_cli(args: argparse.Namespace) -> int:
    """Check this machine: OpenVINO, cameras, codecs, https, upload limit, disk, model files."""
    try:
        cameras = () if args.no_cameras else tuple(int(i) for i in args.cameras.split(",") if i.strip())
        codecs = tuple(c.strip().lower() for c in args.codecs.split(",") if c.strip())
        report = run_doctor(
            cameras=cameras,
            codecs=codecs,
            model=args.model,
            precision=args.precision,
            cache_dir=args.cache_dir,
            model_dir=args.model_dir,
        )
    except ValueError as exc:
        print(f"error: --cameras {args.cameras!r} / --codecs {args.codecs!r}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    return 0 if report.ok else 1
