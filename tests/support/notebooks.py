"""Run the tutorial notebook with other settings, as papermill does: an injected parameters cell.

The notebook has one cell tagged ``parameters``; :func:`with_parameters` inserts, right after it, a
cell tagged ``injected-parameters`` that assigns the given values, so the rest of the notebook runs
unchanged with them (e.g. label groups and event rules that fit the tiny test models' labels).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TINY_GROUPS = {"cool": ["blue", "green"], "warm": ["red"]}  # label groups of the tiny test models' classes
TINY_EVENT_RULES = ["red > 0.6 for 1s"]


def with_parameters(nb: Any, values: dict[str, Any]) -> Any:
    """``nb`` (an ``nbformat`` notebook, changed in place and returned) with ``values`` injected.

    Raises:
        ValueError: the notebook has no cell tagged ``parameters``.
    """
    from nbformat.v4 import new_code_cell

    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), None)
    if index is None:
        raise ValueError("the notebook has no cell tagged 'parameters'")
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)
    return nb


def tiny_parameters(folder: Path, *, video: Path) -> dict[str, Any]:
    """Settings for the tiny models and a blue-then-red ``video`` (blue until 2 s, then red).

    A groups file of their colour classes (written in ``folder``), an event rule on ``red``, and
    two examples of each colour as custom actions (``video`` at 0-1 and 1-2 s, 2-3 and 3-4 s).
    """
    groups = folder / "colours.json"
    groups.write_text(json.dumps(TINY_GROUPS))
    examples = [
        f"{action}={video}@{start}-{start + 1}" for action, start in (("sky", 0), ("sky", 1), ("fire", 2), ("fire", 3))
    ]
    return {"GROUPS": str(groups), "EVENT_RULES": TINY_EVENT_RULES, "EXAMPLES": examples}


def write_with_parameters(notebook: Path, dest: Path, values: dict[str, Any]) -> Path:
    """Write ``notebook`` with ``values`` injected to ``dest`` and return ``dest``."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nbformat.write(with_parameters(nb, values), dest)
    return dest
