"""The recurrent training-step benchmark compares like with like: dlcore's `nn.LSTM` /
`nn.GRU` with `optim.Adam` and the hand-derived NumPy BPTT with NumPy Adam compute the same
losses step after step (so the same weights after each update). Timings are never asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHES = Path(__file__).resolve().parent.parent / "benches"
sys.path.insert(0, str(BENCHES))

import recurrent_workloads as rw  # noqa: E402
from cases import recurrent as recurrent_cases  # noqa: E402

SMALL = (6, 4, 5, 7)  # (L, N, H_in, H)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_recurrent_step_sides_compute_the_same_losses(mode):
    dl_step, np_step = rw.dlcore_step(mode, SMALL), rw.numpy_step(mode, SMALL)
    losses = []
    for step in range(4):
        dl_loss, np_loss = float(dl_step().item()), np_step()
        assert dl_loss == pytest.approx(np_loss, rel=1e-5), f"step {step}"
        losses.append(np_loss)
    assert losses[-1] < losses[0]  # Adam is training the layer, not standing still


def test_the_first_step_check_refuses_sides_that_start_apart():
    same = (rw.dlcore_step("GRU", SMALL), rw.numpy_step("GRU", SMALL), None)
    rw.check_first_losses(same)
    other = rw.numpy_step("GRU", (6, 4, 5, 8))  # another hidden size: other weights
    with pytest.raises(AssertionError, match="first-step losses differ"):
        rw.check_first_losses((rw.dlcore_step("GRU", SMALL), other, None))


def test_the_cases_are_registered_at_the_requested_sizes():
    names = [case.name for case in recurrent_cases.cases()]
    assert names == ["recurrent train step LSTM L=50 N=32 64->128",
                     "recurrent train step GRU L=50 N=32 64->128"]
    for mode, sizes in rw.RECURRENT_TABLE.values():
        assert sizes == (50, 32, 64, 128) and mode in ("LSTM", "GRU")
