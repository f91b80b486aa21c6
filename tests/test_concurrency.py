"""Python threads training at once: the kernels release the GIL and share one pool, whose
threads claim work from every caller (see ``rust/threading.rs``). Each model must end where
it ends when trained alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Dict

import numpy as np

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim


def _train(seed: int, steps: int = 4) -> Dict[str, np.ndarray]:
    """A small CNN (conv, batch norm, pooling, dropout-free) trained with Adam on a fixed
    random batch of ``(32, 3, 16, 16)`` images; returns its final weights."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 3, 16, 16)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 64), nn.Tanh(), nn.Linear(64, 10),
    )
    # Weights from the seed alone, not from the shared global generator, which the other
    # threads draw from too.
    for name, p in model.named_parameters():
        p.data[...] = np.random.default_rng([seed, len(name)]).standard_normal(p.shape) * 0.1
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(dlcore.tensor(x)), y)
        loss.backward()
        opt.step()
    return {k: np.array(v) for k, v in model.state_dict().items()}


def test_models_trained_in_threads_at_once_match_training_alone():
    seeds = [0, 1, 2, 3]
    alone = [_train(s) for s in seeds]
    with ThreadPoolExecutor(len(seeds)) as pool:
        together = list(pool.map(_train, seeds * 2))
    for got, want in zip(together, alone * 2):
        assert got.keys() == want.keys()
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-5, err_msg=k)
