"""Fixtures the whole suite uses: tiny models, synthetic videos, a local HTTP server."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.support.http_server import FaultServer
from tests.support.tiny_models import (
    DRIVER_MODEL,
    DRIVER_NUM_CLASSES,
    write_driver_labels,
    write_labels,
    write_model_dir,
)
from tests.support.videos import make_video, solid

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
# f32 on every CPU: OpenVINO's CPU plugin computes in bf16 on CPUs with AVX-512 BF16 or AMX, where the
# tiny models' exact outputs (colour values read back from embeddings) would be off by a rounding.
# Set before any fixture starts a process (kernels, JupyterLab, the CLI inherit it); the tests of the
# device's own default unset it (tests/test_inference_precision.py).
TEST_INFERENCE_PRECISION = "f32"
os.environ["AR_INFERENCE_PRECISION"] = TEST_INFERENCE_PRECISION


def shared_path(*parts: str) -> Path:
    """A path under ``../shared``, or skip the test with the reason when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs ../shared ({p} is absent): reference material present only on dev/CI machines")
    return p


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Tiny IRs in the OMZ layout, FP32, FP16 and FP16-INT8 names: action-recognition-0001 (400 classes)
    and, beside it, driver-action-recognition-adas-0002 (9 classes), as one ``AR_MODEL_DIR`` for both."""
    root = write_model_dir(tmp_path_factory.mktemp("tiny_models"), precisions=("FP16", "FP16-INT8", "FP32"))
    return write_model_dir(
        root, model=DRIVER_MODEL, precisions=("FP16", "FP16-INT8", "FP32"), num_classes=DRIVER_NUM_CLASSES
    )


@pytest.fixture(scope="session")
def tiny_labels_file(tmp_path_factory) -> Path:
    return write_labels(tmp_path_factory.mktemp("labels") / "labels.json", 400)


@pytest.fixture(scope="session")
def tiny_driver_labels_file(tmp_path_factory) -> Path:
    """The tiny driver decoder's 9 labels (``driver blue``, ...), one per line."""
    return write_driver_labels(tmp_path_factory.mktemp("driver_labels") / "driver_actions.txt")


@pytest.fixture
def http_server():
    server = FaultServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def video_factory(tmp_path_factory):
    """``video_factory(name, **make_video_kwargs)`` -> path, made once per name in the session.

    Asking for a name again with other parameters is an error (tests would silently share a file).
    """
    root = tmp_path_factory.mktemp("videos")
    made: dict[str, tuple[str, Path]] = {}

    def make(name: str, **kwargs) -> Path:
        key = _params_key(kwargs)
        if name in made:
            if made[name][0] != key:
                raise ValueError(f"video_factory: {name!r} was already made with other parameters; pick a new name")
            return made[name][1]
        made[name] = (key, make_video(root / name, **kwargs))
        return made[name][1]

    return make


@pytest.fixture
def red_clip(video_factory):
    """1.6 s at 30 fps, 320x240, red (BGR 30, 30, 220): the tiny models say "red"."""
    return video_factory("red_30fps.mp4", fps=30, duration_s=1.6, size_wh=(320, 240), paint=solid((30, 30, 220)))


def _params_key(kwargs: dict) -> str:
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(make_video).parameters.items() if p.default is not p.empty}

    def norm(v):
        if callable(v):
            cells = tuple(repr(c.cell_contents) for c in (getattr(v, "__closure__", None) or ()))
            return (getattr(v, "__code__", v), cells)
        return v

    return repr(sorted((k, norm(v)) for k, v in (defaults | kwargs).items()))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """Tests never read the developer's AR_* settings or write into the repo's data/ and model/.

    In this process the project folder is a temporary one; ``AR_DATA_DIR`` and ``AR_CACHE_DIR``
    point into it too, so the processes a test starts (the CLI, kernels) inherit the same folders
    whatever their working directory. :func:`pytest_sessionfinish` fails the run if the checkout
    changed anyway. ``AR_INFERENCE_PRECISION`` stays ``f32`` (see ``TEST_INFERENCE_PRECISION``).
    """
    for name in list(os.environ):
        if name.startswith("AR_"):
            monkeypatch.delenv(name)
    from actionrec import settings

    root = tmp_path / "repo"
    monkeypatch.setattr(settings, "REPO_ROOT", root)
    monkeypatch.setenv(settings.ENV_DATA_DIR, str(root / "data"))
    monkeypatch.setenv(settings.ENV_CACHE_DIR, str(root / "model"))
    monkeypatch.setenv(settings.ENV_INFERENCE_PRECISION, TEST_INFERENCE_PRECISION)


