"""The package's shape: layers that only import down, no circles, a light front door, small files."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter's contracts of ``root/pyproject.toml`` on the ``actionrec`` package under ``root``."""
    if not LINT.exists():
        pytest.skip("import-linter is not installed (pip install -r requirements-dev.txt)")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(root)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_every_import_runs_down_and_no_module_imports_a_sibling_that_imports_it_back():
    r = lint_imports(REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 kept, 0 broken" in r.stdout


PLANTS = {
    # an upward import inside a function (the pipeline reaching for a notebook widget)
    "upward": (
        "actionrec/pipeline/sampling.py",
        "\n\ndef _planted():\n    from ..notebook import display\n\n    return display\n",
        "actionrec.pipeline is not allowed to import actionrec.notebook:\n\n"
        "- actionrec.pipeline.sampling -> actionrec.notebook.display",
    ),
    # a circle: the video types importing the opener that imports them
    "circle": (
        "actionrec/video/core.py",
        "\n\ndef _planted():\n    from .open import open_video\n\n    return open_video\n",
        "No cycles are allowed in actionrec.video.\n"
        "It could be made acyclic by removing 1 dependency:\n\n- .core -> .open",
    ),
}


@pytest.mark.parametrize("kind", sorted(PLANTS))
def test_the_check_fails_when_an_upward_import_or_a_circle_is_added(tmp_path, kind):
    shutil.copytree(REPO / "actionrec", tmp_path / "actionrec", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint_imports(tmp_path).returncode == 0, "the unchanged copy must pass"
    path, code, named = PLANTS[kind]
    with open(tmp_path / path, "a", encoding="utf-8") as f:
        f.write(code)
    r = lint_imports(tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert " 0 broken" not in r.stdout and named in r.stdout, r.stdout


def test_an_upward_import_under_type_checking_does_not_count(tmp_path):
    shutil.copytree(REPO / "actionrec", tmp_path / "actionrec", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "actionrec/pipeline/sampling.py"
    path.write_text(
        path.read_text().replace(
            "from typing import Generic, Protocol, TypeVar\n",
            "from typing import TYPE_CHECKING, Generic, Protocol, TypeVar\n\n"
            "if TYPE_CHECKING:\n    from ..notebook.player import LivePlayer\n",
        )
    )
    r = lint_imports(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_module_of_the_package_imports_its_front_door():
    """``actionrec/__init__.py`` names every concern (lazily, by string): importing it back closes a circle."""
    offenders = []
    for path in sorted((REPO / "actionrec").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
                submodules = all((REPO / target.replace(".", "/") / a.name).with_suffix(".py").exists() or
                                 (REPO / target.replace(".", "/") / a.name).is_dir() for a in node.names)  # fmt: skip
                if target == "actionrec" and not submodules:
                    offenders.append(
                        f"{module}: from {'.' * node.level} import {', '.join(a.name for a in node.names)}"
                    )
            elif isinstance(node, ast.Import) and any(a.name == "actionrec" for a in node.names):
                offenders.append(f"{module}: import actionrec")
    assert not offenders, offenders


def test_import_actionrec_and_notebook_utils_load_nothing_heavy():
    code = textwrap.dedent(
        """
        import sys
        import actionrec, notebook_utils
        print(sorted(m for m in ("openvino", "matplotlib", "ipywidgets", "anywidget", "cv2", "av")
                     if m in sys.modules))
        """
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _type_checking_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom):
                    names.update(a.asname or a.name for a in stmt.names)
    return names


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("actionrec/__init__.py", "actionrec"),
        ("actionrec/notebook/__init__.py", "actionrec.notebook"),
        ("notebook_utils.py", "notebook_utils"),
    ],
)
def test_front_doors_show_checkers_exactly_their_public_names(path, module):
    import importlib

    mod = importlib.import_module(module)
    assert _type_checking_names(REPO / path) == set(mod.__all__)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name
    with pytest.raises(AttributeError, match=r"has no attribute 'nope'; available: \["):
        mod.nope  # noqa: B018


def test_notebook_utils_gives_the_engines_names_and_ipython_display():
    import actionrec
    import notebook_utils as nu

    assert set(actionrec.__all__) < set(nu.__all__)
    assert nu.Recognizer is actionrec.Recognizer
    from IPython.display import display

    assert nu.display is display


def test_modules_over_about_400_lines_say_why_in_their_docstring():
    long = []
    for path in sorted((REPO / "actionrec").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").count("\n")
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if lines > 410 and "Not split:" not in doc:  # ~400: a few lines of slack
            long.append(f"{path.relative_to(REPO)} ({lines} lines)")
    assert not long, f"split these, or say in the module docstring why not ('Not split: ...'): {long}"
