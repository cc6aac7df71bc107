"""``analyze`` on Ray: the same results as the local run, bad files, workers that die, Ctrl+C.

One local Ray runtime (2 CPUs, 127.0.0.1, no dashboard) for the module; the workers are the
project's own :class:`~actionrec.distributed.VideoWorker` or the test subclasses of
tests/support/ray_workers.py. The CLI tests start their own runtime (slow-marked).
"""

from __future__ import annotations

import _thread
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from actionrec.cli.analyze import failure_line
from actionrec.errors import ActionRecError
from actionrec.models.files import resolve_model
from actionrec.models.runtime import compile_models
from actionrec.pipeline import Recognizer, RecognizerOptions
from tests.support.cli import REPO, run_actionrec
from tests.support.interrupts import default_ctrl_c_in_child, python_ctrl_c_here
from tests.support.ray_workers import ChunkDyingWorker
from tests.support.videos import make_video, solid, switch

BLUE_THEN_RED = switch((200, 30, 30), (30, 30, 220), at_s=4.06)

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -r requirements-dev.txt (the ray extra)")

from actionrec.distributed import (  # noqa: E402  (after the skip: the runner needs Ray)
    ModelPayload,
    VideoFailure,
    WorkerConfig,
    WorkerLostError,
    analyze_on_ray,
    ray_session,
)


@pytest.fixture(scope="module")
def ray_runtime():
    before = os.environ.get("RAY_USAGE_STATS_ENABLED")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, address="local", _node_ip_address="127.0.0.1", log_to_driver=False)
    yield ray
    ray.shutdown()
    if before is None:
        os.environ.pop("RAY_USAGE_STATS_ENABLED", None)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Four synthetic videos of different colours, rates and lengths, and one file that is not a video."""
    root = tmp_path_factory.mktemp("ray_videos")
    make_video(root / "a_blue.mp4", fps=30, duration_s=2.0, size_wh=(160, 120), paint=solid((200, 30, 30)))
    make_video(root / "b_green.mp4", fps=25, duration_s=3.0, size_wh=(160, 120), paint=solid((30, 200, 30)))
    make_video(root / "c_grey.mp4", fps=30, duration_s=2.5, size_wh=(200, 120))
    (root / "d_bad.mp4").write_text("not a video at all\n")
    make_video(root / "e_red.mp4", fps=24, duration_s=1.5, size_wh=(120, 160), paint=solid((30, 30, 220)))
    return root


@pytest.fixture
def local(tiny_model_dir, tiny_labels_file):
    """The driver's side: resolved files, a recognizer (smoothing 3: centred), the payload and config."""
    files = resolve_model(model_dir=tiny_model_dir, labels=tiny_labels_file, precision="FP16")
    models = compile_models(files, hint="THROUGHPUT")
    recognizer = Recognizer(models, options=RecognizerOptions(smoothing=3, stride_s=0.25))
    payload = ModelPayload.from_files(files, labels=models.labels, encoder_id=models.encoder_id)
    config = WorkerConfig(device="CPU", options=recognizer.options, env=WorkerConfig.driver_env())
    return recognizer, payload, config


def local_results(recognizer, items):
    out = []
    for item in items:
        try:
            out.append(recognizer.analyze(item, progress=False, cache=False))
        except Exception as exc:
            out.append(exc)
    return out


def ray_results(recognizer, items, **kwargs):
    results = []
    for i, (index, outcome) in enumerate(analyze_on_ray(items, progress=False, cache=False, **kwargs)):
        assert index == i  # input order
        results.append(outcome.error if isinstance(outcome, VideoFailure) else recognizer.timeline(outcome))
    return results


