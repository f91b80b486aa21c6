"""Stateless functions behind the layers: ``import dlcore.nn.functional as F``.

Every function accepts Tensors or NumPy arrays and is differentiable through
``Tensor.backward()``.
"""

from .ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from .ops.linear import linear
from .ops.loss import cross_entropy, mse_loss, nll_loss

__all__ = [
    "cross_entropy",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
