"""Calculus helpers: derivatives of Python functions, and checking them numerically.

``grad(f)`` turns a function of tensors into the function computing its derivative (partial
derivatives with ``argnums``); ``gradcheck`` compares backpropagated gradients with central
finite differences in float64, the way every op in dlcore is tested.
"""

from .._grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .functional import GradcheckError, grad, gradcheck, value_and_grad

__all__ = [
    "GradcheckError",
    "enable_grad",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "value_and_grad",
]
