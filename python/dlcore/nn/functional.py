"""Stateless functions behind the layers: ``import dlcore.nn.functional as F``.

Every function accepts Tensors or NumPy arrays and is differentiable through
``Tensor.backward()``.
"""

from .ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from .ops.conv import conv2d, pad
from .ops.linear import linear
from .ops.loss import cross_entropy, mse_loss, nll_loss
from .ops.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d, min_pool2d

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "conv2d",
    "cross_entropy",
    "linear",
    "log_softmax",
    "max_pool2d",
    "min_pool2d",
    "mse_loss",
    "nll_loss",
    "pad",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
