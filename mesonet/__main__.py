"""`python -m mesonet`: the command line, as `mesonet`."""

from __future__ import annotations

import sys

from mesonet.cli import main

sys.exit(main())
