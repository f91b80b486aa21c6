"""Adagrad: per-coordinate learning rates that shrink with the sum of squared gradients."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np

from .. import _core
from .optimizer import Optimizer, ParamsT, check_range


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), PyTorch's update rule:

    .. code-block:: text

        clr = lr / (1 + (t - 1) * lr_decay)              (t: this parameter's step count)
        g   = grad + weight_decay * p
        sum = sum + g * g
        p   = p - clr * g / (sqrt(sum) + eps)

    Args:
        params: parameters, or dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of ``sum`` (default 0).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``sum``.

    Example:
        >>> opt = optim.Adagrad(model.parameters(), lr=0.01)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hyper: Dict[str, Any]) -> None:
        check_range("learning rate", hyper["lr"])
        check_range("lr_decay value", hyper["lr_decay"])
        check_range("weight_decay value", hyper["weight_decay"])
        check_range("initial_accumulator_value value", hyper["initial_accumulator_value"])
        check_range("epsilon value", hyper["eps"])

    def _state_names(self, group: Dict[str, Any]) -> tuple:
        return ("sum",)

    def _initial_state(self, name: str, data: np.ndarray, group: Dict[str, Any]) -> np.ndarray:
        return np.full(data.shape, group["initial_accumulator_value"], dtype=data.dtype)

    def _update(self, group: Dict[str, Any], params: List[np.ndarray], grads: List[np.ndarray],
                buffers: List[Sequence[np.ndarray]], steps: np.ndarray) -> None:
        _core.adagrad_step(params, grads, buffers[0], steps, group["lr"], group["lr_decay"],
                           group["weight_decay"], group["eps"], group["maximize"])