# -- the checkout stays as it was -------------------------------------------------------------------

_WATCHED = ("data", "model", "artifacts")  # run-time folders (gitignored): git status does not see them


def checkout_state(repo: Path = REPO) -> dict[str, tuple[int, int]] | None:
    """What a run could change in the checkout: files git reports, and every file of the run-time folders.

    ``None`` outside a git checkout (a copy without ``.git``): nothing to compare.
    """
    import subprocess

    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if status.returncode != 0:
        return None
    state: dict[str, tuple[int, int]] = {f"git: {line}": (0, 0) for line in status.stdout.splitlines()}
    for top in _WATCHED:
        for path in sorted((repo / top).rglob("*")):
            if path.is_file():
                st = path.stat()
                state[str(path.relative_to(repo))] = (st.st_size, st.st_mtime_ns)
    return state


def describe_changes(before: dict, after: dict) -> list[str]:
    """One line per file added, removed or changed between two :func:`checkout_state` snapshots."""
    lines = [f"added: {k}" for k in sorted(after.keys() - before.keys())]
    lines += [f"removed: {k}" for k in sorted(before.keys() - after.keys())]
    lines += [f"changed: {k}" for k in sorted(before.keys() & after.keys()) if before[k] != after[k]]
    return lines


def pytest_sessionstart(session):
    session.config._checkout_before = checkout_state()


def pytest_sessionfinish(session, exitstatus):
    """The suite wrote into the checkout: say what, and fail the run."""
    before = getattr(session.config, "_checkout_before", None)
    after = checkout_state() if before is not None else None
    if before is None or after is None:
        return
    changes = describe_changes(before, after)
    if changes:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "the suite changed the checkout (tests must write into temporary folders):\n  " + "\n  ".join(
            changes[:20]
        )
        if reporter is not None:
            reporter.write_line(text, red=True)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _normal_scheduling():
    """No test may change this process's scheduling (e.g. leave it at real-time priority).

    Every process started afterwards inherits it (JupyterLab, kernels, Chromium, Playwright's
    driver); two such processes spinning at SCHED_FIFO 99 on a 2-core machine starve everything
    else, timeouts and watchdogs included (how the UI tests hung until the doctor's AV1 check ran
    its encoder in a thread of its own: SVT-AV1 makes its calling thread SCHED_FIFO 99 as root).
    """
    if not hasattr(os, "sched_getscheduler"):  # not Linux
        yield
        return
    before = os.sched_getscheduler(0), os.sched_getparam(0)
    yield
    after = os.sched_getscheduler(0), os.sched_getparam(0)
    if after != before:
        os.sched_setscheduler(0, before[0], before[1])
        pytest.fail(f"the test changed this thread's scheduling from {before} to {after} (now reset)")


def sha(data: bytes, algorithm: str = "sha384") -> str:
    return hashlib.new(algorithm, data).hexdigest()


@pytest.fixture(scope="session")
def proxy_model_dir(tmp_path_factory) -> Path:
    """Full-size proxy models (real graphs, random weights) built once per session by ../shared/proxy."""
    import subprocess
    import sys

    script = shared_path("proxy", "make_proxy_models.py")
    out = tmp_path_factory.mktemp("proxy")
    subprocess.run([sys.executable, str(script), "--out", str(out)], check=True, capture_output=True, timeout=900)
    return out
