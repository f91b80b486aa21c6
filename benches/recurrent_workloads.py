"""Training steps of one recurrent layer, shared by `cases/recurrent.py` (the ratio report) and
`tests/test_benches_recurrent.py` (the sides compute the same thing).

One step: zero the gradients, run the layer over a sequence ``(L, N, H_in)``, the loss is the
mean squared error of every step's output ``(L, N, H)`` against a fixed target, backward, Adam
update (lr 1e-3). dlcore runs it the way a user writes it (`nn.LSTM` / `nn.GRU`,
`nn.MSELoss`, `optim.Adam`); NumPy runs the hand-derived backpropagation through time of
`dlcore.reference.recurrent_bptt` and Adam written the usual NumPy way
(`dlcore.reference.optim.adam`); PyTorch, when importable, runs `torch.nn.LSTM` / `GRU` with
its best CPU Adam (fused where this version has it).

All three start from the same weights, so their first steps compute the same loss.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

import dlcore
from dlcore import nn, optim
from dlcore.reference import optim as ref_optim
from dlcore.reference import recurrent_bptt as bptt
from dlcore.reference.recurrent import GATES

Step = Callable[[], Any]
Sizes = Tuple[int, int, int, int]  # (L, N, H_in, H)
NAMES = {"w_ih": "weight_ih_l0", "w_hh": "weight_hh_l0", "b_ih": "bias_ih_l0",
         "b_hh": "bias_hh_l0"}
LR = 1e-3

# label -> (mode, (L, N, H_in, H)): the rows of the report.
RECURRENT_TABLE: Dict[str, Tuple[str, Sizes]] = {
    "LSTM L=50 N=32 64->128": ("LSTM", (50, 32, 64, 128)),
    "GRU L=50 N=32 64->128": ("GRU", (50, 32, 64, 128)),
}


def optional_torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def initial_weights(mode: str, sizes: Sizes, seed: int = 0) -> Dict[str, np.ndarray]:
    """float32 weights as PyTorch initialises them, ``U(-1/sqrt(H), 1/sqrt(H))``, keyed
    ``w_ih`` ``(G*H, H_in)``, ``w_hh`` ``(G*H, H)``, ``b_ih`` and ``b_hh`` ``(G*H,)``."""
    _, _, input_size, hidden = sizes
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(hidden)
    rows = GATES[mode] * hidden
    shapes = {"w_ih": (rows, input_size), "w_hh": (rows, hidden), "b_ih": (rows,),
              "b_hh": (rows,)}
    return {name: rng.uniform(-bound, bound, shape).astype(np.float32)
            for name, shape in shapes.items()}


def batch(sizes: Sizes, seed: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """A fixed float32 input ``(L, N, H_in)`` and target ``(L, N, H)``."""
    steps, samples, input_size, hidden = sizes
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((steps, samples, input_size)).astype(np.float32),
            (0.5 * rng.standard_normal((steps, samples, hidden))).astype(np.float32))


def dlcore_step(mode: str, sizes: Sizes) -> Step:
    _, _, input_size, hidden = sizes
    layer = nn.LSTM(input_size, hidden) if mode == "LSTM" else nn.GRU(input_size, hidden)
    for name, array in initial_weights(mode, sizes).items():
        getattr(layer, NAMES[name]).data[...] = array
    opt = optim.Adam(layer.parameters(), lr=LR)
    loss_fn = nn.MSELoss()
    x, target = batch(sizes)
    inputs, targets = dlcore.tensor(x), dlcore.tensor(target)

    def step() -> Any:
        opt.zero_grad()
        output, _ = layer(inputs)
        loss = loss_fn(output, targets)
        loss.backward()
        opt.step()
        return loss

    return step


def numpy_step(mode: str, sizes: Sizes) -> Step:
    params = initial_weights(mode, sizes)
    states: Dict[str, Dict[str, Any]] = {name: {} for name in params}
    x, target = batch(sizes)

    def step() -> float:
        output, _, _, cache = bptt.layer_forward(mode, x, None, None, params["w_ih"],
                                                 params["w_hh"], params["b_ih"], params["b_hh"])
        error = output - target
        loss = np.mean(error ** 2)
        # d mean((out - y)^2) / d out = 2 (out - y) / (number of elements)
        grads = bptt.layer_backward(mode, cache, (2 / error.size) * error)
        for name, param in params.items():
            ref_optim.adam(param, grads[name], states[name], lr=LR)
        return float(loss)

    return step


def torch_step(mode: str, sizes: Sizes) -> Optional[Step]:
    torch = optional_torch()
    if torch is None:
        return None
    _, _, input_size, hidden = sizes
    make = torch.nn.LSTM if mode == "LSTM" else torch.nn.GRU
    layer = make(input_size, hidden)
    with torch.no_grad():
        for name, array in initial_weights(mode, sizes).items():
            getattr(layer, NAMES[name]).copy_(torch.from_numpy(array))
    try:
        opt = torch.optim.Adam(layer.parameters(), lr=LR, fused=True)
    except (RuntimeError, TypeError, ValueError):
        opt = torch.optim.Adam(layer.parameters(), lr=LR)
    loss_fn = torch.nn.MSELoss()
    x, target = batch(sizes)
    tx, ty = torch.from_numpy(x), torch.from_numpy(target)

    def step() -> Any:
        opt.zero_grad()
        output, _ = layer(tx)
        loss = loss_fn(output, ty)
        loss.backward()
        opt.step()
        return loss

    return step


def recurrent_sides(mode: str, sizes: Sizes) -> Tuple[Step, Step, Optional[Step]]:
    """`(dlcore, numpy, torch or None)` callables doing one training step each."""
    return dlcore_step(mode, sizes), numpy_step(mode, sizes), torch_step(mode, sizes)


def first_losses(sides: Tuple[Step, Step, Optional[Step]]) -> Dict[str, float]:
    """Each side's loss on its first step (the steps are taken)."""
    losses = {}
    for name, side in zip(("dlcore", "numpy", "torch"), sides):
        if side is not None:
            loss = side()
            losses[name] = float(loss.item() if hasattr(loss, "item") else loss)
    return losses


def check_first_losses(sides: Tuple[Step, Step, Optional[Step]], rel: float = 1e-5) -> None:
    """Take each side's first step and raise AssertionError unless the losses agree (same
    weights and data, so the same loss to float32 round-off)."""
    losses = first_losses(sides)
    want = losses["numpy"]
    if not all(abs(loss - want) <= rel * abs(want) for loss in losses.values()):
        raise AssertionError(f"recurrent bench: first-step losses differ: {losses}")
