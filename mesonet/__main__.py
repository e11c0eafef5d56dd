"""`python -m mesonet`: the command line, as `mesonet`."""

from __future__ import annotations

import sys

from mesonet.cli.main import main

# The guard matters: worker processes ("spawn") import this module again as __mp_main__.
if __name__ == "__main__":
    sys.exit(main())
