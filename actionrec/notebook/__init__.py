"""Notebook-only widgets (anywidget front ends), imported lazily by ``notebook_utils.py``.

Nothing here is needed by the engine or the CLI; importing this package imports nothing heavy.
"""
