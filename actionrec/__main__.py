"""``python -m actionrec``: see :mod:`actionrec.cli`."""

import sys

from .cli import main

sys.exit(main())
