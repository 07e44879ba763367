"""Instructions a Python command executes, counted by valgrind's callgrind.

Instruction counts are the same run after run (within ~1%) where seconds are not (a shared,
noisy machine), so the benchmarks compare them: run a workload N and N + 1000 times, and the
difference / 1000 is the cost of one (start-up cancels out).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys


def instructions(script: str, *args: str) -> int:
    """Instructions of ``python script args...`` under callgrind (``PYTHONHASHSEED=0``: the same
    dict layouts every run). Raises ``subprocess.CalledProcessError`` if the command fails."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         script, *args],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"}).stderr
    match = re.search(r"refs:\s+([\d,]+)", out)
    assert match, out
    return int(match.group(1).replace(",", ""))
