#!/usr/bin/env python3
"""Re-analysis from cached embeddings: decoder-only time for 10 minutes of video.

Target (issue "Recognition engine", item 7): under 1 s for 10 minutes of video. Builds the
embeddings a 10-minute video yields (9,600 grid samples at the default 62.5 ms) and times
:meth:`Recognizer.decode` at several strides on the given decoder IR (e.g. the ../shared proxies).

Usage:
    python benchmarks/reanalysis.py --model-dir model/proxy --precision FP16
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from actionrec.bench import placeholder_labels
from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import EncodedVideo, Recognizer, RecognizerOptions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--precision", default="FP16")
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    files = resolve_model(precision=args.precision, model_dir=args.model_dir, need_labels=False)
    models = compile_models(files, labels=placeholder_labels(files.decoder_xml))
    n = int(args.minutes * 60 * 16)
    rng = np.random.default_rng(0)
    encoded = EncodedVideo(
        source="synthetic",
        embeddings=rng.normal(size=(n, models.embedding_dim)).astype(np.float32),
        frame_times_s=np.arange(n) / 16,
        frame_indices=np.arange(n),
        duplicated=np.zeros(n, bool),
        t0_s=0.0,
        step_s=1 / 16,
        frames_decoded=n,
    )
    for stride_s in (0.5, 0.25, 1.0):
        rec = Recognizer(models, options=RecognizerOptions(stride_s=stride_s))
        t = time.perf_counter()
        timeline = rec.decode(encoded)
        dt = time.perf_counter() - t
        print(f"{args.minutes:g} min, stride {stride_s} s: {len(timeline)} windows decoded in {dt:.2f} s")
        t = time.perf_counter()
        timeline.smoothed(5).with_top_k(3).segments(threshold=0.3)
        print(f"  smoothing 5 + top-3 + segments: {time.perf_counter() - t:.2f} s (no inference)")


if __name__ == "__main__":
    main()
