"""Fixtures the whole suite uses: tiny models, synthetic videos, a local HTTP server."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.support.http_server import FaultServer
from tests.support.tiny_models import write_labels, write_model_dir
from tests.support.videos import make_video

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ``../shared``, or skip the test with the reason when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs ../shared ({p} is absent): reference material present only on dev/CI machines")
    return p


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Tiny action-recognition-0001 IRs (FP16 and FP16-INT8 names) in the OMZ layout."""
    return write_model_dir(tmp_path_factory.mktemp("tiny_models"), precisions=("FP16", "FP16-INT8", "FP32"))


@pytest.fixture(scope="session")
def tiny_labels_file(tmp_path_factory) -> Path:
    return write_labels(tmp_path_factory.mktemp("labels") / "labels.json", 400)


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
    """Tests never read the developer's AR_* settings or write into the repo's data/ and model/."""
    import os

    for name in list(os.environ):
        if name.startswith("AR_"):
            monkeypatch.delenv(name)
    from actionrec import settings

    monkeypatch.setattr(settings, "REPO_ROOT", tmp_path / "repo")


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
