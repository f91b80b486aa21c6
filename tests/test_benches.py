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

import conv_workloads as cw  # noqa: E402
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
    assert rows[0]["numpy_over_dlcore_range"][0] <= rows[0]["numpy_over_dlcore"]


def test_report_sides_take_turns_and_ratios_are_paired_by_round(monkeypatch):
    import report

    calls = []
    monkeypatch.setattr(report.time, "sleep", lambda s: calls.append("long" if s else "short"))
    monkeypatch.setattr(report, "PAUSE_S", 1)
    monkeypatch.setattr(report, "DLCORE_PAUSE_S", 0)
    monkeypatch.setattr(report, "batch_size", lambda fn: 1)
    plan = [(name, lambda name=name: calls.append(name)) for name in ("dlcore", "numpy", "torch")]
    samples = report.time_in_turns(plan, repeats=3)
    assert calls[:3] == ["long"] * 3  # before each side's warm-up
    pauses, timed = calls[3::2], calls[4::2]
    assert timed == ["dlcore", "numpy", "torch", "torch", "numpy", "dlcore",
                     "dlcore", "numpy", "torch"]
    # Whatever follows NumPy or PyTorch waits for their spinning threads; after dlcore, a
    # short pause is enough.
    assert pauses == ["short", "short", "long", "long", "long", "long", "short", "short", "long"]
    assert {name: len(s) for name, s in samples.items()} == {"dlcore": 3, "numpy": 3, "torch": 3}
    # Round by round: 2/1, 3/3 and 8/2, so the median is 2 even though the medians of the
    # sides (3 and 2) would give 1.5.
    assert report.paired_ratio([2.0, 3.0, 8.0], [1.0, 3.0, 2.0]) == (2.0, 1.0, 4.0)


@pytest.mark.parametrize("label", [k for k, spec in cw.CONV_TABLE.items() if spec[3] > 1])
def test_strided_conv_sides_compute_the_same_gradients(label):
    dl_side, np_side, _ = cw.conv_sides(*cw.CONV_TABLE[label])
    for got, want in zip(dl_side(), np_side()):
        np.testing.assert_allclose(np.asarray(got.numpy()), want, rtol=2e-3, atol=2e-3)
