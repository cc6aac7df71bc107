"""A two-node Ray cluster on loopback (``ray start --head`` and a worker node) runs ``analyze --ray``.

Both nodes are ``ray start --block`` processes this test starts and stops itself (by their process
group, never ``ray stop``, which would stop every Ray runtime on the machine). They use Ray's default
temp folder: a driver on the same machine finds the node's sockets there (with another
``--temp-dir`` the CLI's ``ray.init(address=...)`` cannot connect).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import run_actionrec
from tests.support.videos import make_video, solid

pytest.importorskip("ray", reason="Ray is not installed: pip install -r requirements-dev.txt (the ray extra)")
RAY = Path(sys.executable).with_name("ray")
# No usage statistics; no token authentication: a loopback test cluster, and nodes started at other
# times by other processes on this machine would each write their own token into ~/.ray.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(*args: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ, **RAY_ENV)
    with log.open("w") as out:
        return subprocess.Popen(
            [str(RAY), "start", "--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", *args],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the node's own processes are in its session
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _nodes_alive(address: str) -> int:
    code = (
        f"import ray; ray.init(address={address!r}, log_to_driver=False, configure_logging=False); "
        "print(sum(n['Alive'] for n in ray.nodes()))"
    )
    env = dict(os.environ, **RAY_ENV)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    return int(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 and r.stdout.strip() else 0


@pytest.fixture
def two_nodes(tmp_path_factory):
    if not RAY.is_file():
        pytest.skip(f"the ray command is not beside {sys.executable}")
    port = _free_port()
    head = _start("--head", f"--port={port}", "--include-dashboard=false",
                  log=tmp_path_factory.mktemp("ray") / "head.log")  # fmt: skip
    nodes = [head]
    try:
        address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while _nodes_alive(address) < 1 and time.monotonic() < deadline and head.poll() is None:
            time.sleep(1)
        nodes.append(_start(f"--address={address}", log=tmp_path_factory.mktemp("ray") / "worker.log"))
        while _nodes_alive(address) < 2 and time.monotonic() < deadline:
            time.sleep(1)
        if _nodes_alive(address) < 2:
            pytest.fail("the two-node Ray cluster did not come up within 120 s")
        yield address
    finally:
        for proc in reversed(nodes):
            _stop(proc)


@pytest.mark.slow
def test_two_node_loopback_cluster_runs_the_folder(two_nodes, tiny_model_dir, tiny_labels_file, tmp_path):
    folder = tmp_path / "in"
    make_video(folder / "a.mp4", fps=30, duration_s=2.0, size_wh=(160, 120), paint=solid((200, 30, 30)))
    make_video(folder / "b.mp4", fps=25, duration_s=2.0, size_wh=(160, 120), paint=solid((30, 30, 220)))
    make_video(folder / "c.mp4", fps=30, duration_s=2.0, size_wh=(160, 120), paint=solid((30, 200, 30)))
    (folder / "d.mp4").write_text("not a video\n")
    flags = ["--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file), "--no-cache", "--no-progress"]
    r = run_actionrec("analyze", str(folder), *flags, "--out", str(tmp_path / "out"), "--ray",
                      "--ray-address", two_nodes, "--workers", "2", env=RAY_ENV)  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert [line.split(":")[0] for line in r.stderr.splitlines() if line.startswith("FAILED ")] == [
        f"FAILED {folder / 'd.mp4'}"
    ]
    tops = {s: json.loads((tmp_path / "out" / f"{s}.json").read_text())["segments"][0]["label"] for s in "abc"}
    assert tops == {"a": "blue", "b": "red", "c": "green"}
