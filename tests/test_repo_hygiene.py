"""The repository as committed: lint, format, spelling, a notebook without outputs, no data files."""

import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO


def run(*cmd):
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)


def tool(name):
    path = shutil.which(name) or (str(REPO / ".venv" / "bin" / name) if (REPO / ".venv/bin" / name).exists() else None)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -r requirements-dev.txt)")
    return path


def test_ruff_check_and_format_clean_including_the_notebook():
    r = run(tool("ruff"), "check", ".")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(tool("ruff"), "format", "--check", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_notebook_is_committed_without_outputs():
    nb = REPO / "action_recognition.ipynb"
    if not nb.exists():
        pytest.skip("the notebook is not in this checkout")
    r = run(tool("nbstripout"), "--verify", str(nb))
    assert r.returncode == 0, f"strip the outputs: nbstripout {nb.name}\n{r.stdout}{r.stderr}"


def test_codespell_clean():
    r = run(tool("codespell"), "actionrec", "tests", "docs", "README.md", "CHANGELOG.md", "notebook_utils.py")
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_downloaded_data_or_weights_tracked():
    r = run("git", "ls-files")
    if r.returncode != 0:
        pytest.skip("not a git checkout")
    tracked = r.stdout.split()
    bad = [
        f
        for f in tracked
        if (f.split("/")[0] in ("model", "data") and not f.endswith("README.md"))
        or f.endswith((".bin", ".mp4", ".mkv", ".avi", ".webm", ".npz"))
    ]
    assert not bad, f"downloaded or generated data is tracked: {bad}"


def test_the_declared_python_version_is_the_one_the_code_is_checked_for():
    """pyproject's requires-python, ruff's target version and the interpreter running us agree."""
    import re
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    floor = re.fullmatch(r">=\s*3\.(\d+)", config["project"]["requires-python"])
    assert floor, f"requires-python should be a floor like '>=3.11', got {config['project']['requires-python']!r}"
    assert config["tool"]["ruff"]["target-version"] == f"py3{floor[1]}"
    assert sys.version_info >= (3, int(floor[1])), "the suite runs on a Python the package says it does not support"


def test_cli_runs_as_the_suite_starts_them_leave_the_checkout_unchanged(tiny_model_dir, tiny_labels_file, tmp_path):
    from tests.conftest import checkout_state, describe_changes
    from tests.support.videos import make_video
    from tests.test_cli_analyze import run_cli, tiny_args

    before = checkout_state()
    if before is None:
        pytest.skip("not a git checkout: nothing to compare")
    clip = make_video(tmp_path / "clip.mp4", fps=15, duration_s=1.5)
    r = run_cli("analyze", str(clip), *tiny_args(tiny_model_dir, tiny_labels_file, tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    run_cli("doctor", "--no-cameras", "--codecs", "h264", "--model-dir", str(tiny_model_dir))  # a verdict, any
    assert describe_changes(before, checkout_state()) == []
