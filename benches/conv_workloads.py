"""The convolution and pooling workloads of issue 3's table, shared by `bench_conv.py`
(pytest-benchmark) and `cases/conv.py` / `cases/pool.py` (the ratio report).

Each workload is one training-style call: forward, then backward with a fixed upstream
gradient, with input, weight and bias all requiring gradients (float32, NCHW). dlcore runs
through the public Tensor API (`F.conv2d`, `F.max_pool2d`, `Tensor.backward`); NumPy runs the
pure-NumPy reference (`dlcore.reference`: im2col via `sliding_window_view` + matmul, col2im
for the input gradient); PyTorch, when importable, runs `torch.nn.functional`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

import dlcore
import dlcore.nn.functional as F
from dlcore.reference import conv as ref_conv
from dlcore.reference import pool as ref_pool

# label -> (input shape, weight shape, padding): issue 3's table.
CONV_TABLE: Dict[str, Tuple[Tuple[int, ...], Tuple[int, ...], int, int]] = {
    "64x1x28x28, 6 filters 5x5": ((64, 1, 28, 28), (6, 1, 5, 5), 0, 1),
    "64x6x12x12, 16 filters 5x5": ((64, 6, 12, 12), (16, 6, 5, 5), 0, 1),
    "64x32x32x32, 64 filters 3x3 pad 1": ((64, 32, 32, 32), (64, 32, 3, 3), 1, 1),
    "32x64x56x56, 64 filters 3x3 pad 1": ((32, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    # Downsampling layers: a ResNet stage's first 3x3 and a DCGAN discriminator's 4x4.
    "64x32x32x32, 64 filters 3x3 stride 2 pad 1": ((64, 32, 32, 32), (64, 32, 3, 3), 1, 2),
    "64x16x28x28, 32 filters 4x4 stride 2 pad 1": ((64, 16, 28, 28), (32, 16, 4, 4), 1, 2),
}

# label -> (input shape, weight shape (C_in, C_out, KH, KW), stride, padding, output_padding):
# the upsampling layers of a small MNIST autoencoder's decoder.
CONV_TRANSPOSE_TABLE: Dict[str, Tuple[Tuple[int, ...], Tuple[int, ...], int, int, int]] = {
    "64x16x7x7 -> 8 channels 3x3 stride 2": ((64, 16, 7, 7), (16, 8, 3, 3), 2, 1, 1),
    "64x32x14x14 -> 16 channels 4x4 stride 2": ((64, 32, 14, 14), (32, 16, 4, 4), 2, 1, 0),
}

POOL_SHAPE = (64, 32, 32, 32)


def conv_flops(x_shape, w_shape, padding, stride=1) -> float:
    """Floating-point operations of forward + both backward products (3 GEMMs' worth)."""
    n, _, h, w = x_shape
    c_out, c_in, kh, kw = w_shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    return 3 * 2.0 * n * c_out * oh * ow * c_in * kh * kw


def conv_sides(x_shape, w_shape, padding, stride=1, dtype=np.float32, seed=0):
    """`(dlcore, numpy, torch or None)` callables doing conv2d forward + backward once."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    s2, p4 = (stride, stride), (padding,) * 4
    y = ref_conv.conv2d(x, w, b, stride=s2, padding=p4)
    g = rng.standard_normal(y.shape).astype(dtype)

    def run_dlcore():
        # from_numpy shares memory: no copy of the inputs, and fresh leaves (no stale .grad).
        xt, wt, bt = (dlcore.from_numpy(a).requires_grad_() for a in (x, w, b))
        F.conv2d(xt, wt, bt, stride=stride, padding=padding).backward(g)
        return xt.grad, wt.grad, bt.grad

    def run_numpy():
        ref_conv.conv2d(x, w, b, stride=s2, padding=p4)
        return ref_conv.conv2d_backward(x, w, g, stride=s2, padding=p4)

    return run_dlcore, run_numpy, _torch_conv(x, w, b, g, padding, stride)


def _torch_conv(x, w, b, g, padding, stride) -> Optional[Callable[[], Any]]:
    torch = optional_torch()
    if torch is None:
        return None
    tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, g))

    def run():
        xs, ws, bs = (t.detach().requires_grad_(True) for t in (tx, tw, tb))
        torch.nn.functional.conv2d(xs, ws, bs, stride=stride, padding=padding).backward(tg)
        return xs.grad, ws.grad, bs.grad

    return run


def conv_transpose_flops(x_shape, w_shape) -> float:
    """Forward and both backward products: each input pixel meets every weight once."""
    n, c_in, h, w = x_shape
    _, c_out, kh, kw = w_shape
    return 3 * 2.0 * n * h * w * c_in * c_out * kh * kw


def conv_transpose_sides(x_shape, w_shape, stride, padding, output_padding, seed=0):
    """`(dlcore, numpy, torch or None)` callables doing conv_transpose2d forward + backward.

    The NumPy side is the reference's forward (one strided add per kernel tap) and, for the
    gradients, the reference conv2d (input) and its weight gradient: the transposed op's
    backward is those two products."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    b = rng.standard_normal(w_shape[1]).astype(np.float32)
    s2, p2, o2 = (stride, stride), (padding, padding), (output_padding, output_padding)
    y = ref_conv.conv_transpose2d(x, w, b, s2, p2, o2)
    g = rng.standard_normal(y.shape).astype(np.float32)
    pads = (padding,) * 4

    def run_dlcore():
        xt, wt, bt = (dlcore.from_numpy(a).requires_grad_() for a in (x, w, b))
        F.conv_transpose2d(xt, wt, bt, stride, padding, output_padding).backward(g)
        return xt.grad, wt.grad, bt.grad

    def run_numpy():
        ref_conv.conv_transpose2d(x, w, b, s2, p2, o2)
        grad_x = ref_conv.conv2d(g, w, stride=s2, padding=pads)
        _, grad_w, _ = ref_conv.conv2d_backward(g, w, x, stride=s2, padding=pads)
        return grad_x, grad_w, g.sum(axis=(0, 2, 3))

    torch = optional_torch()
    if torch is None:
        return run_dlcore, run_numpy, None
    tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, g))

    def run_torch():
        xs, ws, bs = (t.detach().requires_grad_(True) for t in (tx, tw, tb))
        torch.nn.functional.conv_transpose2d(xs, ws, bs, stride, padding,
                                             output_padding).backward(tg)
        return xs.grad, ws.grad, bs.grad

    return run_dlcore, run_numpy, run_torch


