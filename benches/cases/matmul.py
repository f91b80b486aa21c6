"""Matmul cases: dlcore's GEMM (`dlcore._core.matmul`) against `numpy.matmul`.

Shapes are the ones dlcore's layers produce: square sizes for scaling, an MLP layer with its
two backward products (transposed operands are passed as views, never copied), LeNet-style
im2col convolutions with their weight and input gradients, a 1x1 convolution (its B rows 4 KiB
apart), matrix-vector products (one sample through a layer), and a tiny product where call
overhead is everything.
"""

from __future__ import annotations

import numpy as np

from dlcore import _core

from . import Case, Sides, optional_torch

SQUARE_SIZES = (64, 128, 256, 512, 1024, 2048)

# (label, m, k, n, layout): C (m x n) = A (m x k) @ B (k x n). Layout "NN" passes both as
# stored; "TN" stores A as (k, m) and passes A.T; "NT" stores B as (n, k) and passes B.T.
SHAPES = (
    *((f"{s}", s, s, s, "NN") for s in SQUARE_SIZES),
    ("linear fwd", 64, 784, 256, "NN"),
    ("linear dW = x^T g", 784, 64, 256, "TN"),
    ("linear dx = g W^T", 64, 256, 784, "NT"),
    ("conv1 fwd", 6, 25, 36864, "NN"),
    ("conv1 dW", 6, 36864, 25, "NT"),
    ("conv1 dcols", 25, 6, 36864, "TN"),
    ("conv2 fwd", 16, 150, 4096, "NN"),
    ("conv2 dW", 16, 4096, 150, "NT"),
    ("conv2 dcols", 150, 16, 4096, "TN"),
    ("conv 64x288 fwd", 64, 288, 65536, "NN"),
    ("1x1 conv fwd", 128, 64, 1024, "NN"),
    ("batch-1 linear fwd", 1, 784, 256, "NT"),
    ("vector @ matrix", 1, 1024, 1024, "NN"),
    ("matrix @ vector", 1024, 1024, 1, "NN"),
    ("tiny", 1, 4, 8, "NN"),
)

FLOAT64_SIZES = (256, 1024)


def operands(m, k, n, layout="NN", dtype=np.float32, seed=0):
    """Random `(a, b)` of shapes (m, k) and (k, n), as transposed views where `layout` says."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if layout[0] == "T" else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if layout[1] == "T" else (k, n)).astype(dtype)
    return (a.T if layout[0] == "T" else a), (b.T if layout[1] == "T" else b)


def _case(label, m, k, n, layout, dtype):
    def prepare():
        a, b = operands(m, k, n, layout, dtype)
        torch = optional_torch()
        ta, tb = (torch.from_numpy(a), torch.from_numpy(b)) if torch else (None, None)
        return Sides(
            dlcore=lambda: _core.matmul(a, b),
            numpy=lambda: np.matmul(a, b),
            torch=(lambda: torch.matmul(ta, tb)) if torch else None,
        )

    a_shape = f"{m}x{k}" if layout[0] == "N" else f"({k}x{m})^T"
    b_shape = f"{k}x{n}" if layout[1] == "N" else f"({n}x{k})^T"
    name = f"matmul {np.dtype(dtype).name} {a_shape} @ {b_shape}"
    if not label.isdigit():
        name += f" [{label}]"
    return Case(name, prepare, flops=2.0 * m * n * k)


def cases():
    out = [_case(*shape, np.float32) for shape in SHAPES]
    out += [_case(f"{s}", s, s, s, "NN", np.float64) for s in FLOAT64_SIZES]
    return out
