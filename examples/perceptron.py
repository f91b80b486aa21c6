"""The perceptron as the field introduces it, and why the field moved on to hidden layers.

1. Rosenblatt's perceptron separates two linearly separable clouds: the mistakes per epoch
   fall to 0 (the perceptron convergence theorem).
2. On XOR no line separates the classes, and the perceptron never stops making mistakes.
3. A network with one hidden layer, trained by backpropagation and gradient descent, solves
   XOR: the hidden layer bends the input space until a line does separate it.
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def separable_points(n: int = 200, margin: float = 0.02, seed: int = 0):
    """Points labelled by the side of the line ``x2 = 0.5 x1 + 0.3`` they fall on; those
    closer to it than ``margin`` are left out, so the classes are linearly separable."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (3 * n, 2)).astype(np.float32)
    signed_distance = (x[:, 1] - 0.5 * x[:, 0] - 0.3) / np.sqrt(1.25)
    x = x[np.abs(signed_distance) > margin][:n]
    y = (x[:, 1] - 0.5 * x[:, 0] - 0.3 > 0).astype(np.int64)
    return x, y


def separable_demo() -> List[int]:
    x, y = separable_points()
    perceptron = nn.Perceptron(2)
    errors = perceptron.fit_rosenblatt(x, y, epochs=50)
    w, b = perceptron.weight.numpy()[0], perceptron.bias.item()
    accuracy = np.mean(perceptron.predict(x) == y)
    print(f"separable points: mistakes per epoch {errors}")
    print(f"  boundary {w[0]:.2f} x1 {w[1]:+.2f} x2 {b:+.2f} = 0, accuracy {accuracy:.0%}")
    return errors


def xor_perceptron_demo(epochs: int = 30) -> List[int]:
    perceptron = nn.Perceptron(2)
    errors = perceptron.fit_rosenblatt(XOR_X, XOR_Y, epochs=epochs)
    print(f"XOR, perceptron: mistakes per epoch {errors}")
    print(f"  never 0 in {epochs} epochs: no line puts (0,1), (1,0) on one side and "
          f"(0,0), (1,1) on the other; predictions {perceptron.predict(XOR_X).tolist()}")
    return errors


def xor_mlp_demo(steps: int = 500, lr: float = 0.5) -> np.ndarray:
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    loss_fn = nn.BCEWithLogitsLoss()  # the sigmoid output unit, fused into the loss
    opt = optim.SGD(model.parameters(), lr=lr)  # plain gradient descent on the whole batch
    targets = XOR_Y.astype(np.float32).reshape(4, 1)
    for step in range(steps + 1):
        loss = loss_fn(model(XOR_X), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(f"  step {step:4d}  loss {loss.item():.4f}")
    with dlcore.no_grad():
        probabilities = F.sigmoid(model(XOR_X)).numpy().reshape(-1)
    predictions = (probabilities > 0.5).astype(np.int64)
    shown = ", ".join(f"{p:.3f}" for p in probabilities)
    print(f"  P(y=1) = [{shown}] -> {predictions.tolist()} (target {XOR_Y.tolist()})")
    return predictions


def main(seed: int = 0) -> Dict[str, object]:
    dlcore.manual_seed(seed)
    separable = separable_demo()
    xor = xor_perceptron_demo()
    print("XOR, 2-8-1 tanh network trained by backpropagation:")
    predictions = xor_mlp_demo()
    return {"separable_errors": separable, "xor_errors": xor, "mlp_predictions": predictions}


if __name__ == "__main__":
    main()