def assert_same(local, remote):
    """Windows, labels and segments identical; scores within float tolerance; timing fields apart."""
    assert len(local) == len(remote)
    for a, b in zip(local, remote, strict=True):
        if isinstance(a, BaseException):
            assert isinstance(b, BaseException), f"local failed ({a}), Ray gave a timeline"
            assert failure_line(b) == failure_line(a)
            continue
        assert not isinstance(b, BaseException), f"Ray failed: {b}"
        assert (b.source, b.labels, b.frames_decoded, b.duration_s) == (
            a.source,
            a.labels,
            a.frames_decoded,
            a.duration_s,
        )
        rows = [(p.window_index, p.start_s, p.end_s, p.labels, p.coverage_s, p.duplicated) for p in a.predictions]
        assert [
            (p.window_index, p.start_s, p.end_s, p.labels, p.coverage_s, p.duplicated) for p in b.predictions
        ] == rows
        np.testing.assert_allclose([p.scores for p in b.predictions], [p.scores for p in a.predictions], atol=1e-6)
        assert [(s.label, s.start_s, s.end_s, s.windows) for s in b.segments()] == [
            (s.label, s.start_s, s.end_s, s.windows) for s in a.segments()
        ]


def test_two_workers_equal_the_local_run_bad_file_included(ray_runtime, local, folder):
    recognizer, payload, config = local
    items = sorted(str(p) for p in folder.iterdir())
    expected = local_results(recognizer, items)
    assert sum(isinstance(r, BaseException) for r in expected) == 1  # d_bad.mp4
    got = ray_results(recognizer, items, payload=payload, config=config, workers=2)
    assert_same(expected, got)
    assert {r.predictions[0].labels[0] for r in got if not isinstance(r, BaseException)} >= {"blue", "green", "red"}


def test_a_long_video_in_chunks_equals_its_unsplit_analysis(ray_runtime, local, folder, tmp_path, monkeypatch):
    """Four chunks of 2 s of windows (blue, then red in chunk 3; smoothing 3); one chunk's worker dies once."""
    recognizer, payload, config = local
    long = make_video(tmp_path / "long.mp4", fps=30, duration_s=8.0, size_wh=(160, 120), paint=BLUE_THEN_RED)
    items = [str(long), str(folder / "a_blue.mp4")]
    marker = tmp_path / "die-once"
    marker.write_text("")
    config = dataclasses.replace(config, env={**config.env, "AR_TEST_DIE_MARKER": str(marker)})
    out = analyze_on_ray(
        items,
        payload=payload,
        config=config,
        cache=True,
        progress=False,
        chunk_s=2.0,
        grid=recognizer.grid,
        worker_cls=ChunkDyingWorker,
    )
    remote = [recognizer.timeline(o) for _, o in out]
    assert not marker.exists(), "no chunk ran on a worker (the video was not split)"
    assert_same(local_results(recognizer, items), remote)
    assert [s.label for s in remote[0].segments()][:2] == ["blue", "red"]
    # The workers filled the cache chunk by chunk: a local run finds every sample there.
    monkeypatch.setattr(Recognizer, "encode", lambda *a, **k: pytest.fail("the cache should hold every sample"))
    assert_same([remote[0]], [recognizer.analyze(long, progress=False, cache=True)])


def test_workers_that_cannot_start_say_why(ray_runtime, local, folder):
    """The worker's own exception, not Python's ``^^^^`` markers or Ray's pid and colour codes."""
    recognizer, payload, config = local
    items = sorted(str(p) for p in folder.iterdir() if "bad" not in p.name)
    from tests.support.ray_workers import BrokenStartWorker

    with pytest.raises(ActionRecError) as info:
        ray_results(recognizer, items, payload=payload, config=config, workers=1, worker_cls=BrokenStartWorker)
    assert str(info.value) == (
        "the Ray workers could not start: The actor died because of an error raised in its creation task, "
        "ray::BrokenStartWorker.__init__(); "
        "FileNotFoundError: [Errno 2] No such file or directory: '/nowhere/encoder.bin'"
    )


