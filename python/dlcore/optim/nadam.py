"""NAdam: Adam with Nesterov momentum and a momentum coefficient that warms up over steps."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .. import _core
from .adam import check_adam_hyperparameters
from .optimizer import Optimizer, ParamsT, check_range

_NAMES = ("exp_avg", "exp_avg_sq")


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016), PyTorch's update rule, for a parameter at step ``t``:

    .. code-block:: text

        mu_t  = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))    (and mu_{t+1} likewise)
        mu_product = mu_product * mu_t                            (mu_product, starts at 1)
        g = grad + weight_decay * p                               (L2 penalty), or with
        p = p * (1 - lr * weight_decay)                           decoupled_weight_decay
        m = beta1 * m + (1 - beta1) * g                           (exp_avg)
        v = beta2 * v + (1 - beta2) * g * g                       (exp_avg_sq)
        denom = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - mu_product) * (g / denom)
              - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * (m / denom)

    ``mu_product`` is kept in float64 whatever the parameter's dtype (PyTorch keeps it as a
    scalar tensor of the default dtype).

    Args:
        params: parameters, or dicts defining parameter groups.
        lr: learning rate (default 2e-3).
        betas: decay rates of the running averages of the gradient and its square
            (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        momentum_decay: how fast ``mu_t`` rises from ``beta1 / 2`` to ``beta1``
            (default 4e-3).
        decoupled_weight_decay: shrink the parameter (as AdamW does) instead of adding an
            L2 penalty to the gradient: NAdamW.
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``mu_product`` (a float64 scalar), ``exp_avg``,
    ``exp_avg_sq``.

    Example:
        >>> opt = optim.NAdam(model.parameters(), lr=2e-3)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    _scalar_state = (("mu_product", 1.0),)

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hyper: Dict[str, Any]) -> None:
        check_adam_hyperparameters(hyper)
        check_range("momentum_decay value", hyper["momentum_decay"])

    def _state_names(self, group: Dict[str, Any]) -> tuple:
        return _NAMES

    def _update(self, group: Dict[str, Any], params: List[np.ndarray], grads: List[np.ndarray],
                buffers: List[Sequence[np.ndarray]], steps: np.ndarray,
                *scalars: np.ndarray) -> None:
        beta1, beta2 = group["betas"]
        (mu_products,) = scalars
        _core.nadam_step(params, grads, buffers[0], buffers[1], mu_products, steps, group["lr"],
                         beta1, beta2, group["eps"], group["weight_decay"],
                         group["momentum_decay"], group["decoupled_weight_decay"],
                         group["maximize"])