def pool_sides(kind="max", kernel=2, stride=None, padding=0, shape=POOL_SHAPE, seed=0):
    """`(dlcore, numpy, torch or None)` callables doing pooling forward + backward once.

    kind is "max", "min", "avg" or "adaptive" (global average pooling)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    stride = kernel if stride is None else stride
    k2, s2, p2 = (kernel, kernel), (stride, stride), (padding, padding)
    if kind in ("max", "min"):
        y, idx = ref_pool.extremum_pool2d(x, kind, k2, s2, p2)
        fn = F.max_pool2d if kind == "max" else F.min_pool2d

        def forward(t):
            return fn(t, kernel, stride, padding)

        def numpy_side():
            _, i = ref_pool.extremum_pool2d(x, kind, k2, s2, p2)
            return ref_pool.extremum_pool2d_backward(g, i, x.shape)
    elif kind == "avg":
        y = ref_pool.avg_pool2d(x, k2, s2, p2)

        def forward(t):
            return F.avg_pool2d(t, kernel, stride, padding)

        def numpy_side():
            ref_pool.avg_pool2d(x, k2, s2, p2)
            return ref_pool.avg_pool2d_backward(g, x.shape, k2, s2, p2)
    else:
        y = ref_pool.adaptive_avg_pool2d(x, (1, 1))

        def forward(t):
            return F.adaptive_avg_pool2d(t, 1)

        def numpy_side():
            ref_pool.adaptive_avg_pool2d(x, (1, 1))
            return ref_pool.adaptive_avg_pool2d_backward(g, x.shape)
    g = rng.standard_normal(y.shape).astype(np.float32)

    def run_dlcore():
        xt = dlcore.from_numpy(x).requires_grad_()
        forward(xt).backward(g)
        return xt.grad

    return run_dlcore, numpy_side, _torch_pool(kind, x, g, kernel, stride, padding)


def _torch_pool(kind, x, g, kernel, stride, padding) -> Optional[Callable[[], Any]]:
    torch = optional_torch()
    if torch is None or kind == "min":
        return None
    tf = torch.nn.functional
    ops = {"max": lambda t: tf.max_pool2d(t, kernel, stride, padding),
           "avg": lambda t: tf.avg_pool2d(t, kernel, stride, padding),
           "adaptive": lambda t: tf.adaptive_avg_pool2d(t, 1)}
    tx, tg = torch.from_numpy(x), torch.from_numpy(g)

    def run():
        xs = tx.detach().requires_grad_(True)
        ops[kind](xs).backward(tg)
        return xs.grad

    return run


def optional_torch() -> Any:
    """The ``torch`` module if it imports, else None (PyTorch is never a dependency)."""
    try:
        import torch
    except ImportError:
        return None
    return torch