def test_a_worker_that_dies_has_its_video_retried(ray_runtime, local, folder, tmp_path):
    recognizer, payload, config = local
    items = sorted(str(p) for p in folder.iterdir() if "bad" not in p.name)
    marker = tmp_path / "die-once"
    marker.write_text("")
    env = config.env | {"AR_TEST_DIE_ON": "b_green", "AR_TEST_DIE_MARKER": str(marker)}
    from tests.support.ray_workers import DyingWorker

    got = ray_results(
        recognizer,
        items,
        payload=payload,
        config=WorkerConfig(**{**config.__dict__, "env": env}),
        workers=2,
        worker_cls=DyingWorker,
    )
    assert not marker.exists()  # the worker did die once on b_green.mp4
    assert_same(local_results(recognizer, items), got)  # and nothing was lost


def test_a_video_that_kills_every_worker_fails_after_bounded_retries(ray_runtime, local, folder):
    recognizer, payload, config = local
    items = [str(folder / "a_blue.mp4"), str(folder / "b_green.mp4"), str(folder / "e_red.mp4")]
    from tests.support.ray_workers import DyingWorker

    env = config.env | {"AR_TEST_DIE_ON": "b_green"}
    got = ray_results(
        recognizer,
        items,
        payload=payload,
        config=WorkerConfig(**{**config.__dict__, "env": env}),
        workers=2,
        worker_cls=DyingWorker,
        max_attempts=2,
    )
    assert isinstance(got[1], WorkerLostError)
    assert "died 2 times" in str(got[1]) and "without --ray" in str(got[1])
    assert_same(local_results(recognizer, [items[0], items[2]]), [got[0], got[2]])


def test_ctrl_c_kills_the_workers(ray_runtime, local, folder, tmp_path, request):
    python_ctrl_c_here(request)
    _, payload, config = local
    slow = make_video(tmp_path / "slow.mp4", fps=30, duration_s=1.5, size_wh=(64, 48))  # not in the shared folder
    started = tmp_path / "started"
    env = config.env | {"AR_TEST_STARTED": str(started)}
    from tests.support.ray_workers import GatedWorker

    def interrupt_when_started():
        deadline = time.monotonic() + 120
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        _thread.interrupt_main()

    seen = []
    threading.Thread(target=interrupt_when_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        for i, out in analyze_on_ray(
            [str(folder / "a_blue.mp4"), str(slow)], payload=payload,
            config=WorkerConfig(**{**config.__dict__, "env": env}), workers=1, progress=False,
            worker_cls=GatedWorker,
        ):  # fmt: skip
            seen.append((i, out))
    assert [i for i, _ in seen] == [0]  # the first was done and handed over; the slow one never was
    pid = int(started.read_text())
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the worker still runs after Ctrl+C"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = f"/proc/{pid}/stat"
    return open(stat).read().split()[2] != "Z" if os.path.exists(stat) else True  # a zombie has exited


def _json_without_timings(path):
    def strip(d):
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k != "timings_ms"}
        return [strip(x) for x in d] if isinstance(d, list) else d

    return strip(json.loads(path.read_text()))


def tiny_cli(tiny_model_dir, tiny_labels_file, out):
    return ["--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file), "--out", str(out), "--no-cache"]


@pytest.mark.slow
def test_cli_ray_exports_equal_the_local_run(tiny_model_dir, tiny_labels_file, folder, tmp_path):
    def run(out, *extra):
        flags = tiny_cli(tiny_model_dir, tiny_labels_file, tmp_path / out)
        return run_actionrec("analyze", str(folder), *flags, "--smooth", "3", *extra)

    local, remote = run("local"), run("ray", "--ray", "--workers", "2")
    assert local.returncode == remote.returncode == 1, remote.stderr
    assert remote.stdout.replace(str(tmp_path / "ray"), "OUT") == local.stdout.replace(str(tmp_path / "local"), "OUT")
    fails = [[line for line in r.stderr.splitlines() if line.startswith("FAILED ")] for r in (local, remote)]
    assert fails[0] == fails[1] and len(fails[0]) == 1 and "d_bad.mp4" in fails[0][0]
    assert "videos on Ray" in remote.stderr  # the one progress bar of the cluster
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "ray").iterdir()) and len(names) == 12
    for name in names:
        a, b = tmp_path / "local" / name, tmp_path / "ray" / name
        if name.endswith(".json"):
            assert _json_without_timings(b) == _json_without_timings(a), name
        else:
            assert b.read_text() == a.read_text(), name


