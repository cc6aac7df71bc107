"""``python -m actionrec``: see :mod:`actionrec.cli.main`."""

import sys

from .cli.main import main

sys.exit(main())
