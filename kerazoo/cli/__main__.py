"""`python -m kerazoo.cli`: the `kerazoo` command."""

import sys

from kerazoo.cli import main

sys.exit(main())
