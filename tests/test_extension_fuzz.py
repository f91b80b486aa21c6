"""Every ``dlcore._core`` function fuzzed in a subprocess, so a crash fails the test.

A Rust panic (pyo3's PanicException), an abort or a segfault would take pytest itself down
if the fuzzing ran in-process; ``extension_fuzz.py`` holds the strategies and checks.
"""

import os
import subprocess
import sys

import pytest
from extension_fuzz import FAMILIES

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_extension_survives_random_bad_input(family):
    result = subprocess.run(
        [sys.executable, os.path.join(HERE, "extension_fuzz.py"), family, "60"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, (
        f"fuzzing {family} exited with {result.returncode}\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-3000:]}"
    )
    assert "passed" in result.stdout
