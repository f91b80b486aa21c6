"""Adamax: Adam with the running second moment replaced by a decaying infinity norm."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .. import _core
from .adam import check_adam_hyperparameters
from .optimizer import Optimizer, ParamsT

_NAMES = ("exp_avg", "exp_inf")


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2014, section 7.1), PyTorch's update rule, with bias correction
    by each parameter's step count ``t``:

    .. code-block:: text

        g = grad + weight_decay * p                               (L2 penalty)
        m = beta1 * m + (1 - beta1) * g                           (exp_avg)
        u = max(beta2 * u, |g| + eps)                             (exp_inf)
        p = p - lr / (1 - beta1**t) * (m / u)

    Args:
        params: parameters, or dicts defining parameter groups.
        lr: learning rate (default 2e-3).
        betas: decay rates of the running average of the gradient and of its infinity norm
            (default (0.9, 0.999)).
        eps: added to ``|g|`` for numerical stability (default 1e-8).
        weight_decay: L2 penalty added to the gradient (default 0).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``exp_avg``, ``exp_inf`` (each shaped like the parameter).

    Example:
        >>> opt = optim.Adamax(model.parameters(), lr=2e-3)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hyper: Dict[str, Any]) -> None:
        check_adam_hyperparameters(hyper)

    def _state_names(self, group: Dict[str, Any]) -> tuple:
        return _NAMES

    def _update(self, group: Dict[str, Any], params: List[np.ndarray], grads: List[np.ndarray],
                buffers: List[Sequence[np.ndarray]], steps: np.ndarray) -> None:
        beta1, beta2 = group["betas"]
        _core.adamax_step(params, grads, buffers[0], buffers[1], steps, group["lr"], beta1,
                          beta2, group["eps"], group["weight_decay"], group["maximize"])
