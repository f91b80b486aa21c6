"""Classify MNIST digits with an LSTM that reads each 28x28 image one row at a time.

Each image is a sequence of 28 steps of 28 pixels; the LSTM's final hidden state, after the
last row, goes through a linear layer to the 10 digit scores. A seeded 4,000 / 1,000 split
of the 5,000 bundled digits, Adam with a cosine learning-rate schedule.
"""

from __future__ import annotations

import time

import numpy as np

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim

MEAN, STD = 0.1307, 0.3081  # MNIST's pixel statistics, for standardised inputs


class RowLSTM(nn.Module):
    """``(N, 28, 28)`` images -> ``(N, 10)`` logits, reading the rows in order."""

    def __init__(self, hidden_size: int = 64) -> None:
        super().__init__()
        self.lstm = nn.LSTM(28, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 10)

    def forward(self, images: dlcore.Tensor) -> dlcore.Tensor:
        _, (h_n, _) = self.lstm(images)  # h_n: (num_layers, N, hidden_size)
        return self.head(h_n[-1])


def main(epochs: int = 6, hidden_size: int = 64, batch_size: int = 32, seed: int = 0) -> float:
    dlcore.manual_seed(seed)
    images, labels = dlcore.datasets.load_mnist_subset()
    x = (images.astype(np.float32) / 255.0 - MEAN) / STD
    y = labels.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))  # rows are sorted by class
    train, val = order[:4000], order[4000:]

    model = RowLSTM(hidden_size)
    opt = optim.Adam(model.parameters(), lr=5e-3)
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
            loss = F.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        schedule.step()
        model.eval()
        with dlcore.no_grad():
            predictions = model(x[val]).data.argmax(axis=1)
        accuracy = float(np.mean(predictions == y[val]))
        print(f"epoch {epoch + 1:2d}: train loss {total / len(train):.4f}  "
              f"validation accuracy {accuracy:.2%}")
    print(f"validation accuracy: {accuracy:.2%} ({time.perf_counter() - start:.1f} s)")
    return accuracy


if __name__ == "__main__":
    main()
