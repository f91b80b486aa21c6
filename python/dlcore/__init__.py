"""dlcore: deep learning on the CPU with NumPy in and out and Rust kernels underneath.

Example:
    >>> import numpy as np, dlcore
    >>> from dlcore import nn, optim
    >>> import dlcore.nn.functional as F
    >>> model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    >>> opt = optim.Adam(model.parameters(), lr=1e-3)
    >>> x = dlcore.tensor(np.random.rand(64, 784).astype(np.float32))
    >>> y = np.random.randint(0, 10, 64)
    >>> loss = F.cross_entropy(model(x), y)
    >>> opt.zero_grad(); loss.backward(); opt.step()
"""

from . import autograd, callbacks, data, datasets, metrics, nn, optim
from ._core import get_num_threads, set_num_threads, simd_level
from ._grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd import grad, gradcheck, value_and_grad
from .functions import abs as _abs
from .functions import (
    argmax,
    argmin,
    clamp,
    cos,
    empty,
    exp,
    eye,
    flatten,
    linspace,
    log,
    mean,
    permute,
    randint,
    relu,
    reshape,
    sigmoid,
    sin,
    sqrt,
    squeeze,
    std,
    tanh,
    transpose,
    unsqueeze,
    var,
)
from .functions import sum as _sum
from .random import get_rng_state, manual_seed, set_rng_state
from .serialization import CheckpointError, load, save
from .tensor import (
    Tensor,
    add,
    arange,
    as_tensor,
    cat,
    div,
    float32,
    float64,
    from_numpy,
    full,
    int64,
    log_softmax,
    matmul,
    mm,
    mul,
    ones,
    ones_like,
    rand,
    randn,
    softmax,
    stack,
    sub,
    tensor,
    where,
    zeros,
    zeros_like,
)
from .tensor import pow as _pow

__version__ = "0.1.0"

# As torch.abs, torch.sum and torch.pow; left out of __all__ so that `from dlcore import *`
# does not replace Python's built-ins of those names.
abs, sum, pow = _abs, _sum, _pow

__all__ = [
    "CheckpointError",
    "Tensor",
    "add",
    "arange",
    "argmax",
    "argmin",
    "as_tensor",
    "autograd",
    "callbacks",
    "cat",
    "clamp",
    "cos",
    "data",
    "datasets",
    "div",
    "empty",
    "enable_grad",
    "exp",
    "eye",
    "flatten",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "get_num_threads",
    "get_rng_state",
    "grad",
    "gradcheck",
    "int64",
    "is_grad_enabled",
    "linspace",
    "load",
    "log",
    "log_softmax",
    "manual_seed",
    "matmul",
    "mean",
    "metrics",
    "mm",
    "mul",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "permute",
    "rand",
    "randint",
    "randn",
    "relu",
    "reshape",
    "save",
    "set_grad_enabled",
    "set_num_threads",
    "set_rng_state",
    "sigmoid",
    "simd_level",
    "sin",
    "softmax",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "sub",
    "tanh",
    "tensor",
    "transpose",
    "unsqueeze",
    "value_and_grad",
    "var",
    "where",
    "zeros",
    "zeros_like",
]
