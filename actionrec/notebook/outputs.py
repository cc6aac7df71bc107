"""Fill an ``ipywidgets.Output`` from any thread: its outputs set directly, as a notebook file holds them."""

from __future__ import annotations

import base64
from typing import Any


def output_items(*objects: Any) -> tuple[dict[str, Any], ...]:
    """Display items for ``Output.outputs``: each object formatted by IPython, binary data base64-encoded.

    Setting ``Output.outputs`` is safe from a comm handler or a worker thread, where ``with output:``
    may not capture. Images go base64-encoded, as in a notebook file: raw bytes in widget state would
    travel as binary buffers the Output view cannot show.
    """
    from IPython.core.interactiveshell import InteractiveShell

    formatter = InteractiveShell.instance().display_formatter
    items = []
    for obj in objects:
        data, metadata = formatter.format(obj)
        data = {k: base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v for k, v in data.items()}
        items.append({"output_type": "display_data", "data": data, "metadata": metadata})
    return tuple(items)
