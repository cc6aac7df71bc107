"""Module attributes that load on first use (PEP 562), for the package's front doors.

:mod:`actionrec`, :mod:`actionrec.notebook` and ``notebook_utils`` map each public name to the
module it comes from; nothing heavy (OpenVINO, OpenCV, ipywidgets) loads until a name is used.

Example:
    >>> getattr_, dir_ = lazy_attributes("demo", {"sqrt": "math"}, namespace := {})
    >>> getattr_("sqrt")(9.0), "sqrt" in namespace
    (3.0, True)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    module_name: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a module whose names load on first use (PEP 562).

    Args:
        module_name: the module's name, for the error message.
        exports: public name -> the module that defines it.
        namespace: the module's ``globals()``; a loaded name is kept there.

    Returns:
        ``(__getattr__, __dir__)`` to assign in the module.
    """
    names = sorted(exports)

    def getattr_(name: str) -> Any:
        try:
            source = exports[name]
        except KeyError:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}; available: {names}") from None
        value = getattr(importlib.import_module(source), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *names})

    return getattr_, dir_
