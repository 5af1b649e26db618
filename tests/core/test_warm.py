"""``warm_up`` has numba compile what a service calls, before its first event: nothing is left
to compile in its first rounds (the first time after an install, a second or more each)."""

from __future__ import annotations

import subprocess
import sys

# in a process of its own: in this one, other tests may have compiled them already
CHECK = """
from sensorhub.codec import hashtable
from sensorhub.core import kernel
from sensorhub.core.warm import warm_up
warm_up()
# called from Python when the redelivery table grows, and when the event log is pruned
print(bool(hashtable.rehash.signatures), bool(kernel._live_seqs.signatures))
"""


def test_warm_up_compiles_the_kernels_called_only_in_later_rounds() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, timeout=600
    )
    assert done.stdout.split() == ["True", "True"]
