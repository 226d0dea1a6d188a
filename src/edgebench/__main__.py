"""``python -m edgebench``: the same command line as the ``edgebench`` script."""

import sys

from edgebench.cli import main

sys.exit(main())
