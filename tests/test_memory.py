"""Memory: the malloc tuning done at import, and no growth over many training steps.

Each check that depends on process-wide state runs in a fresh interpreter, so what other tests
allocated (or how the test runner set the environment) cannot change the outcome.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np

import dlcore
from dlcore import _core, nn, optim

PYTHON_DIR = str(Path(dlcore.__file__).resolve().parent.parent)
IS_GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# Page faults of 20 ReLU forward + backward passes over an 8 MB tensor, after a warm-up.
FAULTS_SCRIPT = """
import resource, numpy as np, dlcore
import dlcore.nn.functional as F
x = dlcore.tensor(np.ones((64, 32, 32, 32), np.float32), requires_grad=True)
seed = np.ones(x.shape, np.float32)
def step():
    F.relu(x).backward(seed)
    x.grad = None
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def run_python(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("DLCORE_MALLOC_TUNING", "GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_",
                            "MALLOC_TRIM_THRESHOLD_")}
    environ["PYTHONPATH"] = PYTHON_DIR + os.pathsep + environ.get("PYTHONPATH", "")
    environ.update(env)
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def tuning_in_fresh_process(**env: str) -> dict:
    return eval(run_python("from dlcore import _core; print(_core.malloc_tuning())", **env))


def test_malloc_tuning_is_applied_at_import_on_glibc():
    tuning = tuning_in_fresh_process()
    if IS_GLIBC:
        assert tuning["applied"], tuning
        assert tuning["mmap_threshold"] == 32 << 20 and tuning["trim_threshold"] == 256 << 20
    else:
        assert not tuning["applied"] and "glibc" in tuning["reason"]


def test_malloc_tuning_can_be_turned_off():
    for value in ("0", "off", "False"):
        tuning = tuning_in_fresh_process(DLCORE_MALLOC_TUNING=value)
        assert not tuning["applied"] and "DLCORE_MALLOC_TUNING" in tuning["reason"]
    assert tuning_in_fresh_process(DLCORE_MALLOC_TUNING="1")["applied"] == IS_GLIBC


def test_malloc_tuning_leaves_a_tuned_environment_alone():
    for env in ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000000"},
                {"MALLOC_MMAP_THRESHOLD_": "1000000"}):
        tuning = tuning_in_fresh_process(**env)
        assert not tuning["applied"]
        if IS_GLIBC:
            assert "environment" in tuning["reason"]


def test_freed_activations_are_reused_without_page_faults():
    # Without the tuning glibc unmaps each freed 8 MB block and the next step faults ~2,000
    # fresh pages back in; with it the same memory serves every step.
    faults = float(run_python(FAULTS_SCRIPT))
    if IS_GLIBC:
        assert faults < 100, f"{faults} page faults per step"
    assert _core.malloc_tuning()["applied"] == IS_GLIBC


def rss_bytes() -> int:
    """Resident set size from /proc/self/statm (pages in the second field)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_training_does_not_grow_memory():
    # A leak of even one small array per step (16x64 float32 = 4 KB) would add 8 MB over the
    # 2,000 steps measured; the bound leaves room for allocator noise, not for a leak.
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = optim.Adam(model.parameters())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 32)).astype(np.float32)
    y = rng.integers(0, 10, 16)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(300):
        step()
    before = rss_bytes()
    for _ in range(2000):
        loss = step()
    grown = rss_bytes() - before
    assert grown < 4 << 20, f"RSS grew by {grown / 2**20:.1f} MB over 2,000 steps"
    # The graph of a step is gone once its loss is: nothing keeps old tapes alive.
    ref = weakref.ref(loss)
    del loss
    assert ref() is None


def test_a_graph_is_freed_after_backward():
    x = dlcore.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    h = x * 2
    out = (h.tanh() * 3).sum()
    hidden = weakref.ref(h)
    del h
    assert hidden() is not None  # still referenced by the graph of ``out``
    out.backward()
    assert hidden() is None  # backward dropped the graph's references
