"""``python -m simplexgrad``: the command line."""

import sys

from simplexgrad.cli import main

sys.exit(main())
