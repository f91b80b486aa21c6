"""Adam and AdamW: momentum on the gradient, scaled by a running estimate of its magnitude."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .. import _core
from .optimizer import Optimizer, ParamsT, check_range

_NAMES = ("exp_avg", "exp_avg_sq")
_NAMES_AMSGRAD = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def check_adam_hyperparameters(hyper: Dict[str, Any]) -> None:
    """The checks of Adam and its relatives (``lr``, ``eps``, ``betas``, ``weight_decay``),
    with PyTorch's messages: ``ValueError("Invalid beta parameter at index 1: 1.0")``."""
    check_range("learning rate", hyper["lr"])
    check_range("epsilon value", hyper["eps"])
    betas = hyper["betas"]
    if len(betas) != 2:
        raise ValueError(f"Invalid betas: {betas} (expected two values)")
    check_range("beta parameter at index 0", betas[0], 0.0, 1.0, high_open=True)
    check_range("beta parameter at index 1", betas[1], 0.0, 1.0, high_open=True)
    check_range("weight_decay value", hyper["weight_decay"])


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2014), PyTorch's update rule, with bias correction by each
    parameter's step count ``t``:

    .. code-block:: text

        g = grad + weight_decay * p                               (L2 penalty)
        m = beta1 * m + (1 - beta1) * g                           (exp_avg)
        v = beta2 * v + (1 - beta2) * g * g                       (exp_avg_sq)
        v_max = max(v_max, v); use v_max for v below              (if amsgrad)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Args:
        params: parameters, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: decay rates of the running averages of the gradient and its square
            (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty added to the gradient (default 0); see ``AdamW`` for the
            decoupled form.
        amsgrad: use the AMSGrad variant (Reddi et al., 2018).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq`` with
    amsgrad).

    Example:
        >>> opt = optim.Adam(model.parameters(), lr=1e-3)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    _decoupled = False

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, hyper: Dict[str, Any]) -> None:
        check_adam_hyperparameters(hyper)

    def _state_names(self, group: Dict[str, Any]) -> tuple:
        return _NAMES_AMSGRAD if group["amsgrad"] else _NAMES

    def _update(self, group: Dict[str, Any], params: List[np.ndarray], grads: List[np.ndarray],
                buffers: List[Sequence[np.ndarray]], steps: np.ndarray) -> None:
        beta1, beta2 = group["betas"]
        _core.adam_step(params, grads, buffers[0], buffers[1],
                        buffers[2] if group["amsgrad"] else None, steps, group["lr"], beta1,
                        beta2, group["eps"], group["weight_decay"], group["amsgrad"],
                        self._decoupled, group["maximize"])


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019): instead of adding
    ``weight_decay * p`` to the gradient, each step first shrinks the parameter,
    ``p = p * (1 - lr * weight_decay)``, then takes the Adam step without decay.

    Args:
        params: parameters, or dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: decay rates of the running averages (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: decoupled weight decay coefficient (default 1e-2).
        amsgrad: use the AMSGrad variant.
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    """

    _decoupled = True

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
