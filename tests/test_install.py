"""``pip install`` of the checkout into a fresh virtual environment, used from outside the checkout.

The new environment sees this environment's packages through a ``.pth`` file (so nothing is
downloaded), but not the checkout itself: what runs is the installed copy, with ``model/`` and
``data/`` in the per-user cache folder.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv with the checkout pip-installed (not editable); returns its bin folder."""
    root = tmp_path_factory.mktemp("install")
    # Build from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    src = root / "src"
    skip = shutil.ignore_patterns(".git", ".venv", "data", "model", "build", "artifacts", "*.egg-info", "__pycache__")
    shutil.copytree(REPO, src, ignore=skip)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    (purelib,) = (venv / "lib").glob("python3*/site-packages")
    # This environment's packages (openvino, numpy, ...), but not the checkout: no editable finder.
    (purelib / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
         "--no-input", str(src)],
        capture_output=True, text=True, timeout=600, cwd=root,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return venv / "bin"


def run(bin_dir: Path, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


@pytest.fixture
def outside(tmp_path) -> tuple[Path, dict[str, str]]:
    """A working folder outside the checkout and an environment with no AR_* and a private cache home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AR_", "PYTHON"))}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache-home")
    work = tmp_path / "work"
    work.mkdir()
    return work, env


def test_the_installed_package_is_the_copy_not_the_checkout(installed, outside):
    work, env = outside
    code = "import actionrec, actionrec.settings as s; print(actionrec.__file__); print(s.IN_CHECKOUT, s.data_dir())"
    r = run(installed, "python", "-c", code, cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    where, flags = r.stdout.splitlines()
    assert str(installed.parent) in where and str(REPO) not in where
    assert flags == f"False {Path(env['XDG_CACHE_HOME']) / 'actionrec' / 'data'}"


def test_declared_dependencies_and_package_data(installed, outside):
    work, env = outside
    code = (
        "import importlib.metadata as m, importlib.resources as r, json; "
        "print(json.dumps({'requires': m.requires('actionrec'), "
        "'data': [str(p.name) for p in (r.files('actionrec') / 'schemas').iterdir()] + "
        "[f for f in ('player/player.js', 'upload.js', 'browser_camera.js', 'browser_camera.css', 'upload.css', "
        "'timeline_widget.js') if (r.files('actionrec') / 'notebook' / f).is_file()] + "
        "[f for f in ('timeline_view.js', 'timeline_view.css') if (r.files('actionrec') / 'export' / f).is_file()], "
        "'groups': sorted(p.name for p in (r.files('actionrec') / 'heads' / 'examples').iterdir())}))"
    )
    r = run(installed, "python", "-c", code, cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    names = {req.split(">")[0].split("=")[0].split(";")[0].strip() for req in found["requires"]}
    assert {"openvino", "numpy", "opencv-python-headless", "av", "requests", "tqdm", "platformdirs"} <= names
    assert {"matplotlib", "ipywidgets", "anywidget"} <= names  # the notebook extra
    assert "timeline-v1.schema.json" in found["data"] and "timeline-v2.schema.json" in found["data"]
    assert {"player/player.js", "upload.js", "browser_camera.js"} <= set(found["data"])
    assert {"timeline_widget.js", "timeline_view.js", "timeline_view.css"} <= set(found["data"])  # the timeline view
    assert found["groups"] == [
        f"{n}.json" for n in ("eating-and-drinking", "exercise", "household-chores", "music", "sports")
    ]


def test_console_script_api_and_analysis_outside_the_checkout(installed, outside, tiny_model_dir, tiny_labels_file,
                                                              video_factory):  # fmt: skip
    work, env = outside
    r = run(installed, "actionrec", "--help", cwd=work, env=env)
    assert r.returncode == 0 and "fetch" in r.stdout and "analyze" in r.stdout, r.stderr
    r = run(installed, "python", "-c", "import actionrec; print(actionrec.Recognizer)", cwd=work, env=env)
    assert r.stdout.strip() == "<class 'actionrec.pipeline.files.Recognizer'>", r.stderr
    clip = video_factory("install_clip.mp4", duration_s=2.0, fps=15)
    r = run(installed, "actionrec", "analyze", str(clip), "--model-dir", str(tiny_model_dir), "--labels",
            str(tiny_labels_file), "--out", "out", "--no-progress", cwd=work, env=env)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.name for p in (work / "out").iterdir()) == [
        "install_clip.csv",
        "install_clip.json",
        "install_clip.vtt",
    ]
    doc = json.loads((work / "out" / "install_clip.json").read_text())
    assert doc["schema"] == "actionrec.timeline/2" and len(doc["windows"]) == 2  # 31 grid samples in 1.93 s
    # the embedding cache went to the per-user cache folder, not into a checkout
    assert list((Path(env["XDG_CACHE_HOME"]) / "actionrec" / "data" / "cache").glob("*.npz"))
