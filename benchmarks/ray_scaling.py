#!/usr/bin/env python3
"""Ray scale-out on this machine: videos/s and video-seconds/s with 1 and 2 workers, and chunking one long video.

Workers have one CPU each (a local Ray runtime of exactly that many CPUs, on 127.0.0.1). Inputs:
``--videos`` names for the bench file (symlinks: the cache is off, so each is decoded and encoded
in full). Prints, for 1 and 2 workers, the wall time, videos/s, video-seconds/s and source frames/s
(start-up excluded: the same run on a 1-second clip, measured separately and subtracted), the
scaling efficiency (video s/s with 2 ÷ (2 × with 1)), and the chunked speed-up for the one long
video (1 worker, unsplit, against 2 workers with ``--chunk-s``). The machine's load and CPU model
come first: the figures mean little on a busy machine, so the script stops when the 1-minute load
average is ``--max-load`` or more (``--force`` runs anyway).

Usage:
    python benchmarks/ray_scaling.py --model-dir model/proxy --precision FP16-INT8 \\
        --labels ../shared/omz/action-recognition-0001/kinetics400-id2label.json
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def one_second_clip(src: Path, dst: Path) -> Path:
    """The first second of ``src`` by packet copy (no re-encoding): the start-up run's input."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if packet.dts is None:
                continue
            if packet.pts is not None and float(packet.pts * stream.time_base) >= 1.5:
                break
            packet.stream = copy
            out.mux(packet)
    return dst


def timed(items, *, workers, payload, config, grid, chunk_s=None) -> float:
    """Wall seconds of one analyze_on_ray run on a fresh local runtime of ``workers`` CPUs (results checked)."""
    from actionrec.distributed import VideoFailure, analyze_on_ray, ray_session

    with ray_session(None, num_cpus=workers):
        t = time.perf_counter()
        for _, out in analyze_on_ray(
            items,
            payload=payload,
            config=config,
            workers=workers,
            cache=False,
            progress=False,
            chunk_s=chunk_s,
            grid=grid,
        ):
            if isinstance(out, VideoFailure):
                raise SystemExit(f"a video failed: {out.error}")
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--precision", default="FP16-INT8")
    ap.add_argument("--labels", required=True)
    ap.add_argument("--video", default="model/bench/720p30.mp4")
    ap.add_argument("--videos", type=int, default=4, help="copies of --video in the folder run")
    ap.add_argument("--chunk-s", type=float, default=None, help="chunk length for the long video (default: half of it)")
    ap.add_argument("--max-load", type=float, default=3.0)
    ap.add_argument("--force", action="store_true", help="run even when the machine is busy")
    args = ap.parse_args()

    load = os.getloadavg()
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if load[0] >= args.max_load and not args.force:
        raise SystemExit(f"not run: the 1-minute load average {load[0]:.2f} is >= {args.max_load:g} (busy machine)")

    tmp = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    os.environ["AR_DATA_DIR"] = str(tmp / "data")
    os.environ.setdefault("AR_CACHE_DIR", str(tmp / "model"))  # compile cache out of the checkout
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    from actionrec.distributed import ModelPayload, WorkerConfig
    from actionrec.models import compile_models, resolve_model
    from actionrec.pipeline import Recognizer
    from actionrec.video.pyav import probe

    video = Path(args.video).resolve()
    facts = probe(video)
    if facts is None or not facts.duration_s:
        raise SystemExit(f"{video}: cannot read its duration")
    seconds, fps = float(facts.duration_s), float(facts.avg_fps or 30.0)
    files = resolve_model(precision=args.precision, model_dir=args.model_dir, labels=args.labels)
    models = compile_models(files, hint="THROUGHPUT")
    recognizer = Recognizer(models)
    payload = ModelPayload.from_files(files, labels=models.labels, encoder_id=models.encoder_id)
    config = WorkerConfig(device="CPU", options=recognizer.options, cpus=1, env=WorkerConfig.driver_env())
    folder = []
    for i in range(args.videos):
        link = tmp / f"video{i}{video.suffix}"
        link.symlink_to(video)
        folder.append(str(link))
    short = [str(one_second_clip(video, tmp / f"startup{video.suffix}"))]
    print(f"input: {args.videos} x {video.name} ({seconds:.1f} s, {fps:g} fps), {args.precision}, cache off")

    rates = {}
    for workers in (1, 2):
        startup = timed(short * workers, workers=workers, payload=payload, config=config, grid=recognizer.grid)
        wall = timed(folder, workers=workers, payload=payload, config=config, grid=recognizer.grid)
        work = max(wall - startup, 1e-9)
        rates[workers] = args.videos * seconds / work
        print(
            f"{workers} worker(s) x 1 CPU: {wall:.1f} s wall ({startup:.1f} s start-up run), "
            f"{args.videos / work:.3f} videos/s, {rates[workers]:.2f} video s/s, {rates[workers] * fps:.1f} frames/s"
        )
    print(f"scaling efficiency (2 workers / (2 x 1 worker)): {rates[2] / (2 * rates[1]):.2f}")

    chunk_s = args.chunk_s or seconds / 2
    one = timed([str(video)], workers=1, payload=payload, config=config, grid=recognizer.grid)
    two = timed([str(video)], workers=2, payload=payload, config=config, grid=recognizer.grid, chunk_s=chunk_s)
    print(
        f"one long video ({seconds:.0f} s): 1 worker unsplit {one:.1f} s, 2 workers in chunks of {chunk_s:g} s "
        f"{two:.1f} s: speed-up {one / two:.2f} (wall, start-up included; each chunk decodes from the file start)"
    )


if __name__ == "__main__":
    main()
