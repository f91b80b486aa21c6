"""Pooling cases: forward + backward on 64x32x32x32 float32 (issue 3's max-pool row, whose
goal is under 1.5 ms: about 25 MB of memory traffic), plus min, average and global average
pooling, against the pure-NumPy reference and PyTorch when installed."""

from __future__ import annotations

from conv_workloads import pool_sides

from . import Case, Sides

POOLS = {
    "max-pool 2x2": ("max", 2, None, 0),
    "min-pool 2x2": ("min", 2, None, 0),
    "avg-pool 3x3 stride 2 pad 1": ("avg", 3, 2, 1),
    "global avg-pool": ("adaptive", 1, None, 0),
}


def _case(label, kind, kernel, stride, padding):
    def prepare():
        dl, np_side, torch_side = pool_sides(kind, kernel, stride, padding)
        return Sides(dlcore=dl, numpy=np_side, torch=torch_side)

    return Case(f"{label} fwd+bwd on 64x32x32x32", prepare)


def cases():
    return [_case(label, *spec) for label, spec in POOLS.items()]
