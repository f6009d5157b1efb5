"""``python -m mxkit``: the command line (see :mod:`mxkit.cli`)."""

import sys

from .cli import main

sys.exit(main())
