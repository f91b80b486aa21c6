"""Fit y = 2x by gradient descent: the calculus of the loss, made visible.

The model is ``y_hat = w x + b`` and the loss the mean squared error
``L(w, b) = mean((w x + b - y)^2)``. By the chain rule

    dL/dw = mean(2 (w x + b - y) x),    dL/db = mean(2 (w x + b - y)),

and gradient descent repeats ``w <- w - lr dL/dw``, ``b <- b - lr dL/db``. The script prints
autograd's ``dL/dw`` next to the formula's at a few steps (they agree), and the fitted line.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

import dlcore
import dlcore.nn.functional as F


def main(steps: int = 300, lr: float = 0.2, seed: int = 0) -> Tuple[float, float]:
    rng = np.random.default_rng(seed)
    x = np.linspace(-1.0, 1.0, 64).astype(np.float32)
    y = (2.0 * x + rng.normal(0.0, 0.05, x.shape)).astype(np.float32)  # y = 2x, a little noise

    w = dlcore.tensor(0.0, requires_grad=True)
    b = dlcore.tensor(0.0, requires_grad=True)
    print(" step      loss      w        b     dL/dw (autograd)  dL/dw (formula)")
    for step in range(steps + 1):
        loss = F.mse_loss(w * x + b, y)
        loss.backward()  # fills w.grad = dL/dw and b.grad = dL/db
        if step in (0, 1, 2, 5, 10, 25, 50, 100) or step == steps:
            residual = w.item() * x + b.item() - y
            by_hand = np.mean(2 * residual * x)
            print(f"{step:5d}  {loss.item():9.5f}  {w.item():7.4f}  {b.item():7.4f}  "
                  f"{w.grad.item():16.6f}  {by_hand:15.6f}")
        # The gradient-descent step, by hand (an optimizer does exactly this for SGD).
        w.data -= lr * w.grad.data
        b.data -= lr * b.grad.data
        w.grad = None
        b.grad = None
    print(f"fitted: w = {w.item():.3f} (true 2), b = {b.item():.3f} (true 0)")
    return w.item(), b.item()


if __name__ == "__main__":
    main()