def test_ray_flags_need_ray(tiny_model_dir, tiny_labels_file, folder, tmp_path):
    r = run_actionrec(
        "analyze", str(folder / "a_blue.mp4"), *tiny_cli(tiny_model_dir, tiny_labels_file, tmp_path), "--workers", "2"
    )
    assert r.returncode == 1 and "--workers needs --ray" in r.stderr
    r = run_actionrec("analyze", str(folder / "a_blue.mp4"), "--ray", "--workers", "0")
    assert r.returncode == 2 and "not a positive number of workers" in r.stderr
    r = run_actionrec(
        "analyze", str(folder / "a_blue.mp4"), *tiny_cli(tiny_model_dir, tiny_labels_file, tmp_path), "--chunk-s", "60"
    )
    assert r.returncode == 1 and "--chunk-s needs --ray" in r.stderr
    r = run_actionrec("analyze", str(folder / "a_blue.mp4"), "--ray", "--chunk-s", "-1")
    assert r.returncode == 2 and "not a number of seconds >= 0" in r.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_cli_ctrl_c_leaves_only_complete_outputs(tiny_model_dir, tiny_labels_file, tmp_path):
    videos = tmp_path / "in"
    for i in range(8):
        make_video(videos / f"v{i}.mp4", fps=30, duration_s=3.0, size_wh=(160, 120))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "actionrec", "analyze", str(videos), *tiny_cli(tiny_model_dir, tiny_labels_file, out),
         "--ray", "--workers", "1", "--no-progress"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_ctrl_c_in_child,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while not list(out.glob("*.json")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(out.glob("*.json")) and proc.poll() is None, "Ctrl+C must land after one video and before the last"
    proc.send_signal(signal.SIGINT)
    # A hang guard, not a timing: the actors are killed and Ray shut down within seconds on a quiet
    # machine; once, with the load average at 8, this took longer than 120 s.
    _, stderr = proc.communicate(timeout=400)
    assert proc.returncode == 130 and "interrupted" in stderr, stderr
    assert all(not p.name.startswith(".") and ".tmp" not in p.name for p in out.iterdir())  # no half-written file
    written = list(out.glob("*.json"))
    assert 1 <= len(written) < 8  # the finished videos are kept, the rest never started or was dropped
    for p in written:
        doc = json.loads(p.read_text())  # complete: parses, every window there
        assert len(doc["windows"]) == 5


class _SlowStartRay:
    """A stand-in for the ``ray`` module whose local node times out ``timeouts`` times, as Ray says it."""

    def __init__(self, timeouts: int) -> None:
        self.timeouts = timeouts
        self.inits: list[dict] = []
        self.shutdowns = 0

    def is_initialized(self) -> bool:
        return False

    def init(self, **kwargs) -> None:
        self.inits.append(kwargs)
        if len(self.inits) <= self.timeouts:
            raise Exception("The current node timed out during startup. This could happen because ...")

    def shutdown(self) -> None:
        self.shutdowns += 1


def test_a_local_runtime_that_times_out_once_is_started_again(monkeypatch):
    from actionrec.distributed import runner

    fake = _SlowStartRay(timeouts=1)
    monkeypatch.setattr(runner, "import_ray", lambda: fake)
    with ray_session(None, num_cpus=2) as got:
        assert got is fake
    assert len(fake.inits) == 2 and fake.inits[1]["_node_ip_address"] == "127.0.0.1"


def test_a_local_runtime_that_never_starts_is_one_clear_error(monkeypatch):
    from actionrec.distributed import runner

    fake = _SlowStartRay(timeouts=5)
    monkeypatch.setattr(runner, "import_ray", lambda: fake)
    expected = r"cannot start or reach a local Ray runtime: Exception: The current node timed out.*run again"
    with pytest.raises(ActionRecError, match=expected), ray_session(None):
        pass
    assert len(fake.inits) == 2  # started once more, not forever
