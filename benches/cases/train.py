"""Whole training steps (issue 6's table): zero_grad, forward, loss, backward and an Adam step
on a fixed batch. dlcore's `nn`/`optim` against the from-scratch NumPy networks of
`dlcore.reference.networks` and, when installed, PyTorch with its fused Adam. See
`benches/train_workloads.py` for the networks; `benches/train_extras.py` adds import time,
wheel size and peak memory to the report."""

from __future__ import annotations

import train_extras
from train_workloads import TRAIN_TABLE, train_sides

from . import Case, Sides


def _case(label, kind, batch):
    def prepare():
        dl, np_side, torch_side = train_sides(kind, batch)
        return Sides(dlcore=dl, numpy=np_side, torch=torch_side)

    return Case(f"train step {label}", prepare)


def cases():
    return [_case(label, kind, batch) for label, (kind, batch) in TRAIN_TABLE.items()]


def extras():
    """Import time, wheel size and the memory of 100 LeNet steps at batch 256."""
    return train_extras.lines(steps=100)
