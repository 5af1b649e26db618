"""``python -m sensorhub``: the same as the ``sensorhub`` command."""

import sys

from sensorhub.cli import main

sys.exit(main())
