"""Calculus helpers: derivatives of Python functions, and checking them numerically.

``grad(f)`` turns a function of tensors into the function computing its derivative (partial
derivatives with ``argnums``); ``gradcheck`` compares backpropagated gradients with central
finite differences in float64, the way every op in dlcore is tested. ``print_graph`` draws
the graph a ``backward()`` call walks (``tensor.grad_fn`` is its last op).
"""

from .._grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .functional import GradcheckError, grad, gradcheck, value_and_grad
from .graph import AccumulateGrad, Node, print_graph

__all__ = [
    "AccumulateGrad",
    "GradcheckError",
    "Node",
    "enable_grad",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "print_graph",
    "set_grad_enabled",
    "value_and_grad",
]
