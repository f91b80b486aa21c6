"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np

from .. import _core
from .optimizer import Optimizer, ParamsT, check_range


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), PyTorch's update rule:

    .. code-block:: text

        g     = grad + weight_decay * p
        v     = rho * v + (1 - rho) * g * g                      (square_avg)
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u     = rho * u + (1 - rho) * delta * delta              (acc_delta)
        p     = p - lr * delta

    Args:
        params: parameters, or dicts defining parameter groups.
        lr: coefficient that scales delta before it is applied (default 1.0).
        rho: decay of the running averages (default 0.9).
        eps: added inside the square roots for numerical stability (default 1e-6).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``square_avg``, ``acc_delta``.

    Example:
        >>> opt = optim.Adadelta(model.parameters())
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hyper: Dict[str, Any]) -> None:
        check_range("learning rate", hyper["lr"])
        check_range("rho value", hyper["rho"], 0.0, 1.0)
        check_range("epsilon value", hyper["eps"])
        check_range("weight_decay value", hyper["weight_decay"])

    def _state_names(self, group: Dict[str, Any]) -> tuple:
        return ("square_avg", "acc_delta")

    def _update(self, group: Dict[str, Any], params: List[np.ndarray], grads: List[np.ndarray],
                buffers: List[Sequence[np.ndarray]], steps: np.ndarray) -> None:
        _core.adadelta_step(params, grads, buffers[0], buffers[1], steps, group["lr"],
                            group["rho"], group["eps"], group["weight_decay"], group["maximize"])
