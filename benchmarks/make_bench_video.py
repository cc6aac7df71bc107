#!/usr/bin/env python3
"""Make the benchmark input: a 1280x720 30 fps H.264 MP4 of real footage (or synthetic motion).

With ``--from CLIP`` (e.g. ../shared/media/kinetics_arm_wrestling_340x256_28fps_h264.mp4) the clip
is upscaled to 1280x720, resampled to 30 fps by timestamp and looped to ``--seconds``; without it,
moving textured shapes are drawn. Real footage is preferred: flat synthetic frames decode faster
than camera video and would flatter the decode share.

Usage:
    python benchmarks/make_bench_video.py --out model/bench/720p30.mp4 --seconds 30 \
        --from ../shared/media/kinetics_arm_wrestling_340x256_28fps_h264.mp4
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np


def source_frames(clip: Path | None, fps: float, seconds: float, size_wh: tuple[int, int]):
    w, h = size_wh
    n = round(seconds * fps)
    if clip is None:
        rng = np.random.default_rng(0)
        texture = rng.integers(0, 255, (h, w, 3), np.uint8)
        for i in range(n):
            img = np.roll(texture, i * 7, axis=1)
            cv2.circle(img, (int(w / 2 + 300 * np.sin(i / 15)), h // 2), 120, (0, 0, 255), -1)
            yield img
        return
    cap = cv2.VideoCapture(str(clip))
    frames, times = [], []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC))
        times.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000)
    cap.release()
    if not frames:
        raise SystemExit(f"cannot decode {clip}")
    period = times[-1] + (times[-1] - times[0]) / max(1, len(times) - 1)
    times_arr = np.asarray(times)
    for i in range(n):
        t = (i / fps) % period
        yield frames[int(np.argmin(np.abs(times_arr - t)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--from", dest="clip", type=Path)
    args = ap.parse_args()
    import av

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(args.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"crf": "20", "preset": "medium", "g": "60"}
        for img in source_frames(args.clip, args.fps, args.seconds, (1280, 720)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
