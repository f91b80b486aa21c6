"""Train one small network with six optimizers and compare their loss curves.

The same 784-64-10 MLP, from the same initial weights and with the same batch order, is
trained on 2,000 images of the bundled MNIST subset with SGD, SGD with momentum, Adagrad,
RMSprop, Adadelta and Adam (learning rates typical for each), using ``compile``/``fit``.
Prints a table and saves one plot of the training (solid) and validation (dashed) losses
to ``compare_optimizers.png`` when matplotlib is installed.

    python examples/compare_optimizers.py [--epochs 8] [--out compare_optimizers.png]
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

import dlcore
from dlcore import nn, optim

OPTIMIZERS: List[Tuple[str, Callable[[Any], Any]]] = [
    ("SGD", lambda params: optim.SGD(params, lr=0.1)),
    ("SGD + momentum", lambda params: optim.SGD(params, lr=0.05, momentum=0.9)),
    ("Adagrad", lambda params: optim.Adagrad(params, lr=0.05)),
    ("RMSprop", lambda params: optim.RMSprop(params, lr=1e-3)),
    ("Adadelta", lambda params: optim.Adadelta(params, lr=1.0)),
    ("Adam", lambda params: optim.Adam(params, lr=1e-3)),
]


def load_data(seed: int, train: int = 2000, val: int = 500) -> Tuple[np.ndarray, ...]:
    images, labels = dlcore.datasets.load_mnist()
    order = np.random.default_rng(seed).permutation(len(images))  # rows are sorted by class
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    y = labels.astype(np.int64)
    t, v = order[:train], order[train:train + val]
    return x[t], y[t], x[v], y[v]


def train_all(epochs: int, seed: int = 0) -> Dict[str, Any]:
    x, y, x_val, y_val = load_data(seed)
    results = {}
    for name, make in OPTIMIZERS:
        dlcore.manual_seed(seed)  # same initial weights and same shuffles for everyone
        model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        model.compile(make(model.parameters()), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        start = time.perf_counter()
        history = model.fit(x, y, epochs=epochs, batch_size=64,
                            validation_data=(x_val, y_val), verbose=0)
        results[name] = (history, time.perf_counter() - start)
    return results


def print_table(results: Dict[str, Any]) -> None:
    print(f"{'optimizer':<16}{'train loss':>11}{'val loss':>10}{'val acc':>9}{'time':>8}")
    for name, (history, seconds) in results.items():
        h = history.history
        print(f"{name:<16}{h['loss'][-1]:>11.4f}{h['val_loss'][-1]:>10.4f}"
              f"{h['val_accuracy'][-1]:>9.2%}{seconds:>7.1f}s")


def plot(results: Dict[str, Any], path: str) -> Optional[str]:
    """One figure of every loss curve; returns the path, or None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed (pip install 'dlcore-rs[plot]'): no plot")
        return None
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for index, (name, (history, _)) in enumerate(results.items()):
        epochs = [e + 1 for e in history.epoch]
        color = f"C{index}"
        ax.plot(epochs, history.history["loss"], "-", color=color, marker="o", markersize=3,
                label=name)
        ax.plot(epochs, history.history["val_loss"], "--", color=color)
    ax.set(xlabel="epoch", ylabel="cross-entropy loss", yscale="log",
           title="One MLP, six optimizers (solid: training, dashed: validation)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def main(epochs: int = 8, out: str = "compare_optimizers.png") -> Dict[str, Any]:
    results = train_all(epochs)
    print_table(results)
    saved = plot(results, out)
    if saved:
        print(f"saved {saved}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", default="compare_optimizers.png")
    args = parser.parse_args()
    main(args.epochs, args.out)
