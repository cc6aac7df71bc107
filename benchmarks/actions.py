#!/usr/bin/env python3
"""Few-shot training time: 20 examples from cached decoder outputs (target: under 5 s on a CPU).

Writes 20 short synthetic clips (4 actions x 5 examples: red, blue, green, brightening grey),
analyses each once (the encoder runs; its embeddings and the decoder's outputs are cached in a
temporary data folder), then times :func:`actionrec.heads.train_actions` on them: the cached path
a user re-training with other examples takes. The scikit-learn import is timed on its own (once
per process). Prints the leave-one-example-out evaluation too.

Usage:
    python benchmarks/actions.py --model-dir model/proxy --precision FP16
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np


def paint_for(kind: str, k: int):
    def paint(index: int, t: float, img: np.ndarray) -> None:
        if kind == "brightening":
            img[:] = min(255, round(40 + 2 * k + (30 + k) * t))
        else:
            level = 150 + 14 * k
            img[:] = {"red": (20, 10, level), "blue": (level, 20, 10), "green": (10, level, 20)}[kind]

    return paint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--precision", default="FP16")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each clip")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="actions-bench-"))
    os.environ["AR_DATA_DIR"] = str(tmp / "data")  # the embedding cache goes here, not into the checkout
    os.environ.setdefault("AR_CACHE_DIR", str(tmp / "model"))  # and the compile cache

    from actionrec.bench import placeholder_labels
    from actionrec.heads import train_actions
    from actionrec.models import compile_models, resolve_model
    from actionrec.pipeline import Recognizer
    from tests.support.videos import make_video

    files = resolve_model(precision=args.precision, model_dir=args.model_dir, need_labels=False)
    models = compile_models(files, labels=placeholder_labels(files.decoder_xml), hint="THROUGHPUT")
    rec = Recognizer(models)
    examples = []
    for kind in ("red", "blue", "green", "brightening"):
        for k in range(5):
            path = make_video(tmp / f"{kind}{k}.mp4", fps=30, duration_s=args.seconds, paint=paint_for(kind, k))
            examples.append(f"{kind}={path}")
    t = time.perf_counter()
    for e in examples:
        rec.analyze_windows(e.split("=", 1)[1], progress=False)
    print(f"first analysis of 20 clips ({args.seconds:g} s each, encoder + decoder): {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    import sklearn.linear_model  # noqa: F401

    print(f"scikit-learn import (once per process): {time.perf_counter() - t:.2f} s")
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        head = train_actions(rec, examples)
        times.append(time.perf_counter() - t)
    windows = sum(n for _, n in head.examples)
    print(
        f"training on 20 examples ({windows} windows, {models.feature_dim} features) from the cache: "
        f"best {min(times):.2f} s, median {float(np.median(times)):.2f} s of {args.repeats} (target < 5 s)"
    )
    print(head.evaluation)


if __name__ == "__main__":
    main()
