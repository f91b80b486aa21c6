"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np

from .. import _core
from .optimizer import Optimizer, ParamsT, check_range

_NAMES = {
    (False, False): ("square_avg",),
    (True, False): ("square_avg", "momentum_buffer"),
    (False, True): ("square_avg", "grad_avg"),
    (True, True): ("square_avg", "momentum_buffer", "grad_avg"),
}


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), PyTorch's update rule:

    .. code-block:: text

        g   = grad + weight_decay * p
        v   = alpha * v + (1 - alpha) * g * g                     (square_avg)
        avg = sqrt(v) + eps, or when centered:
        g_avg = alpha * g_avg + (1 - alpha) * g;  avg = sqrt(v - g_avg**2) + eps
        b = momentum * b + g / avg;  p = p - lr * b               (if momentum > 0)
        p = p - lr * g / avg                                      (otherwise)

    Args:
        params: parameters, or dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by an estimate of the gradient's variance instead of its second
            moment.
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``square_avg``, plus ``momentum_buffer`` when
    ``momentum > 0`` and ``grad_avg`` when ``centered``.

    Example:
        >>> opt = optim.RMSprop(model.parameters(), lr=0.01, momentum=0.9)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hyper: Dict[str, Any]) -> None:
        check_range("learning rate", hyper["lr"])
        check_range("epsilon value", hyper["eps"])
        check_range("momentum value", hyper["momentum"])
        check_range("weight_decay value", hyper["weight_decay"])
        # alpha > 1 would give the squared gradient a negative weight: square_avg goes
        # negative and its square root NaN (PyTorch checks only alpha >= 0).
        check_range("alpha value", hyper["alpha"], 0.0, 1.0)

    def _state_names(self, group: Dict[str, Any]) -> tuple:
        return _NAMES[group["momentum"] > 0, bool(group["centered"])]

    def _update(self, group: Dict[str, Any], params: List[np.ndarray], grads: List[np.ndarray],
                buffers: List[Sequence[np.ndarray]], steps: np.ndarray) -> None:
        momentum_buffers = buffers[1] if group["momentum"] > 0 else None
        grad_avgs = buffers[-1] if group["centered"] else None
        _core.rmsprop_step(params, grads, buffers[0], momentum_buffers, grad_avgs, steps,
                           group["lr"], group["alpha"], group["eps"], group["weight_decay"],
                           group["momentum"], group["centered"], group["maximize"])
