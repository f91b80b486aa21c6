"""Train a 784-128-10 MLP on the bundled MNIST subset and print validation accuracy.

A seeded 4,000 / 1,000 split of the 5,000 bundled digits. With so few training images an MLP
overfits by about 92%; shifting each training digit by up to two pixels (the translations a
handwritten digit really varies by) and a cosine learning-rate schedule take it past 95%.
Runs in a few seconds.
"""

from __future__ import annotations

import time

import numpy as np

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim

MEAN, STD = 0.1307, 0.3081  # MNIST's pixel statistics, for standardised inputs


def random_shift(images: np.ndarray, rng: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Translate each ``(H, W)`` image by up to ``max_shift`` pixels, filling with background."""
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)),
                    constant_values=images.min())
    dy = rng.integers(0, 2 * max_shift + 1, n)[:, None, None]
    dx = rng.integers(0, 2 * max_shift + 1, n)[:, None, None]
    rows = np.arange(h)[None, :, None] + dy
    cols = np.arange(w)[None, None, :] + dx
    return padded[np.arange(n)[:, None, None], rows, cols]


def main(epochs: int = 30, batch_size: int = 64, seed: int = 0) -> float:
    dlcore.manual_seed(seed)
    images, labels = dlcore.datasets.load_mnist_subset()
    x = (images.astype(np.float32) / 255.0 - MEAN) / STD
    y = labels.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))  # rows are sorted by class
    train, val = order[:4000], order[4000:]
    x_val = x[val].reshape(len(val), -1)

    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=2e-3)
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    rng = np.random.default_rng(seed + 1)
    start = time.perf_counter()
    accuracy = 0.0
    for epoch in range(epochs):
        model.train()
        perm = rng.permutation(train)
        total = 0.0
        for i in range(0, len(perm), batch_size):
            batch = perm[i:i + batch_size]
            inputs = random_shift(x[batch], rng).reshape(len(batch), -1)
            loss = F.cross_entropy(model(inputs), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        schedule.step()
        model.eval()
        with dlcore.no_grad():
            predictions = model(x_val).data.argmax(axis=1)
        accuracy = float(np.mean(predictions == y[val]))
        if (epoch + 1) % 5 == 0 or epoch == 0:
            print(f"epoch {epoch + 1:2d}: train loss {total / len(train):.4f}  "
                  f"validation accuracy {accuracy:.2%}")
    print(f"validation accuracy: {accuracy:.2%} ({time.perf_counter() - start:.1f} s)")
    return accuracy


if __name__ == "__main__":
    main()
