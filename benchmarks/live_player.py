#!/usr/bin/env python3
"""Live player figures: shown-frame ratio and label latency, headless (no browser front end).

Plays VIDEO through :class:`actionrec.notebook.player.LivePlayer` exactly as the notebook does
(decode, LiveRecognizer, overlay drawing, JPEG encoding, sending to the canvas widget), but with no
front end: no acknowledgement ever comes, so frames are paced by source time only. With
``--ack-page``, an in-process page (``ack_page.py``: a thread that JPEG-decodes every frame and
acknowledges it, as ``player.js`` does after drawing) is the front end: the player then runs with
browser flow control. Prints the
shown-frame ratio (source frames shown within one frame interval of their source time / source
frames) and the label latency (label on screen - source time of its window's last frame), per
../shared/docs/conventions.md. Targets: >= 95 % of frames shown at source pace, labels refreshing
at least twice a second. Also prints the CPU seconds each part used while playing (this player's
process, Chromium's, the Jupyter server's, the busy core's, the rest), per frame shown: where the
cores went.

The machine may be shared: the load average is printed; compare runs only on a quiet machine.

With ``--record DIR`` the session is also recorded (``LivePlayer(record=DIR)``: the frames as
shown encoded to H.264 on a worker thread, then JSON/CSV/VTT): compare its figures with a run
without, and read the frames recorded / dropped and the time the recording took to finish.

Usage:
    python benchmarks/live_player.py                       # 20 s of model/bench/720p30.mp4, FP16 proxies
    python benchmarks/live_player.py --seconds 10 --precision FP16-INT8
    python benchmarks/live_player.py --record /tmp/rec     # the same, recorded
    python benchmarks/live_player.py --max-in-flight 1     # one request, as before the in-flight limit
    python benchmarks/live_player.py --busy-core --inference-precision f32  # a slow 2-core CPU, roughly
    python benchmarks/live_player.py --ack-page            # with a front end that acknowledges frames
    python benchmarks/live_player.py --chromium            # the front end: player.js in JupyterLab + Chromium
    python benchmarks/live_player.py --chromium --ack-every 1   # player.js acknowledging every frame

With ``--chromium`` the player runs in a JupyterLab kernel (the UI tests' harness,
``tests/ui/conftest.py``: Debian's ``/usr/bin/chromium`` driven by Playwright, never ``playwright
install``) and its widget is displayed in a notebook that headless Chromium shows: ``player.js``
decodes, draws and acknowledges the frames, as for a user. The kernel prints the same figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # slow_case beside this script
import slow_case  # noqa: E402

TARGET_SHOWN_RATIO = 0.95
TARGET_LABELS_PER_S = 2.0
TARGET_MISSING_RATIO = 0.02  # of the window-sample slots (Performance II, on the 2-core AVX2 machine)
TARGET_LATENCY_S = 0.3  # label latency, mean (conventions: from the window's last frame)


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    if args.chromium:
        if args.ack_page:
            p.error("--chromium and --ack-page are two front ends: give one")
        return _in_chromium([a for a in (argv if argv is not None else sys.argv[1:]) if a != "--chromium"], args)
    return asyncio.run(_play(args, p))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=REPO / "model/bench/720p30.mp4")
    p.add_argument("--model-dir", type=Path, default=REPO / "model/proxy", help="OMZ layout (proxy models)")
    p.add_argument("--precision", default="FP16")
    p.add_argument("--device", default="CPU")
    p.add_argument("--seconds", type=float, default=20.0, help="source seconds to play")
    p.add_argument("--record", type=Path, help="also record the session into this folder (LivePlayer(record=...))")
    p.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    p.add_argument(
        "--hint",
        default="LIVE",
        choices=("LIVE", "LATENCY", "THROUGHPUT"),
        help="compile_models' hint (default LIVE, as the notebook's live section: on a CPU the throughput "
        "hint's streams, one frame per request; LATENCY: one stream, as before)",
    )
    p.add_argument(
        "--max-in-flight",
        type=int,
        help="a fixed number of encoder requests (1: the latency hint's own, as before the in-flight limit); "
        "default: the recognizer's latency-budget limit",
    )
    slow_case.add_arguments(p, busy_while="while playing")
    p.add_argument(
        "--ack-page",
        action="store_true",
        help="an in-process front end that decodes and acknowledges every frame (browser flow control)",
    )
    p.add_argument(
        "--ack-every",
        type=int,
        help="the page acknowledges one drawn frame in this many (default: the player's ACK_EVERY; "
        "1: every frame, as before); with --chromium",
    )
    p.add_argument(
        "--chromium",
        action="store_true",
        help="play in a JupyterLab kernel with the widget shown in headless Chromium (player.js acknowledges)",
    )
    return p


async def play_in_kernel(argv: list[str]) -> int:
    """The benchmark inside a Jupyter kernel: the player's widget is displayed, the page acknowledges."""
    p = _parser()
    return await _play(p.parse_args(argv), p, display=True)


