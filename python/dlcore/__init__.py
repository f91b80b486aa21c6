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
from .random import get_rng_state, manual_seed, set_rng_state
from .serialization import CheckpointError, load, save
from .tensor import (
    Tensor,
    arange,
    as_tensor,
    cat,
    float32,
    float64,
    from_numpy,
    full,
    int64,
    ones,
    ones_like,
    rand,
    randn,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "Tensor",
    "arange",
    "as_tensor",
    "autograd",
    "callbacks",
    "cat",
    "data",
    "datasets",
    "enable_grad",
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
    "load",
    "manual_seed",
    "metrics",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "randn",
    "save",
    "set_grad_enabled",
    "set_num_threads",
    "set_rng_state",
    "simd_level",
    "stack",
    "tensor",
    "value_and_grad",
    "where",
    "zeros",
    "zeros_like",
]
