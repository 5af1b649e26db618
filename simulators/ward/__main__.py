"""``python -m simulators.ward``: one simulated ward night as a recording (``cli.main``)."""

import sys

from simulators.ward.cli import main

if __name__ == "__main__":
    sys.exit(main())
