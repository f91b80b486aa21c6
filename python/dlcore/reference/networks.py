"""Whole networks written from scratch in NumPy, with hand-derived backward passes.

These are the end-to-end baselines the benchmarks measure dlcore's training step against:
an MLP (784-256-128-10, ReLU, softmax cross-entropy, Adam), the LeNet-5-style CNN of the
MNIST example, and a tiny 4-8-1 regression MLP (tanh, MSE, Adam) whose step is all
overhead. They are written the way a careful NumPy user would (vectorised, im2col via
``sliding_window_view``, channels-last inside so every GEMM is one ``@``), not tuned beyond
that. Parameters use PyTorch's layouts: ``(out, in)`` for dense and ``(out, in, kh, kw)`` for
conv weights.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Params = Dict[str, np.ndarray]


class NumpyAdam:
    """Adam written the usual NumPy way (PyTorch's update rule, no weight decay)."""

    def __init__(self, params: Params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = params
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: Params) -> None:
        self.t += 1
        c1 = 1 - self.b1**self.t
        c2 = 1 - self.b2**self.t
        for k, p in self.params.items():
            g = grads[k]
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            p -= self.lr * (self.m[k] / c1) / (np.sqrt(self.v[k] / c2) + self.eps)


def _uniform(rng: np.random.Generator, shape: Tuple[int, ...], fan_in: int) -> np.ndarray:
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> Tuple[float, np.ndarray]:
    """Mean loss and its gradient w.r.t. the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    n = len(labels)
    rows = np.arange(n)
    loss = float(np.mean(np.log(sums[:, 0]) - shifted[rows, labels]))
    grad = exp / sums
    grad[rows, labels] -= 1
    grad /= n
    return loss, grad


class _DenseNet:
    """Fully connected layers with a hidden activation, trained by Adam; subclasses give the
    activation (and its derivative from its output) and the loss (and its gradient)."""

    def __init__(self, sizes: Tuple[int, ...], seed: int, lr: float) -> None:
        rng = np.random.default_rng(seed)
        self.params: Params = {}
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.params[f"w{i}"] = _uniform(rng, (n_out, n_in), n_in)
            self.params[f"b{i}"] = _uniform(rng, (n_out,), n_in)
        self.layers = len(sizes) - 1
        self.opt = NumpyAdam(self.params, lr)

    def _activate(self, h: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define _activate")

    def _activation_grad(self, out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define _activation_grad")

    def _loss(self, out: np.ndarray, target: np.ndarray) -> Tuple[float, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} must define _loss")

    def loss_and_grads(self, x: np.ndarray, target: np.ndarray) -> Tuple[float, Params]:
        p = self.params
        activations: List[np.ndarray] = [x]
        h = x
        for i in range(self.layers):
            h = h @ p[f"w{i}"].T + p[f"b{i}"]
            if i < self.layers - 1:
                h = self._activate(h)
            activations.append(h)
        loss, g = self._loss(h, target)
        grads: Params = {}
        for i in reversed(range(self.layers)):
            if i < self.layers - 1:
                g = g * self._activation_grad(activations[i + 1])
            grads[f"w{i}"] = g.T @ activations[i]
            grads[f"b{i}"] = g.sum(axis=0)
            if i > 0:
                g = g @ p[f"w{i}"]
        return loss, grads

    def step(self, x: np.ndarray, target: np.ndarray) -> float:
        loss, grads = self.loss_and_grads(x, target)
        self.opt.step(grads)
        return loss


class NumpyMLP(_DenseNet):
    """784-256-128-10 (by default) with ReLU, softmax cross-entropy and Adam."""

    def __init__(self, sizes: Tuple[int, ...] = (784, 256, 128, 10), seed: int = 0,
                 lr: float = 1e-3) -> None:
        super().__init__(sizes, seed, lr)

    def _activate(self, h: np.ndarray) -> np.ndarray:
        return np.maximum(h, 0)

    def _activation_grad(self, out: np.ndarray) -> np.ndarray:
        return out > 0

    def _loss(self, out: np.ndarray, labels: np.ndarray) -> Tuple[float, np.ndarray]:
        return softmax_cross_entropy(out, labels)


class NumpyRegressionMLP(_DenseNet):
    """4-8-1 (by default) with tanh hidden units, mean squared error and Adam: the tiny network
    whose batch-1 training step measures pure per-step overhead."""

    def __init__(self, sizes: Tuple[int, ...] = (4, 8, 1), seed: int = 0,
                 lr: float = 1e-3) -> None:
        super().__init__(sizes, seed, lr)

    def _activate(self, h: np.ndarray) -> np.ndarray:
        return np.tanh(h)

    def _activation_grad(self, out: np.ndarray) -> np.ndarray:
        return 1 - out**2

    def _loss(self, out: np.ndarray, y: np.ndarray) -> Tuple[float, np.ndarray]:
        diff = out - y
        return float(np.mean(diff * diff)), diff * (2 / diff.size)


def _conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Valid, stride-1 conv of channels-last ``x (N, H, W, C)`` with ``w (O, C, kh, kw)``."""
    out_ch, _, kh, kw = w.shape
    cols = sliding_window_view(x, (kh, kw), axis=(1, 2))  # (N, Ho, Wo, C, kh, kw)
    n, ho, wo = cols.shape[:3]
    cols = cols.reshape(n * ho * wo, -1)
    out = cols @ w.reshape(out_ch, -1).T + b
    return out.reshape(n, ho, wo, out_ch), cols


def _conv_backward(g: np.ndarray, cols: np.ndarray, x_shape: Tuple[int, ...], w: np.ndarray,
                   need_input_grad: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    out_ch, ch, kh, kw = w.shape
    n, ho, wo, _ = g.shape
    g2 = g.reshape(-1, out_ch)
    dw = (g2.T @ cols).reshape(w.shape)
    db = g2.sum(axis=0)
    dx = np.zeros(x_shape, dtype=g.dtype)
    if need_input_grad:
        dcols = (g2 @ w.reshape(out_ch, -1)).reshape(n, ho, wo, ch, kh, kw)
        for i in range(kh):  # col2im: add each kernel offset's contribution back
            for j in range(kw):
                dx[:, i:i + ho, j:j + wo, :] += dcols[..., i, j]
    return dx, dw, db


def _pool_forward(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """2x2 max pooling of channels-last ``x``; returns the output and the argmax mask."""
    n, h, w, c = x.shape
    windows = x[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c)
    out = windows.max(axis=(2, 4))
    mask = windows == out[:, :, None, :, None, :]
    return out, mask


def _pool_backward(g: np.ndarray, mask: np.ndarray, x_shape: Tuple[int, ...]) -> np.ndarray:
    n, h, w, c = x_shape
    dx = np.zeros(x_shape, dtype=g.dtype)
    routed = mask * g[:, :, None, :, None, :]
    dx[:, :h // 2 * 2, :w // 2 * 2] = routed.reshape(n, h // 2 * 2, w // 2 * 2, c)
    return dx


class NumpyLeNet:
    """conv 1->6 5x5, ReLU, max-pool 2, conv 6->16 5x5, ReLU, max-pool 2, 256-120-84-10."""

    def __init__(self, seed: int = 0, lr: float = 1e-3) -> None:
        rng = np.random.default_rng(seed)
        self.params: Params = {
            "c1w": _uniform(rng, (6, 1, 5, 5), 25), "c1b": _uniform(rng, (6,), 25),
            "c2w": _uniform(rng, (16, 6, 5, 5), 150), "c2b": _uniform(rng, (16,), 150),
            "f1w": _uniform(rng, (120, 256), 256), "f1b": _uniform(rng, (120,), 256),
            "f2w": _uniform(rng, (84, 120), 120), "f2b": _uniform(rng, (84,), 120),
            "f3w": _uniform(rng, (10, 84), 84), "f3b": _uniform(rng, (10,), 84),
        }
        self.opt = NumpyAdam(self.params, lr)

    def loss_and_grads(self, x: np.ndarray, labels: np.ndarray) -> Tuple[float, Params]:
        """``x`` is ``(N, 1, 28, 28)`` as everywhere else; it is made channels-last here."""
        p = self.params
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        c1, cols1 = _conv_forward(x, p["c1w"], p["c1b"])
        r1 = np.maximum(c1, 0)
        p1, m1 = _pool_forward(r1)
        c2, cols2 = _conv_forward(p1, p["c2w"], p["c2b"])
        r2 = np.maximum(c2, 0)
        p2, m2 = _pool_forward(r2)
        flat = p2.reshape(len(x), -1)
        h1 = np.maximum(flat @ p["f1w"].T + p["f1b"], 0)
        h2 = np.maximum(h1 @ p["f2w"].T + p["f2b"], 0)
        logits = h2 @ p["f3w"].T + p["f3b"]
        loss, g = softmax_cross_entropy(logits, labels)

        grads: Params = {"f3w": g.T @ h2, "f3b": g.sum(0)}
        g = (g @ p["f3w"]) * (h2 > 0)
        grads["f2w"], grads["f2b"] = g.T @ h1, g.sum(0)
        g = (g @ p["f2w"]) * (h1 > 0)
        grads["f1w"], grads["f1b"] = g.T @ flat, g.sum(0)
        g = (g @ p["f1w"]).reshape(p2.shape)
        g = _pool_backward(g, m2, r2.shape) * (c2 > 0)
        g, grads["c2w"], grads["c2b"] = _conv_backward(g, cols2, p1.shape, p["c2w"], True)
        g = _pool_backward(g, m1, r1.shape) * (c1 > 0)
        _, grads["c1w"], grads["c1b"] = _conv_backward(g, cols1, x.shape, p["c1w"], False)
        return loss, grads

    def step(self, x: np.ndarray, labels: np.ndarray) -> float:
        loss, grads = self.loss_and_grads(x, labels)
        self.opt.step(grads)
        return loss
