"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight decay.

Batch, mini-batch and stochastic gradient descent are all this optimizer: they differ only
in how many examples the loss that produced the gradient averaged over.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np

from .. import _core
from .optimizer import Optimizer, ParamsT, check_range


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), PyTorch's update rule:

    .. code-block:: text

        g = grad + weight_decay * p                     (L2 penalty, if weight_decay != 0)
        b = g                                   on the first step, then
        b = momentum * b + (1 - dampening) * g          (if momentum != 0)
        g = g + momentum * b  if nesterov  else  b
        p = p - lr * g

    Args:
        params: parameters, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening for momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: maximize the objective instead of minimizing it (the gradient is negated).

    State per parameter: ``momentum_buffer`` (only when ``momentum != 0``).

    Example:
        >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    _counts_steps = False

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hyper: Dict[str, Any]) -> None:
        check_range("learning rate", hyper["lr"])
        check_range("momentum value", hyper["momentum"])
        check_range("weight_decay value", hyper["weight_decay"])
        if hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _state_names(self, group: Dict[str, Any]) -> tuple:
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _update(self, group: Dict[str, Any], params: List[np.ndarray], grads: List[np.ndarray],
                buffers: List[Sequence[np.ndarray]], steps: np.ndarray) -> None:
        _core.sgd_step(params, grads, buffers[0] if buffers else None, steps, group["lr"],
                       group["momentum"], group["dampening"], group["weight_decay"],
                       group["nesterov"], group["maximize"])
