"""RAdam: Adam whose adaptive step is rectified, and off while its variance is intractable."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .. import _core
from .adam import check_adam_hyperparameters
from .optimizer import Optimizer, ParamsT

_NAMES = ("exp_avg", "exp_avg_sq")


class RAdam(Optimizer):
    r"""RAdam (Liu et al., 2019), PyTorch's update rule, for a parameter at step ``t``:

    .. code-block:: text

        g = grad + weight_decay * p                               (L2 penalty), or with
        p = p * (1 - lr * weight_decay)                           decoupled_weight_decay
        m = beta1 * m + (1 - beta1) * g                           (exp_avg)
        v = beta2 * v + (1 - beta2) * g * g                       (exp_avg_sq)
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:
            r = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - m_hat * lr * (sqrt(1 - beta2**t) / (sqrt(v) + eps)) * r
        else:
            p = p - m_hat * lr                                    (SGD with momentum)

    With the default ``beta2 = 0.999`` the first five steps are momentum SGD steps.

    Args:
        params: parameters, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: decay rates of the running averages of the gradient and its square
            (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        decoupled_weight_decay: shrink the parameter (as AdamW does) instead of adding an
            L2 penalty to the gradient: RAdamW.
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``.

    Example:
        >>> opt = optim.RAdam(model.parameters(), lr=1e-3)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hyper: Dict[str, Any]) -> None:
        check_adam_hyperparameters(hyper)

    def _state_names(self, group: Dict[str, Any]) -> tuple:
        return _NAMES

    def _update(self, group: Dict[str, Any], params: List[np.ndarray], grads: List[np.ndarray],
                buffers: List[Sequence[np.ndarray]], steps: np.ndarray) -> None:
        beta1, beta2 = group["betas"]
        _core.radam_step(params, grads, buffers[0], buffers[1], steps, group["lr"], beta1,
                         beta2, group["eps"], group["weight_decay"],
                         group["decoupled_weight_decay"], group["maximize"])
