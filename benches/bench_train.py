"""pytest-benchmark cases: one training step of each network of issue 6's table, dlcore
against the from-scratch NumPy baseline (and PyTorch when installed).

Run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest benches/bench_train.py
--benchmark-only`; each network is one benchmark group. `benches/report.py` gives the same
comparison as ratios measured in one process.
"""

import pytest
from train_workloads import TRAIN_TABLE, dlcore_step, numpy_step, optional_torch, torch_step

IMPLEMENTATIONS = {"dlcore": dlcore_step, "numpy": numpy_step}
if optional_torch() is not None:
    IMPLEMENTATIONS["torch"] = torch_step


@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("label", list(TRAIN_TABLE))
def test_train_step(benchmark, label, impl):
    kind, batch = TRAIN_TABLE[label]
    step = IMPLEMENTATIONS[impl](kind, batch)
    benchmark.group = f"train step {label}"
    benchmark(step)