async def _play(args: argparse.Namespace, p: argparse.ArgumentParser, *, display: bool = False) -> int:
    if args.max_in_flight is not None:  # the player makes its recognizer: give it the fixed number
        import functools

        from actionrec.notebook.player import playback

        playback.LiveRecognizer = functools.partial(playback.LiveRecognizer, max_in_flight=args.max_in_flight)

    from actionrec.bench import placeholder_labels
    from actionrec.models import compile_models, resolve_model
    from actionrec.notebook.player import LivePlayer

    for path in (args.video, args.model_dir):
        if not path.exists():
            p.error(f"{path} does not exist (see benchmarks/make_bench_video.py and ../shared/proxy/README)")
    files = resolve_model(precision=args.precision, model_dir=args.model_dir, need_labels=False)
    labels = placeholder_labels(files.decoder_xml)  # proxy labels mean nothing
    t = time.perf_counter()
    models = compile_models(
        files, device=args.device, hint=args.hint, labels=labels, inference_precision=args.inference_precision
    )
    compile_s = time.perf_counter() - t
    player = LivePlayer(models, max_seconds=args.seconds, record=args.record)
    page = None
    if args.ack_page:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from ack_page import AckPage

        page = AckPage(player.view)
    if args.ack_every is not None:
        player.view.ack_every = args.ack_every
    if display:  # in a kernel: the notebook's page shows the widget, player.js acknowledges its frames
        from IPython.display import display as show

        show(player.widget)
    load_before = os.getloadavg()
    with slow_case.busy_core(args.busy_core):
        cpu_before = cpu_seconds_by_process()  # the busy core's process included
        t = time.perf_counter()
        report = await player.play(args.video)
        play_s = time.perf_counter() - t
        cpu = cpu_used(cpu_before, cpu_seconds_by_process())
    load_after = os.getloadavg()

    s = report.stage_ms
    print(
        f"video      {args.video.name}, {args.precision} proxy models on {args.device} computing in "
        f"{models.inference_precision or '?'} (compile {compile_s:.1f} s)"
    )
    in_flight = "the latency budget's limit" if args.max_in_flight is None else f"fixed at {args.max_in_flight}"
    streams = models.encoder.get_property("NUM_STREAMS")
    print(f"requests   encoder requests in flight: {in_flight}; {args.hint} hint, {streams} stream(s)")
    print(f"load avg   {load_before[0]:.2f} before, {load_after[0]:.2f} after (> core count: shared)")
    if args.busy_core:
        print("busy core  a second process kept one core busy while playing")
    print(f"played     {report.frames_source} source frames in {report.wall_s:.2f} s, stopped by {report.stopped_by}")
    if display:
        print(
            f"front end  player.js in Chromium; it acknowledged frames: {report.front_end} "
            f"({player.view.acks} acknowledgements, one per {player.view.ack_every} frames drawn)"
        )
    elif page is None:
        print(f"front end  {report.front_end} (headless: paced by source time)")
    else:
        print(f"front end  an in-process page acknowledged {page.frames} frames (browser flow control)")
    print(
        f"shown      {report.frames_shown_on_time}/{report.frames_source} on time = {report.shown_ratio:.1%} "
        f"(target >= {TARGET_SHOWN_RATIO:.0%}); {report.frames_shown} shown in all"
        + (f"; {report.frames_out_of_view} not drawn: out of view" if report.frames_out_of_view else "")
    )
    n_labels, target = len(report.predictions), TARGET_LABELS_PER_S
    print(f"labels     {n_labels}, refreshed {report.labels_per_s:.2f}/s (target >= {target:g}/s)")
    if report.label_latency_s is not None:
        print(f"latency    {report.label_latency_s:.3f} s mean, {report.label_latency_p95_s:.3f} s p95")
    missing = report.sample_slots_missing
    samples = len(report.predictions) * models.clip_len
    print(
        f"samples    {missing} of {samples} window samples missing ({missing / max(1, samples):.1%}; "
        f"target <= {TARGET_MISSING_RATIO:.0%}; dropped while the encoder was busy)"
    )
    print(
        f"stage ms   decode {s.decode_ms:.1f}, preprocess {s.preprocess_ms:.1f}, encoder {s.encoder_ms:.1f}, "
        f"decoder {s.decoder_ms:.1f}, draw {s.draw_ms:.1f}"
    )
    frames = max(1, report.frames_shown)
    print(
        f"cpu        {play_s:.1f} s of play on {os.cpu_count()} cores: "
        + ", ".join(f"{group} {used:.1f} s ({1000 * used / frames:.0f} ms/frame shown)" for group, used in cpu.items())
    )
    if report.recording is not None:
        rec = report.recording
        # play() = playback + the recording's end (video flush, text files) + opening the source
        print(f"recording  {rec.frames} frames, {rec.frames_dropped} dropped; play() took {play_s:.2f} s for")
        print(f"           {report.wall_s:.2f} s of playback (the rest: opening, flushing the video, writing files)")
        print(f"           {rec.summary()}")
    missed = [
        name
        for name, ok in (
            ("frames shown", report.shown_ratio >= TARGET_SHOWN_RATIO),
            ("label refresh", report.labels_per_s >= TARGET_LABELS_PER_S),
            ("label latency", report.label_latency_s is not None and report.label_latency_s <= TARGET_LATENCY_S),
            ("missing samples", missing <= TARGET_MISSING_RATIO * samples),
        )
        if not ok
    ]
    print("targets    " + (f"MISSED: {', '.join(missed)}" if missed else "met"))
    if args.json:
        figures = {
            "shown_ratio": report.shown_ratio,
            "labels_per_s": report.labels_per_s,
            "label_latency_s": report.label_latency_s,
            "label_latency_p95_s": report.label_latency_p95_s,
            "frames_source": report.frames_source,
            "frames_out_of_view": report.frames_out_of_view,
            "missing_samples": missing,
            "window_samples": samples,
            "max_in_flight": args.max_in_flight,
            "hint": args.hint,
            "busy_core": args.busy_core,
            "ack_page": args.ack_page,
            "chromium": display,
            "load_avg": load_before[0],
            "play_s": play_s,
            "frames_recorded": report.recording.frames if report.recording is not None else None,
            "frames_not_recorded": report.recording.frames_dropped if report.recording is not None else None,
            "cpu_s": cpu,
        }
        print(json.dumps(figures))
    return 0


