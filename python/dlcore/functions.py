"""Function forms of the Tensor methods, as PyTorch code writes them: ``dlcore.exp(x)``,
``dlcore.sum(x, dim=1)``, ``dlcore.relu(x)``; the creation functions a lesson reaches for:
``eye``, ``linspace``, ``randint``, ``empty``, ``full_like``, ``rand_like``, ``randn_like``;
and ``is_tensor``, ``numel``, ``allclose``, ``isnan``, ``isinf``, ``isfinite``.

Each function takes a Tensor, a NumPy array or a number, and is differentiable exactly as
the method it calls. The names are PyTorch's, so ``abs``, ``sum``, ``all``, ``any``, ``round``
and ``clamp``'s ``min`` and ``max`` shadow Python's built-ins here (this module uses none of
them).

``max`` and ``min`` are left out on purpose: PyTorch's ``torch.max(x, dim)`` returns values
and indices, dlcore's ``x.max(axis)`` returns values only (NumPy's meaning), and a function
of that name could not agree with both.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import tensor_math as _math
from .tensor import ArrayLike, Tensor, _shape_args, as_tensor, rand, randn

Dims = Union[int, Tuple[int, ...], None]


# ----------------------------------------------------------------- elementwise
def exp(x: ArrayLike) -> Tensor:
    """``e ** x``, elementwise; same shape as ``x``."""
    return as_tensor(x).exp()


def log(x: ArrayLike) -> Tensor:
    """Natural logarithm, elementwise; same shape as ``x``."""
    return as_tensor(x).log()


def sqrt(x: ArrayLike) -> Tensor:
    """Square root, elementwise; same shape as ``x``."""
    return as_tensor(x).sqrt()


def abs(x: ArrayLike) -> Tensor:
    """Absolute value, elementwise; same shape as ``x``."""
    return as_tensor(x).abs()


def sin(x: ArrayLike) -> Tensor:
    """Sine (radians), elementwise; same shape as ``x``. Its derivative is ``cos``."""
    return as_tensor(x).sin()


def cos(x: ArrayLike) -> Tensor:
    """Cosine (radians), elementwise; same shape as ``x``. Its derivative is ``-sin``."""
    return as_tensor(x).cos()


def clamp(x: ArrayLike, min: Optional[float] = None, max: Optional[float] = None) -> Tensor:
    """``x`` limited to ``[min, max]``; same shape as ``x``."""
    return as_tensor(x).clamp(min, max)


def relu(x: ArrayLike) -> Tensor:
    """``max(x, 0)``, elementwise; same shape as ``x``."""
    return as_tensor(x).relu()


def sigmoid(x: ArrayLike) -> Tensor:
    """``1 / (1 + e ** -x)``, elementwise; same shape as ``x``."""
    return as_tensor(x).sigmoid()


def tanh(x: ArrayLike) -> Tensor:
    """Hyperbolic tangent, elementwise; same shape as ``x``."""
    return as_tensor(x).tanh()


def square(x: ArrayLike) -> Tensor:
    """``x ** 2``, elementwise; same shape as ``x``."""
    return as_tensor(x).square()


def log1p(x: ArrayLike) -> Tensor:
    """``log(1 + x)``, accurate for small ``x``; same shape as ``x``."""
    return as_tensor(x).log1p()


def expm1(x: ArrayLike) -> Tensor:
    """``exp(x) - 1``, accurate for small ``x``; same shape as ``x``."""
    return as_tensor(x).expm1()


def sign(x: ArrayLike) -> Tensor:
    """-1, 0 or 1 by sign, elementwise (zero gradient); same shape as ``x``."""
    return as_tensor(x).sign()


def floor(x: ArrayLike) -> Tensor:
    """Round down, elementwise (zero gradient); same shape as ``x``."""
    return as_tensor(x).floor()


def ceil(x: ArrayLike) -> Tensor:
    """Round up, elementwise (zero gradient); same shape as ``x``."""
    return as_tensor(x).ceil()


def round(x: ArrayLike, decimals: int = 0) -> Tensor:
    """Round half to even, elementwise (zero gradient); same shape as ``x``."""
    return as_tensor(x).round(decimals)


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise maximum of two broadcast operands (ties share the gradient)."""
    return _math.maximum(a, b)


def minimum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise minimum of two broadcast operands (ties share the gradient)."""
    return _math.minimum(a, b)


# ----------------------------------------------------------------- reductions
def sum(x: ArrayLike, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Sum over ``dim`` (all elements when None)."""
    return as_tensor(x).sum(dim=dim, keepdim=keepdim)


