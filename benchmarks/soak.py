#!/usr/bin/env python3
"""Soak: play a synthetic live source through the LivePlayer for minutes; report memory and queues.

A camera-like async source makes 640x480 frames at ``--fps`` with wall-clock timestamps (moving
shapes, so the encoder sees changing input). The player runs headless exactly as in the notebook
(LiveRecognizer, overlay drawing, JPEG encoding, canvas messages; no front end, so pacing is by
source time). Every ``--every-s`` seconds it prints the process RSS, the encoder requests in
flight and the recognizer's bookkeeping sizes. Target (issue "Bad input and faults", item 6):
flat memory, at most 20 MB growth after warm-up, over 10 minutes.

Usage:
    python benchmarks/soak.py --minutes 10 --model-dir model/proxy --precision FP16
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


async def synthetic_camera(fps: float, seconds: float):
    """Frames at wall-clock pace, like a camera (newest only: never queued)."""
    import cv2

    from actionrec.video import Frame

    start = time.monotonic()
    for i in range(int(seconds * fps)):
        due = start + i / fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        img = np.zeros((480, 640, 3), np.uint8)
        x = int(320 + 250 * np.sin(i / 20))
        cv2.circle(img, (x, 240), 60, (40, 80 + (i % 120), 220), -1)
        cv2.rectangle(img, (0, 400), (640, 480), (i % 255, 90, 30), -1)
        yield Frame(img, i, time.monotonic() - start)


async def soak(args) -> int:
    import psutil

    from actionrec.bench import placeholder_labels
    from actionrec.models import compile_models, resolve_model
    from actionrec.notebook.player import LivePlayer
    from actionrec.pipeline import live

    recognizers: list = []

    class Tracked(live.LiveRecognizer):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            recognizers.append(self)

    live.LiveRecognizer = Tracked  # the player imports it at play() time
    files = resolve_model(precision=args.precision, model_dir=args.model_dir, need_labels=False)
    models = compile_models(files, hint="LIVE", labels=placeholder_labels(files.decoder_xml))
    player = LivePlayer(models, max_seconds=args.minutes * 60)
    proc = psutil.Process()
    samples: list[tuple[float, float, int, int]] = []
    seconds = args.minutes * 60

    async def monitor():
        t0 = time.monotonic()
        while True:
            await asyncio.sleep(args.every_s)
            rec = recognizers[-1] if recognizers else None
            in_flight = rec._in_flight if rec else 0
            book = sum(len(d) for d in (rec._emb, rec._state, rec._frame_t)) if rec else 0
            rss = proc.memory_info().rss / 1024**2
            samples.append((time.monotonic() - t0, rss, in_flight, book))
            print(f"{samples[-1][0]:7.0f} s  RSS {rss:7.1f} MB  in flight {in_flight}  bookkeeping {book}", flush=True)

    watcher = asyncio.create_task(monitor())
    report = await player.play(synthetic_camera(args.fps, seconds + 5))
    watcher.cancel()
    warm = [s for s in samples if s[0] >= args.warmup_s] or samples
    growth = warm[-1][1] - warm[0][1]
    print(
        f"played {report.frames_source} frames in {report.wall_s:.0f} s, {len(report.predictions)} labels, "
        f"shown on time {report.shown_ratio:.1%}, stopped by {report.stopped_by}"
    )
    print(
        f"RSS after warm-up {warm[0][1]:.1f} MB -> end {warm[-1][1]:.1f} MB: growth {growth:+.1f} MB "
        f"(target <= 20 MB); peak {max(s[1] for s in samples):.1f} MB"
    )
    print(
        f"max encoder requests in flight {max(s[2] for s in samples)}, "
        f"max recognizer bookkeeping entries {max(s[3] for s in samples)}"
    )
    return 0 if growth <= 20 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--model-dir", type=Path, default=REPO / "model/proxy")
    ap.add_argument("--precision", default="FP16")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--every-s", type=float, default=30.0)
    ap.add_argument("--warmup-s", type=float, default=60.0)
    return asyncio.run(soak(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