def _group(proc: psutil.Process, me: int) -> str:
    """Which part of the run a process is: this player, Chromium, the Jupyter server, the busy core."""
    if proc.pid == me:
        return "player"
    if "chrom" in proc.name():  # by name: the server's and kernel's command lines may name "chromium" paths
        return "chromium"
    cmd = " ".join(proc.cmdline())
    if "jupyter" in cmd and "ipykernel" not in cmd:
        return "jupyter server"
    if "while True: pass" in cmd:
        return "busy core"
    return "other"


def cpu_seconds_by_process() -> dict[int, tuple[str, float]]:
    """pid -> (group, user + system CPU seconds so far) for every process this user can read."""
    import psutil

    me, out = os.getpid(), {}
    for proc in psutil.process_iter():
        try:
            with proc.oneshot():
                times = proc.cpu_times()
                out[proc.pid] = (_group(proc, me), times.user + times.system)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each group used between two snapshots (a process started between them: all of its
    time; one that ended between them is not counted: its time is lost with it)."""
    used: dict[str, float] = {}
    for pid, (group, seconds) in after.items():
        earlier = before.get(pid)
        used[group] = used.get(group, 0.0) + seconds - (earlier[1] if earlier is not None else 0.0)
    order = ("player", "chromium", "jupyter server", "busy core", "other")
    return {g: round(used[g], 2) for g in order if g in used}


def _in_chromium(argv: list[str], args: argparse.Namespace) -> int:
    """Run :func:`play_in_kernel` in a JupyterLab kernel whose notebook headless Chromium shows."""
    import shutil
    import tempfile

    import nbformat
    from playwright.sync_api import sync_playwright

    from tests.support.chromium import CHROMIUM, LAUNCH_ARGS
    from tests.ui.conftest import (
        _start_lab,
        _stop_lab,
        cell_outputs_text,
        error_outputs,
        open_notebook,
        run_all,
        shutdown_kernels,
    )

    if not CHROMIUM.exists():
        raise SystemExit(f"--chromium needs Debian's Chromium at {CHROMIUM} (apt-get install -y chromium)")
    absolute = [str(Path(a).resolve()) if Path(a).exists() else a for a in argv]  # the kernel runs in the Lab's root
    source = f"import live_player\nrc = await live_player.play_in_kernel({absolute!r})\nassert rc == 0, rc"
    base = Path(tempfile.mkdtemp(prefix="ar-live-chromium-"))
    notebook = base / "live_player.ipynb"  # open_notebook opens a copy of its own name
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, notebook)
    env = {"PYTHONPATH": os.pathsep.join((str(REPO), str(Path(__file__).resolve().parent)))}
    server = _start_lab(base / "lab", env)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS), headless=True)
            try:
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                open_notebook(page, server, notebook)
                run_all(page, timeout_s=args.seconds + 180)
                errors = error_outputs(page)
                print(cell_outputs_text(page))
            finally:
                browser.close()
    finally:
        shutdown_kernels(server)
        _stop_lab(server)
        shutil.rmtree(base, ignore_errors=True)
    if errors:
        raise SystemExit("the kernel failed:\n" + "\n".join(errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
