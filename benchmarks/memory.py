#!/usr/bin/env python3
"""Peak memory of ``python -m actionrec analyze``: each figure in its own process, and its flatness.

For each precision, runs ``analyze`` (``--no-cache``, the default exports) in a fresh process on
a 1-minute and a 10-minute file and prints the process's peak resident set size (``ru_maxrss`` of
that child alone, from ``os.wait4``) and the ratio of the two. Targets (issue "Performance II"):
peak <= 400 MB at FP16 and <= 330 MB at FP16-INT8, and the 10-minute peak within 5 % of the
1-minute one (memory does not grow with the length of the video).

The long files are VIDEO repeated by copying its packets (no re-encoding: seconds, not minutes),
with timestamps shifted so each copy follows the last; they are kept in ``--work`` for the next run.

Usage:
    python benchmarks/memory.py                          # model/bench/720p30.mp4, model/proxy, FP16 + FP16-INT8
    python benchmarks/memory.py --minutes 1 --precision FP16
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_MB = {"FP16": 400.0, "FP16-INT8": 330.0}
FLAT_TOLERANCE = 0.05
LABELS = REPO.parent / "shared" / "omz" / "action-recognition-0001" / "kinetics400-id2label.json"


def repeat_video(src: Path, dest: Path, *, seconds: float) -> Path:
    """``src`` repeated (packets copied, timestamps shifted) until it lasts at least ``seconds``."""
    import av

    if dest.exists():
        return dest
    with av.open(str(src)) as probe:
        v = probe.streams.video[0]
        length_s = float(v.duration * v.time_base) if v.duration else float(probe.duration / 1e6)
    copies = max(1, int(-(-seconds // length_s)))
    part = dest.with_name(dest.name + ".part")
    with av.open(str(part), "w", format="mp4") as out:
        with av.open(str(src)) as first:
            stream = out.add_stream_from_template(first.streams.video[0])
        offset = 0
        for _ in range(copies):
            with av.open(str(src)) as inp:
                v = inp.streams.video[0]
                last = 0
                for packet in inp.demux(v):
                    if packet.dts is None:
                        continue
                    duration = packet.duration or 0
                    last = max(last, packet.pts + duration if packet.pts is not None else 0)
                    packet.pts = None if packet.pts is None else packet.pts + offset
                    packet.dts += offset
                    packet.stream = stream
                    out.mux(packet)
                offset += last
    os.replace(part, dest)
    return dest


def peak_rss_mb(video: Path, *, precision: str, model_dir: Path, work: Path) -> tuple[float, float]:
    """Run ``analyze`` on ``video`` in a child process: ``(peak RSS MB, wall s)``."""
    out = Path(tempfile.mkdtemp(prefix="memory-", dir=work))
    env = dict(os.environ, AR_CACHE_DIR=str(work / "cache"), AR_DATA_DIR=str(work / "data"))
    cmd = [sys.executable, "-m", "actionrec", "analyze", str(video), "--model-dir", str(model_dir)]
    cmd += ["--precision", precision, "--no-cache", "--no-progress", "--out", str(out)]
    if LABELS.exists():
        cmd += ["--labels", str(LABELS)]  # the proxies' labels mean nothing; any 400 names do
    t = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t
    err = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"analyze failed on {video} ({precision}):\n{err[-2000:]}")
    return usage.ru_maxrss / 1024, wall


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=REPO / "model/bench/720p30.mp4")
    p.add_argument("--model-dir", type=Path, default=REPO / "model/proxy", help="OMZ layout (proxy models)")
    p.add_argument("--precision", action="append", help="FP16, FP16-INT8 (default: both)")
    p.add_argument("--minutes", type=float, action="append", help="file lengths (default: 1 and 10)")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "actionrec-memory")
    p.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = p.parse_args(argv)
    for path in (args.video, args.model_dir):
        if not path.exists():
            p.error(f"{path} does not exist (see benchmarks/make_bench_video.py and ../shared/proxy/README)")
    precisions = args.precision or ["FP16", "FP16-INT8"]
    minutes = sorted(args.minutes or [1.0, 10.0])
    args.work.mkdir(parents=True, exist_ok=True)
    videos = {
        m: repeat_video(args.video, args.work / f"{args.video.stem}-{m:g}min.mp4", seconds=60 * m) for m in minutes
    }
    # compile cache warmed once per precision, so every counted run imports the same blobs
    for precision in precisions:
        peak_rss_mb(args.video, precision=precision, model_dir=args.model_dir, work=args.work)
    print(f"load average {os.getloadavg()[0]:.1f} (memory does not depend on the machine's load)")
    figures = []
    for precision in precisions:
        row = {"precision": precision, "target_mb": TARGET_MB.get(precision)}
        for m in minutes:
            mb, wall = peak_rss_mb(videos[m], precision=precision, model_dir=args.model_dir, work=args.work)
            row[f"peak_mb_{m:g}min"] = round(mb, 1)
            print(f"{precision:<10} {m:>4g} min  peak RSS {mb:6.1f} MB   ({wall:.0f} s)", flush=True)
        figures.append(row)
        peaks = [row[f"peak_mb_{m:g}min"] for m in minutes]
        target = TARGET_MB.get(precision)
        verdict = "met" if target and max(peaks) <= target else "MISSED" if target else "no target"
        line = f"{precision:<10} peak {max(peaks):.1f} MB (target <= {target:g} MB: {verdict})"
        if len(peaks) > 1:
            growth = peaks[-1] / peaks[0] - 1
            row["growth"] = round(growth, 4)
            flat = "flat" if growth <= FLAT_TOLERANCE else "GROWS"
            line += f"; {minutes[-1]:g} min vs {minutes[0]:g} min: {100 * growth:+.1f} % ({flat}, tolerance 5 %)"
        print(line)
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
