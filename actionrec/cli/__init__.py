"""The command line: ``python -m actionrec {fetch,analyze,bench,doctor} ...`` (also ``actionrec ...``).

:mod:`~actionrec.cli.main` holds the command table; each command has its own module.
"""

from .main import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
