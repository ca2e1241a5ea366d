# SPDX-License-Identifier: MIT
"""Each example in examples/python runs to PASS."""
import glob
import os
import subprocess
import sys

import pytest

from conftest import SOURCE_DIR

EXAMPLES = sorted(glob.glob(os.path.join(SOURCE_DIR, "examples", "python", "*.py")))


def test_examples_exist():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_runs(path):
    r = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("PASS"), r.stdout
