"""Whole training steps of one LSTM or GRU layer (L=50, N=32, H_in=64, H=128, float32): zero
the gradients, forward over the sequence, MSE loss, backward through time, Adam step. dlcore's
`nn.LSTM` / `nn.GRU` and `optim.Adam` against the hand-derived NumPy backpropagation through
time of `dlcore.reference.recurrent_bptt` and, when installed, PyTorch. See
`benches/recurrent_workloads.py`."""

from __future__ import annotations

from recurrent_workloads import RECURRENT_TABLE, check_first_losses, recurrent_sides

from . import Case, Sides


def _case(label, mode, sizes):
    def prepare():
        # The first step of each side doubles as the check that they compute the same loss
        # from the same weights; the report's warm-up runs after it.
        sides = recurrent_sides(mode, sizes)
        check_first_losses(sides)
        dl, np_side, torch_side = sides
        return Sides(dlcore=dl, numpy=np_side, torch=torch_side)

    return Case(f"recurrent train step {label}", prepare)


def cases():
    return [_case(label, mode, sizes) for label, (mode, sizes) in RECURRENT_TABLE.items()]
