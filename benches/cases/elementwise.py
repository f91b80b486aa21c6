"""Elementwise cases: activations, dropout, batch norm and losses, forward + backward through
the public API on 1M float32 elements (4 MiB, memory-bound), against NumPy written the usual
way (the functions of `bench_catalogue.py`) and PyTorch when installed."""

from __future__ import annotations

import numpy as np
from catalogue_workloads import (
    dl_fwd_bwd,
    np_batchnorm,
    np_bce_logits,
    np_dropout,
    np_elu,
    np_gelu_tanh,
    np_leaky,
    np_silu,
)

import dlcore
import dlcore.nn.functional as F
from dlcore import nn

from . import Case, Sides, optional_torch

N = 1 << 20
IMAGE = (64, 32, 32, 32)


def np_relu(x: np.ndarray):
    return np.maximum(x, 0), (x > 0).astype(x.dtype)


def np_sigmoid(x: np.ndarray):
    s = 1 / (1 + np.exp(-x))
    return s, s * (1 - s)


def np_tanh(x: np.ndarray):
    t = np.tanh(x)
    return t, 1 - t * t


def np_cross_entropy(logits: np.ndarray, labels: np.ndarray):
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    loss = np.mean(np.log(total[:, 0]) - shifted[rows, labels])
    grad = e / total
    grad[rows, labels] -= 1
    return loss, grad / len(labels)


def _torch_fwd_bwd(fn, x: np.ndarray, *extra: np.ndarray):
    torch = optional_torch()
    if torch is None:
        return None
    tx = torch.from_numpy(x)
    others = [torch.from_numpy(e) for e in extra]
    g = torch.ones_like(tx)

    def run():
        t = tx.detach().requires_grad_(True)
        out = fn(torch, t, *others)
        out.backward(g if out.shape == t.shape else None)

    return run


def _activation(label, dl_fn, np_fn, torch_fn):
    def prepare():
        x = np.random.default_rng(0).standard_normal(N).astype(np.float32)
        return Sides(dlcore=dl_fwd_bwd(dl_fn, x), numpy=lambda: np_fn(x),
                     torch=_torch_fwd_bwd(torch_fn, x))

    return Case(f"{label} fwd+bwd 1M", prepare)


def _dropout():
    def prepare():
        x = np.random.default_rng(0).standard_normal(N).astype(np.float32)
        return Sides(dlcore=dl_fwd_bwd(lambda a: F.dropout(a, 0.5), x),
                     numpy=lambda: np_dropout(x),
                     torch=_torch_fwd_bwd(lambda t, a: t.nn.functional.dropout(a, 0.5), x))

    return Case("dropout p=0.5 fwd+bwd 1M", prepare)


def _batchnorm():
    def prepare():
        x = np.random.default_rng(0).standard_normal(IMAGE).astype(np.float32)
        bn = nn.BatchNorm2d(IMAGE[1])
        torch = optional_torch()
        torch_bn = torch.nn.BatchNorm2d(IMAGE[1]) if torch else None
        return Sides(dlcore=dl_fwd_bwd(bn, x), numpy=lambda: np_batchnorm(x),
                     torch=_torch_fwd_bwd(lambda t, a: torch_bn(a), x) if torch else None)

    return Case("batchnorm2d train fwd+bwd 64x32x32x32", prepare)


def _bce():
    def prepare():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(N).astype(np.float32)
        t = (rng.random(N) > 0.5).astype(np.float32)

        def run():
            xt = dlcore.Tensor(x, requires_grad=True)
            F.binary_cross_entropy_with_logits(xt, t).backward()

        return Sides(dlcore=run, numpy=lambda: np_bce_logits(x, t), torch=_torch_fwd_bwd(
            lambda th, a, b: th.nn.functional.binary_cross_entropy_with_logits(a, b), x, t))

    return Case("bce_with_logits fwd+bwd 1M", prepare)


def _cross_entropy():
    def prepare():
        rng = np.random.default_rng(0)
        logits = rng.standard_normal((1024, 1000)).astype(np.float32)
        labels = rng.integers(0, 1000, 1024)

        def run():
            xt = dlcore.Tensor(logits, requires_grad=True)
            F.cross_entropy(xt, labels).backward()

        return Sides(dlcore=run, numpy=lambda: np_cross_entropy(logits, labels),
                     torch=_torch_fwd_bwd(lambda th, a, b: th.nn.functional.cross_entropy(a, b),
                                          logits, labels))

    return Case("cross_entropy fwd+bwd 1024x1000", prepare)


def cases():
    return [
        _activation("relu", F.relu, np_relu, lambda t, a: t.relu(a)),
        _activation("sigmoid", F.sigmoid, np_sigmoid, lambda t, a: t.sigmoid(a)),
        _activation("tanh", F.tanh, np_tanh, lambda t, a: t.tanh(a)),
        _activation("gelu (tanh)", lambda a: F.gelu(a, "tanh"), np_gelu_tanh,
                    lambda t, a: t.nn.functional.gelu(a, approximate="tanh")),
        _activation("silu", F.silu, np_silu, lambda t, a: t.nn.functional.silu(a)),
        _activation("elu", F.elu, np_elu, lambda t, a: t.nn.functional.elu(a)),
        _activation("leaky_relu", F.leaky_relu, np_leaky,
                    lambda t, a: t.nn.functional.leaky_relu(a)),
        _dropout(),
        _batchnorm(),
        _bce(),
        _cross_entropy(),
    ]
