"""Allow ``python -m apibehave``."""

import sys

from apibehave.cli import main

sys.exit(main())
