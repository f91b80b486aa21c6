"""The benchmark harness compares like with like, and still runs.

Timings are never asserted here; what is checked is that the two sides of a training-step
benchmark compute the same thing (so a ratio is a ratio of equal work) and that
`benches/report.py` finds every case and writes its table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHES = Path(__file__).resolve().parent.parent / "benches"
sys.path.insert(0, str(BENCHES))

import train_workloads as tw  # noqa: E402


@pytest.mark.parametrize("kind, batch", [("tiny", 3), ("mlp", 8), ("lenet", 4)])
def test_training_step_sides_compute_the_same_losses(kind, batch):
    dl_step, np_step = tw.dlcore_step(kind, batch), tw.numpy_step(kind, batch)
    for step in range(3):  # the same weights after each Adam update, so the same losses
        dl_loss, np_loss = float(dl_step().item()), float(np_step())
        assert dl_loss == pytest.approx(np_loss, rel=1e-4), f"step {step}"


def test_report_lists_every_case_and_writes_its_table(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(BENCHES.parent / "python"), os.environ.get("PYTHONPATH", "")]))
    run = [sys.executable, str(BENCHES / "report.py")]
    listed = subprocess.run(run + ["--list"], env=env, capture_output=True, text=True,
                            check=True).stdout
    for family in ("matmul", "conv2d", "max-pool", "adam", "relu", "train step"):
        assert family in listed, family
    subprocess.run(run + ["--filter", "matmul float32 1x4", "--repeats", "1", "--no-extras",
                          "--no-torch", "--out", str(tmp_path)],
                   env=env, capture_output=True, text=True, check=True)
    (report,) = tmp_path.glob("report-*.json")
    rows = json.loads(report.read_text())["rows"]
    assert [r["case"] for r in rows] == ["matmul float32 1x4 @ 4x8 [tiny]"]
    assert rows[0]["dlcore_s"] > 0 and rows[0]["numpy_s"] > 0
    assert np.isfinite(rows[0]["numpy_over_dlcore"])
    assert list(tmp_path.glob("report-*.md"))
