"""python -m arrayx: show, list and verify arrays (see main)."""

import sys

from ._cli import main

sys.exit(main())