def mean(x: ArrayLike, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (all elements when None)."""
    return as_tensor(x).mean(dim=dim, keepdim=keepdim)


def var(x: ArrayLike, dim: Dims = None, keepdim: bool = False, *,
        correction: int = 1, unbiased: Optional[bool] = None) -> Tensor:
    """Variance over ``dim``, divided by ``count - correction`` (1: unbiased, as PyTorch;
    ``unbiased=False`` means ``correction=0``)."""
    return as_tensor(x).var(dim=dim, keepdim=keepdim, correction=correction, unbiased=unbiased)


def std(x: ArrayLike, dim: Dims = None, keepdim: bool = False, *,
        correction: int = 1, unbiased: Optional[bool] = None) -> Tensor:
    """Standard deviation over ``dim``: the square root of :func:`var`."""
    return as_tensor(x).std(dim=dim, keepdim=keepdim, correction=correction, unbiased=unbiased)


def logsumexp(x: ArrayLike, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, without overflow; its gradient is the softmax."""
    return as_tensor(x).logsumexp(dim, keepdim)


def prod(x: ArrayLike, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Product over ``dim`` (all elements when None)."""
    return as_tensor(x).prod(dim, keepdim)


def norm(x: ArrayLike, p: Any = 2, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """The ``p``-norm over ``dim`` (all elements when None): 2, 1, ``inf``, ``'fro'`` or any
    ``p > 0``."""
    return as_tensor(x).norm(p, dim, keepdim)


def cumsum(x: ArrayLike, dim: int) -> Tensor:
    """Running sums along ``dim``; same shape as ``x``."""
    return as_tensor(x).cumsum(dim)


def all(x: ArrayLike, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Whether every element (along ``dim``) is non-zero: a bool tensor."""
    return as_tensor(x).all(dim, keepdim)


def any(x: ArrayLike, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Whether some element (along ``dim``) is non-zero: a bool tensor."""
    return as_tensor(x).any(dim, keepdim)


def argmax(x: ArrayLike, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    """Index of the largest value along ``dim`` (of the flattened input when None)."""
    return as_tensor(x).argmax(dim=dim, keepdims=keepdim)


def argmin(x: ArrayLike, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value along ``dim`` (of the flattened input when None)."""
    return as_tensor(x).argmin(dim=dim, keepdims=keepdim)


# ----------------------------------------------------------------- shape
def reshape(x: ArrayLike, shape: Tuple[int, ...]) -> Tensor:
    """``x`` with shape ``shape`` (one entry may be -1)."""
    return as_tensor(x).reshape(shape)


def transpose(x: ArrayLike, dim0: int, dim1: int) -> Tensor:
    """``x`` with dimensions ``dim0`` and ``dim1`` swapped."""
    return as_tensor(x).transpose(dim0, dim1)


def permute(x: ArrayLike, dims: Tuple[int, ...]) -> Tensor:
    """``x`` with its dimensions in the order ``dims``."""
    return as_tensor(x).permute(dims)


def flatten(x: ArrayLike, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """``x`` with dimensions ``start_dim..end_dim`` merged into one."""
    return as_tensor(x).flatten(start_dim, end_dim)


def squeeze(x: ArrayLike, dim: Dims = None) -> Tensor:
    """``x`` without its size-1 dimensions (only ``dim`` if given)."""
    return as_tensor(x).squeeze(dim)


def unsqueeze(x: ArrayLike, dim: int) -> Tensor:
    """``x`` with a size-1 dimension inserted at ``dim``."""
    return as_tensor(x).unsqueeze(dim)


def flip(x: ArrayLike, dims: Union[int, Sequence[int]]) -> Tensor:
    """``x`` with the order of elements reversed along ``dims``."""
    return as_tensor(x).flip(dims)


def split(x: ArrayLike, split_size_or_sections: Union[int, Sequence[int]], dim: int = 0
          ) -> Tuple[Tensor, ...]:
    """Pieces of ``x`` along ``dim``, of ``split_size`` each or of the given sizes."""
    return as_tensor(x).split(split_size_or_sections, dim)


def chunk(x: ArrayLike, chunks: int, dim: int = 0) -> Tuple[Tensor, ...]:
    """``x`` split into ``chunks`` nearly equal pieces along ``dim``."""
    return as_tensor(x).chunk(chunks, dim)


def sort(x: ArrayLike, dim: int = -1, descending: bool = False) -> Tuple[Tensor, Tensor]:
    """``(values, indices)`` of ``x`` sorted along ``dim``; differentiable in the values."""
    return as_tensor(x).sort(dim, descending)


def argsort(x: ArrayLike, dim: int = -1, descending: bool = False) -> Tensor:
    """The int64 indices that sort ``x`` along ``dim``."""
    return as_tensor(x).argsort(dim, descending)


def topk(x: ArrayLike, k: int, dim: int = -1, largest: bool = True,
         sorted: bool = True) -> Tuple[Tensor, Tensor]:
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``."""
    return as_tensor(x).topk(k, dim, largest, sorted)


def isnan(x: ArrayLike) -> Tensor:
    """Where ``x`` is NaN: a bool tensor of ``x``'s shape."""
    return as_tensor(x).isnan()


def isinf(x: ArrayLike) -> Tensor:
    """Where ``x`` is +-infinity: a bool tensor of ``x``'s shape."""
    return as_tensor(x).isinf()


def isfinite(x: ArrayLike) -> Tensor:
    """Where ``x`` is neither NaN nor infinite: a bool tensor of ``x``'s shape."""
    return as_tensor(x).isfinite()


def masked_fill(x: ArrayLike, mask: ArrayLike, value: float) -> Tensor:
    """``x`` with ``value`` where the bool ``mask`` is true; same shape as ``x``."""
    return as_tensor(x).masked_fill(mask, value)


def gather(x: ArrayLike, dim: int, index: ArrayLike) -> Tensor:
    """Values of ``x`` picked along ``dim`` by ``index``; the shape of ``index``."""
    return as_tensor(x).gather(dim, index)


# ----------------------------------------------------------------- creation
def eye(n: int, m: Optional[int] = None, *, dtype: Any = np.float32,
        requires_grad: bool = False) -> Tensor:
    """The ``(n, m)`` identity matrix (``m`` defaults to ``n``)."""
    rows, cols = _shape_args((n, n if m is None else m))
    return Tensor(np.eye(rows, cols, dtype=dtype), requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: Any = np.float32,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included; shape
    ``(steps,)``."""
    (count,) = _shape_args((steps,))
    return Tensor(np.linspace(start, end, count).astype(dtype), requires_grad=requires_grad)


def randint(*bounds: int, size: Any, dtype: Any = np.int64) -> Tensor:
    """Integers drawn uniformly from ``[low, high)`` by dlcore's seeded generator, as
    ``torch.randint(high, size)`` or ``torch.randint(low, high, size)``; shape ``size``."""
    from .random import default_generator

    if len(bounds) == 1:
        low, high = 0, bounds[0]
    elif len(bounds) == 2:
        low, high = bounds
    else:
        raise TypeError(f"randint: expected (high, size=...) or (low, high, size=...), got "
                        f"{len(bounds)} positional arguments")
    if high <= low:
        raise ValueError(f"randint: high must be greater than low, got low={low}, high={high}")
    shape = _shape_args(size if isinstance(size, (tuple, list)) else (size,))
    return Tensor(default_generator().integers(low, high, shape).astype(dtype))


def empty(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` to be overwritten. Filled with zeros, not left uninitialised:
    stale memory in a lesson's output would only confuse."""
    return Tensor(np.zeros(_shape_args(shape), dtype=dtype), requires_grad=requires_grad)


def full_like(x: ArrayLike, fill_value: float, *, dtype: Any = None,
              requires_grad: bool = False) -> Tensor:
    """A tensor of ``x``'s shape (and dtype, unless given) filled with ``fill_value``."""
    data = _raw_array(x)
    return Tensor(np.full(data.shape, fill_value, dtype=dtype or data.dtype),
                  requires_grad=requires_grad)


def rand_like(x: ArrayLike, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform ``[0, 1)`` values of ``x``'s shape and float dtype, from the seeded generator."""
    data = _raw_array(x)
    return rand(*data.shape, dtype=dtype or _float_dtype(data), requires_grad=requires_grad)


def randn_like(x: ArrayLike, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal values of ``x``'s shape and float dtype, from the seeded generator."""
    data = _raw_array(x)
    return randn(*data.shape, dtype=dtype or _float_dtype(data), requires_grad=requires_grad)


# ----------------------------------------------------------------- queries
def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a dlcore Tensor (a Parameter is one)."""
    return isinstance(obj, Tensor)


def numel(x: ArrayLike) -> int:
    """The number of elements of ``x``."""
    return int(_raw_array(x).size)


def allclose(a: ArrayLike, b: ArrayLike, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """Whether ``|a - b| <= atol + rtol * |b|`` everywhere (broadcasting), as NumPy's."""
    return bool(np.allclose(_raw_array(a), _raw_array(b), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


def _raw_array(x: ArrayLike) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _float_dtype(data: np.ndarray) -> Any:
    return data.dtype if data.dtype.kind == "f" else np.float32
