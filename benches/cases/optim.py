"""Optimizer cases: one fused dlcore step against the same update in NumPy.

A 10M-element float32 Adam step (28 bytes of memory traffic per element) against NumPy
written the usual way (one temporary per operation) and against NumPy with ``out=``
operations into one reused scratch array; the same 10M elements as 100 tensors of 100K (the
multi-tensor step should cost what one tensor does); SGD with momentum; and the Adam step of a
tiny MLP, where per-step overhead is everything. PyTorch, if installed, runs its fused Adam.
"""

from __future__ import annotations

import numpy as np

import dlcore
from dlcore import nn, optim
from dlcore.reference import optim as ref

from . import Case, Sides, optional_torch

N = 10_000_000


def _params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = [nn.Parameter(rng.standard_normal(n).astype(np.float32)) for n in sizes]
    for p in params:
        p.grad = dlcore.Tensor(rng.standard_normal(p.data.shape).astype(np.float32))
    return params


def _torch_step(params, make):
    """A PyTorch optimizer step over copies of ``params`` (None without PyTorch)."""
    torch = optional_torch()
    if torch is None:
        return None
    tensors = []
    for p in params:
        t = torch.from_numpy(p.data.copy()).requires_grad_(True)
        t.grad = torch.from_numpy(p.grad.data.copy())
        tensors.append(t)
    return make(torch, tensors).step


def _adam_case(sizes, label, numpy_style):
    def prepare():
        params = _params(sizes)
        numpy_params = [p.data.copy() for p in params]
        grads = [p.grad.data for p in params]
        states = [{} for _ in params]
        if numpy_style == "naive":
            def numpy_step():
                for a, g, st in zip(numpy_params, grads, states):
                    ref.adam(a, g, st, lr=1e-3)
        else:
            scratch = [np.empty_like(a) for a in numpy_params]

            def numpy_step():
                for a, g, st, s in zip(numpy_params, grads, states, scratch):
                    ref.adam_inplace(a, g, st, s, lr=1e-3)
        return Sides(
            dlcore=optim.Adam(params, lr=1e-3).step,
            numpy=numpy_step,
            torch=_torch_step(params, lambda torch, ts: torch.optim.Adam(ts, lr=1e-3,
                                                                          fused=True)),
        )

    return Case(f"adam float32 {label} vs {numpy_style} NumPy", prepare)


def _sgd_case():
    def prepare():
        (p,) = _params([N])
        a, g, state = p.data.copy(), p.grad.data, {}
        return Sides(
            dlcore=optim.SGD([p], lr=1e-3, momentum=0.9).step,
            numpy=lambda: ref.sgd(a, g, state, lr=1e-3, momentum=0.9),
            torch=_torch_step([p], lambda torch, ts: torch.optim.SGD(ts, lr=1e-3,
                                                                     momentum=0.9)),
        )

    return Case("sgd momentum float32 10M vs naive NumPy", prepare)


def _tiny_mlp_case():
    def prepare():
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        params = list(model.parameters())
        for p in params:
            p.grad = dlcore.Tensor(np.ones_like(p.data))
        arrays = [p.data.copy() for p in params]
        grads = [p.grad.data for p in params]
        states = [{} for _ in params]

        def numpy_step():
            for a, g, st in zip(arrays, grads, states):
                ref.adam(a, g, st, lr=1e-3)

        return Sides(
            dlcore=optim.Adam(params, lr=1e-3).step,
            numpy=numpy_step,
            torch=_torch_step(params, lambda torch, ts: torch.optim.Adam(ts, lr=1e-3)),
        )

    return Case("adam tiny MLP 4 params (per-step overhead) vs naive NumPy", prepare)


def cases():
    return [
        _adam_case([N], "1x10M", "naive"),
        _adam_case([N], "1x10M", "in-place"),
        _adam_case([N // 100] * 100, "100x100K", "naive"),
        _sgd_case(),
        _tiny_mlp_case(),
    ]
