"""References for the optimizer updates: PyTorch's update rules, written in NumPy.

Each function applies one step to one parameter array, in place, with the state kept in a
dict under the same keys dlcore's optimizers use (``"step"``, ``"exp_avg"``, ...); an empty
dict is initialised on the first call. The formulas follow the algorithm boxes of
``torch.optim`` in the same order of operations as dlcore's fused kernels, so float32
results agree to round-off. They are written the way NumPy code usually is, one temporary
array per operation: that is the "naive NumPy" baseline of the benchmarks.
``adam_inplace`` is the other baseline: the same Adam step with ``out=`` operations into one
reused scratch array.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import numpy as np

State = Dict[str, Any]


def _signed(grad: np.ndarray, maximize: bool) -> np.ndarray:
    return -grad if maximize else grad


def sgd(
    param: np.ndarray,
    grad: np.ndarray,
    state: State,
    *,
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> None:
    """``g = grad + wd*p``; ``b = mu*b + (1-dampening)*g`` (``b = g`` at first);
    ``p -= lr * (g + mu*b if nesterov else b)``."""
    g = _signed(grad, maximize)
    if weight_decay != 0:
        g = g + weight_decay * param
    if momentum != 0:
        buf = state.get("momentum_buffer")
        buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        state["momentum_buffer"] = buf
        g = g + momentum * buf if nesterov else buf
    param -= lr * g


def adagrad(
    param: np.ndarray,
    grad: np.ndarray,
    state: State,
    *,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> None:
    """``sum += g*g``; ``p -= lr / (1 + (t-1)*lr_decay) * g / (sqrt(sum) + eps)``."""
    if not state:
        state["step"] = 0
        state["sum"] = np.full_like(param, initial_accumulator_value)
    state["step"] += 1
    g = _signed(grad, maximize)
    if weight_decay != 0:
        g = g + weight_decay * param
    clr = lr / (1 + (state["step"] - 1) * lr_decay)
    state["sum"] = state["sum"] + g * g
    param -= clr * g / (np.sqrt(state["sum"]) + eps)


def adadelta(
    param: np.ndarray,
    grad: np.ndarray,
    state: State,
    *,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    """``v = rho*v + (1-rho)*g*g``; ``delta = sqrt(u+eps) / sqrt(v+eps) * g``;
    ``u = rho*u + (1-rho)*delta*delta``; ``p -= lr * delta``."""
    if not state:
        state.update(step=0, square_avg=np.zeros_like(param), acc_delta=np.zeros_like(param))
    state["step"] += 1
    g = _signed(grad, maximize)
    if weight_decay != 0:
        g = g + weight_decay * param
    v = state["square_avg"] = rho * state["square_avg"] + (1 - rho) * g * g
    delta = np.sqrt(state["acc_delta"] + eps) / np.sqrt(v + eps) * g
    state["acc_delta"] = rho * state["acc_delta"] + (1 - rho) * delta * delta
    param -= lr * delta


def rmsprop(
    param: np.ndarray,
    grad: np.ndarray,
    state: State,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> None:
    """``v = alpha*v + (1-alpha)*g*g``; ``avg = sqrt(v - g_avg**2) + eps`` when centered
    (``g_avg = alpha*g_avg + (1-alpha)*g``) else ``sqrt(v) + eps``; then
    ``b = mu*b + g/avg; p -= lr*b`` with momentum, else ``p -= lr*g/avg``."""
    if not state:
        state.update(step=0, square_avg=np.zeros_like(param))
        if momentum > 0:
            state["momentum_buffer"] = np.zeros_like(param)
        if centered:
            state["grad_avg"] = np.zeros_like(param)
    state["step"] += 1
    g = _signed(grad, maximize)
    if weight_decay != 0:
        g = g + weight_decay * param
    v = state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * g * g
    if centered:
        g_avg = state["grad_avg"] = alpha * state["grad_avg"] + (1 - alpha) * g
        avg = np.sqrt(v - g_avg * g_avg) + eps
    else:
        avg = np.sqrt(v) + eps
    if momentum > 0:
        buf = state["momentum_buffer"] = momentum * state["momentum_buffer"] + g / avg
        param -= lr * buf
    else:
        param -= lr * g / avg


def adam(
    param: np.ndarray,
    grad: np.ndarray,
    state: State,
    *,
    lr: float = 1e-3,
    betas: Tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> None:
    """Adam: ``m = b1*m + (1-b1)*g``, ``v = b2*v + (1-b2)*g*g`` and
    ``p -= lr/(1-b1**t) * m / (sqrt(v)/sqrt(1-b2**t) + eps)`` (``v`` replaced by its running
    maximum with amsgrad). Weight decay is added to ``g`` (L2), or with
    ``decoupled_weight_decay`` (AdamW) shrinks ``p`` by ``1 - lr*weight_decay`` first."""
    beta1, beta2 = betas
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))
        if amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(param)
    state["step"] += 1
    t = state["step"]
    g = _signed(grad, maximize)
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    m = state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
    v = state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
    if amsgrad:
        v = state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], v)
    step_size = lr / (1 - beta1**t)
    denom = np.sqrt(v) / math.sqrt(1 - beta2**t) + eps
    param -= step_size * m / denom


def adamw(
    param: np.ndarray,
    grad: np.ndarray,
    state: State,
    *,
    lr: float = 1e-3,
    betas: Tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> None:
    """AdamW: Adam with decoupled weight decay."""
    adam(param, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)


def adam_inplace(
    param: np.ndarray,
    grad: np.ndarray,
    state: State,
    scratch: np.ndarray,
    *,
    lr: float = 1e-3,
    betas: Tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> None:
    """Adam (no weight decay, no amsgrad) written with ``out=`` operations into ``scratch``
    (an array shaped like ``param``), so a step allocates nothing: the careful-NumPy
    baseline. Equal to :func:`adam` up to round-off."""
    beta1, beta2 = betas
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))
    state["step"] += 1
    t = state["step"]
    m, v = state["exp_avg"], state["exp_avg_sq"]
    np.multiply(m, beta1, out=m)
    np.multiply(grad, 1 - beta1, out=scratch)
    np.add(m, scratch, out=m)
    np.multiply(v, beta2, out=v)
    np.multiply(grad, grad, out=scratch)
    np.multiply(scratch, 1 - beta2, out=scratch)
    np.add(v, scratch, out=v)
    np.sqrt(v, out=scratch)
    np.divide(scratch, math.sqrt(1 - beta2**t), out=scratch)
    np.add(scratch, eps, out=scratch)
    np.divide(m, scratch, out=scratch)
    np.multiply(scratch, lr / (1 - beta1**t), out=scratch)
    np.subtract(param, scratch, out=param)


def adamax(
    param: np.ndarray,
    grad: np.ndarray,
    state: State,
    *,
    lr: float = 2e-3,
    betas: Tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    """Adamax: ``m = b1*m + (1-b1)*g``, ``u = max(b2*u, |g| + eps)`` and
    ``p -= lr/(1-b1**t) * (m / u)``, with ``g = grad + wd*p``."""
    beta1, beta2 = betas
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(param), exp_inf=np.zeros_like(param))
    state["step"] += 1
    t = state["step"]
    g = _signed(grad, maximize)
    if weight_decay != 0:
        g = g + weight_decay * param
    m = state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
    u = state["exp_inf"] = np.maximum(beta2 * state["exp_inf"], np.abs(g) + eps)
    param -= lr / (1 - beta1**t) * (m / u)


def _decay(param: np.ndarray, g: np.ndarray, lr: float, weight_decay: float,
           decoupled: bool) -> np.ndarray:
    """Apply weight decay: shrink ``param`` in place (decoupled), or return ``g + wd*p``."""
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    return g


def nadam(
    param: np.ndarray,
    grad: np.ndarray,
    state: State,
    *,
    lr: float = 2e-3,
    betas: Tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None:
    """NAdam: ``mu_t = b1*(1 - 0.5*0.96**(t*momentum_decay))``, ``mu_product *= mu_t``,
    Adam's ``m`` and ``v``, ``denom = sqrt(v/(1-b2**t)) + eps`` and
    ``p -= lr*(1-mu_t)/(1-mu_product) * (g/denom)
    + lr*mu_{t+1}/(1-mu_product*mu_{t+1}) * (m/denom)``."""
    beta1, beta2 = betas
    if not state:
        state.update(step=0, mu_product=1.0, exp_avg=np.zeros_like(param),
                     exp_avg_sq=np.zeros_like(param))
    state["step"] += 1
    t = state["step"]
    g = _decay(param, _signed(grad, maximize), lr, weight_decay, decoupled_weight_decay)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = state["mu_product"] = state["mu_product"] * mu
    m = state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
    v = state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
    denom = np.sqrt(v / (1 - beta2**t)) + eps
    param -= lr * (1 - mu) / (1 - mu_product) * (g / denom)
    param -= lr * mu_next / (1 - mu_product * mu_next) * (m / denom)


def radam(
    param: np.ndarray,
    grad: np.ndarray,
    state: State,
    *,
    lr: float = 1e-3,
    betas: Tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None:
    """RAdam: Adam's ``m`` and ``v``, ``m_hat = m/(1-b1**t)``; once
    ``rho_t = rho_inf - 2t*b2**t/(1-b2**t)`` (``rho_inf = 2/(1-b2) - 1``) exceeds 5,
    ``p -= m_hat*lr * (sqrt(1-b2**t)/(sqrt(v)+eps)) * r`` with the rectification ``r``;
    before that ``p -= m_hat*lr``."""
    beta1, beta2 = betas
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))
    state["step"] += 1
    t = state["step"]
    g = _decay(param, _signed(grad, maximize), lr, weight_decay, decoupled_weight_decay)
    m = state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
    v = state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
    bias_correction2 = 1 - beta2**t
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
    step = m / (1 - beta1**t) * lr
    if rho_t > 5:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                         / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        param -= step * (math.sqrt(bias_correction2) / (np.sqrt(v) + eps)) * rect
    else:
        param -= step


#: Reference update of each dlcore optimizer, by class name.
UPDATES = {
    "SGD": sgd,
    "Adagrad": adagrad,
    "Adadelta": adadelta,
    "RMSprop": rmsprop,
    "Adam": adam,
    "AdamW": adamw,
    "Adamax": adamax,
    "NAdam": nadam,
    "RAdam": radam,
}
