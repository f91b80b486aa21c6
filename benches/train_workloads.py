"""The end-to-end workloads of issue 6's table, shared by `bench_train.py` (pytest-benchmark),
`cases/train.py` (the ratio report) and `train_extras.py` (memory, import time, wheel size).

Each workload is one whole training step on a fixed batch: zero the gradients, forward, loss,
backward, Adam update. dlcore runs it the way a user writes it (`nn.Sequential`, `nn.functional`
losses, `optim.Adam`); NumPy runs the from-scratch networks of `dlcore.reference.networks`
(hand-derived backward passes, Adam written the usual NumPy way); PyTorch, when importable,
runs the same network with its best CPU Adam (fused where this version has it).

All three start from the same weights, so their first steps compute the same numbers.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

import dlcore
from dlcore import nn, optim
from dlcore.reference.networks import NumpyLeNet, NumpyMLP, NumpyRegressionMLP

Step = Callable[[], Any]

# label -> (workload, batch size): the rows of issue 6's table.
TRAIN_TABLE: Dict[str, Tuple[str, int]] = {
    "tiny MLP 4-8-1 (tanh, MSE), batch 1": ("tiny", 1),
    "MLP 784-256-128-10, batch 64": ("mlp", 64),
    "MLP 784-256-128-10, batch 256": ("mlp", 256),
    "LeNet-5, batch 64": ("lenet", 64),
    "LeNet-5, batch 256": ("lenet", 256),
}


def optional_torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _batch(kind: str, batch: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "tiny":
        return (rng.standard_normal((batch, 4)).astype(np.float32),
                rng.standard_normal((batch, 1)).astype(np.float32))
    shape = (batch, 784) if kind == "mlp" else (batch, 1, 28, 28)
    return rng.random(shape, dtype=np.float32), rng.integers(0, 10, batch)


def _reference(kind: str) -> Any:
    return {"tiny": NumpyRegressionMLP, "mlp": NumpyMLP, "lenet": NumpyLeNet}[kind]()


def dlcore_model(kind: str) -> nn.Module:
    if kind == "tiny":
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    if kind == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def _reference_arrays(kind: str, ref: Any) -> list:
    """The reference network's parameters in the order `dlcore_model(kind).parameters()`
    lists them (weights and biases of each layer in turn)."""
    names = {"tiny": ["w0", "b0", "w1", "b1"],
             "mlp": ["w0", "b0", "w1", "b1", "w2", "b2"],
             "lenet": ["c1w", "c1b", "c2w", "c2b", "f1w", "f1b", "f2w", "f2b", "f3w", "f3b"]}
    arrays = [ref.params[name] for name in names[kind]]
    if kind == "lenet":
        # The reference flattens channels-last (h, w, c); Flatten of NCHW gives (c, h, w).
        arrays[4] = arrays[4].reshape(120, 4, 4, 16).transpose(0, 3, 1, 2).reshape(120, 256)
    return arrays


def dlcore_step(kind: str, batch: int) -> Step:
    ref = _reference(kind)
    model = dlcore_model(kind)
    for param, array in zip(model.parameters(), _reference_arrays(kind, ref)):
        param.data[...] = array
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch(kind, batch)
    loss_fn = nn.MSELoss() if kind == "tiny" else nn.CrossEntropyLoss()
    inputs = dlcore.tensor(x)

    def step() -> Any:
        opt.zero_grad()
        loss = loss_fn(model(inputs), y)
        loss.backward()
        opt.step()
        return loss

    return step


def numpy_step(kind: str, batch: int) -> Step:
    ref = _reference(kind)
    x, y = _batch(kind, batch)
    return lambda: ref.step(x, y)


def torch_step(kind: str, batch: int) -> Optional[Step]:
    torch = optional_torch()
    if torch is None:
        return None
    tnn = torch.nn
    if kind == "tiny":
        model = tnn.Sequential(tnn.Linear(4, 8), tnn.Tanh(), tnn.Linear(8, 1))
    elif kind == "mlp":
        model = tnn.Sequential(tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 128),
                               tnn.ReLU(), tnn.Linear(128, 10))
    else:
        model = tnn.Sequential(
            tnn.Conv2d(1, 6, 5), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
            tnn.Linear(256, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
            tnn.Linear(84, 10),
        )
    with torch.no_grad():
        for param, array in zip(model.parameters(), _reference_arrays(kind, _reference(kind))):
            param.copy_(torch.from_numpy(array))
    try:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    except (RuntimeError, TypeError, ValueError):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch(kind, batch)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = tnn.MSELoss() if kind == "tiny" else tnn.CrossEntropyLoss()

    def step() -> Any:
        opt.zero_grad()
        loss = loss_fn(model(tx), ty)
        loss.backward()
        opt.step()
        return loss

    return step


def train_sides(kind: str, batch: int) -> Tuple[Step, Step, Optional[Step]]:
    """`(dlcore, numpy, torch or None)` callables doing one training step each."""
    return dlcore_step(kind, batch), numpy_step(kind, batch), torch_step(kind, batch)
