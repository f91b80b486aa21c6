"""Train a 784-128-10 MLP on the bundled MNIST subset and print validation accuracy.

A seeded 4,000 / 1,000 split; Adam; mini-batches of 64; a few epochs. Runs in seconds.
"""

from __future__ import annotations

import time

import numpy as np

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim


def main(epochs: int = 8, batch_size: int = 64, seed: int = 0) -> float:
    dlcore.manual_seed(seed)
    images, labels = dlcore.datasets.load_mnist_subset()
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    y = labels.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))  # rows are sorted by class
    train, val = order[:4000], order[4000:]

    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    shuffle = np.random.default_rng(seed + 1)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        perm = shuffle.permutation(train)
        total = 0.0
        for i in range(0, len(perm), batch_size):
            batch = perm[i:i + batch_size]
            loss = F.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        model.eval()
        with dlcore.no_grad():
            predictions = model(x[val]).data.argmax(axis=1)
        accuracy = float(np.mean(predictions == y[val]))
        print(f"epoch {epoch + 1}: train loss {total / len(train):.4f}  "
              f"validation accuracy {accuracy:.2%}")
    print(f"validation accuracy: {accuracy:.2%} ({time.perf_counter() - start:.1f} s)")
    return accuracy


if __name__ == "__main__":
    main()
