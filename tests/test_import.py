"""`import dlcore` stays light: the modules that cost the most import time load on first use.

(A timing assertion would be flaky on a shared machine; which modules get imported is not.)
"""

import os
import subprocess
import sys
from pathlib import Path

import dlcore

PYTHON_DIR = str(Path(dlcore.__file__).resolve().parent.parent)

# numpy.random pulls in `secrets` and OpenSSL's hashes: more than all of dlcore. matplotlib
# (plots) is heavy and optional; csv, gzip and json serve single features.
DEFERRED = ("numpy.random", "secrets", "hashlib", "matplotlib", "csv", "gzip", "json", "tqdm")


def modules_after(code):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint(sorted(sys.modules))"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(eval(done.stdout))


def test_import_dlcore_defers_heavy_modules():
    baseline = modules_after("import numpy")
    loaded = modules_after("import dlcore") - baseline
    assert not [m for m in loaded if m.split(".")[0] in DEFERRED or m in DEFERRED], loaded


def test_deferred_modules_load_when_used():
    loaded = modules_after("import dlcore\ndlcore.manual_seed(0)\ndlcore.nn.Linear(2, 3)")
    assert "numpy.random" in loaded
    loaded = modules_after("import dlcore, tempfile, os\n"
                           "p = os.path.join(tempfile.mkdtemp(), 'c.npz')\n"
                           "dlcore.save({'a': 1}, p); dlcore.load(p)")
    assert "json" in loaded
