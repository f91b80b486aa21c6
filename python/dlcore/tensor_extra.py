"""More of PyTorch's tensor ops, each with its derivative: triangles (``tril``, ``triu``),
``roll``, ``cumprod``, ``rsqrt``, ``reciprocal``, ``lerp``, ``addmm``, ``nan_to_num`` and the
function forms of ``amax`` and ``amin``. Each is both ``dlcore.X`` and the method
``Tensor.X``, with PyTorch's names and signatures; each takes a Tensor, a NumPy array or a
number.

Ops that need floats (``rsqrt``, ``reciprocal``, ``lerp``) compute integer input in float32,
as PyTorch does; the rest keep the input's dtype.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from .tensor import (
    ArrayLike,
    Tensor,
    _dim_index,
    _matmul_arrays,
    _raw,
    _unbroadcast,
    _weak,
    as_tensor,
)

Dims = Union[int, Sequence[int], None]


def _as_float(data: np.ndarray) -> np.ndarray:
    """Integer and bool data as float32 (PyTorch's default dtype); floats as they are."""
    return data if data.dtype.kind == "f" else data.astype(np.float32)


def _int_arg(value: Any, op: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def _ints(value: Any, op: str, name: str) -> Tuple[int, ...]:
    """An int or a sequence of ints as a tuple."""
    if isinstance(value, (list, tuple)):
        return tuple(_int_arg(v, op, name) for v in value)
    return (_int_arg(value, op, name),)


# ----------------------------------------------------------------- triangles
def _triangle(x: Tensor, diagonal: Any, op: str) -> Tuple[Tensor, int]:
    if x.ndim < 2:
        raise ValueError(f"{op}: input must have at least 2 dimensions (a matrix, or a batch "
                         f"of them), got shape {x.shape}")
    return x, _int_arg(diagonal, op, "diagonal")


def tril(input: ArrayLike, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions: elements on and below the
    ``diagonal``-th diagonal (above it if positive) kept, the rest zero; same shape and
    dtype. ``(*, N, M) -> (*, N, M)``."""
    x, k = _triangle(as_tensor(input), diagonal, "tril")
    return Tensor._from_op(np.tril(x.data, k), (x,), lambda g: (np.tril(g, k),))


def triu(input: ArrayLike, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions: elements on and above the
    ``diagonal``-th diagonal kept, the rest zero; same shape and dtype. ``(*, N, M) ->
    (*, N, M)``."""
    x, k = _triangle(as_tensor(input), diagonal, "triu")
    return Tensor._from_op(np.triu(x.data, k), (x,), lambda g: (np.triu(g, k),))


# ----------------------------------------------------------------- shifts and products
def roll(input: ArrayLike, shifts: Union[int, Sequence[int]], dims: Dims = None) -> Tensor:
    """Shift elements along ``dims`` by ``shifts``, wrapping around; same shape. With
    ``dims=None`` the tensor is rolled as if flattened (``shifts`` is then one int), as in
    PyTorch. The gradient rolls back by ``-shifts``."""
    x = as_tensor(input)
    steps = _ints(shifts, "roll", "shifts")
    if dims is None:
        if len(steps) != 1:
            raise ValueError(f"roll: with dims=None the flattened tensor rolls by one shift, "
                             f"got shifts={shifts!r}; give dims as well")
        axes: Optional[Tuple[int, ...]] = None
        shift: Any = steps[0]
        back: Any = -steps[0]
    else:
        axes = tuple(_dim_index(d, x.ndim, "roll") for d in _ints(dims, "roll", "dims"))
        if len(axes) != len(steps):
            raise ValueError(f"roll: shifts={shifts!r} and dims={dims!r} must have the same "
                             f"length")
        shift, back = steps, tuple(-s for s in steps)
    out = np.roll(x.data, shift, axis=axes)
    return Tensor._from_op(out, (x,), lambda g: (np.roll(g, back, axis=axes),))


def cumprod(input: ArrayLike, dim: int) -> Tensor:
    """Running products along ``dim``; same shape (floats keep their dtype, integers give
    int64 as in PyTorch).

    The gradient of ``out[j]`` by ``x[k]`` (k <= j) is the product of ``x[:j+1]`` without
    ``x[k]``. Before the first zero of a slice that is ``out[j] / x[k]``; at the first zero
    it is the running product with that zero taken as 1; after it, 0 (a second factor is
    zero). So zeros get exact gradients, not the ``0 / 0`` of dividing by ``x``.
    """
    x = as_tensor(input)
    axis = _dim_index(dim, x.ndim, "cumprod")
    data = x.data
    out = np.cumprod(data, axis=axis, dtype=data.dtype if data.dtype.kind == "f" else None)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        if data.size == 0:
            return (np.zeros(data.shape, dtype=g.dtype),)
        moved = np.moveaxis
        grad = _cumprod_grad(moved(data, axis, -1), moved(out, axis, -1), moved(g, axis, -1))
        return (moved(grad, -1, axis),)

    return Tensor._from_op(out, (x,), backward)


def _cumprod_grad(x: np.ndarray, out: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``cumprod``'s input gradient along the last axis (non-empty ``x``)."""
    n = x.shape[-1]
    zero = x == 0
    has_zero = zero.any(axis=-1, keepdims=True)
    first = np.argmax(zero, axis=-1)[..., None]  # the first zero's place (0 if none)
    position = np.arange(n)
    before = (position < first) | ~has_zero
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.flip(np.cumsum(np.flip(g * out, -1), axis=-1), -1)
        grad = np.where(before, tail / np.where(before, x, 1), 0)
    if has_zero.any():
        # At the first zero: the products with that factor taken as 1, summed from there on.
        unit = x.copy()
        np.put_along_axis(unit, first, 1, axis=-1)
        from_first = np.where(position >= first, g * np.cumprod(unit, axis=-1), 0)
        at_first = from_first.sum(axis=-1, keepdims=True)
        kept = np.take_along_axis(grad, first, axis=-1)
        np.put_along_axis(grad, first, np.where(has_zero, at_first, kept), axis=-1)
    return grad.astype(g.dtype, copy=False)


# ----------------------------------------------------------------- elementwise
def rsqrt(input: ArrayLike) -> Tensor:
    """``1 / sqrt(x)``, elementwise (inf at 0, NaN below, as PyTorch); derivative
    ``-x ** -1.5 / 2``."""
    x = as_tensor(input)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1 / np.sqrt(_as_float(x.data))
    return Tensor._from_op(out, (x,), lambda g: (-0.5 * g * out * out * out,))


def reciprocal(input: ArrayLike) -> Tensor:
    """``1 / x``, elementwise (inf at 0); derivative ``-1 / x ** 2``."""
    x = as_tensor(input)
    with np.errstate(divide="ignore"):
        out = 1 / _as_float(x.data)
    return Tensor._from_op(out, (x,), lambda g: (-g * out * out,))


def nan_to_num(input: ArrayLike, nan: float = 0.0, posinf: Optional[float] = None,
               neginf: Optional[float] = None) -> Tensor:
    """``x`` with NaN replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (the
    largest and smallest finite values of the dtype when None); same shape and dtype. The
    gradient passes where ``x`` is finite and is zero at the replaced places, as PyTorch's."""
    x = as_tensor(input)
    data = x.data
    if data.dtype.kind != "f":  # integers are finite already
        return Tensor(data.copy())
    out = np.nan_to_num(data, nan=nan, posinf=posinf, neginf=neginf)
    return Tensor._from_op(out, (x,), lambda g: (g * np.isfinite(data),))


def lerp(input: ArrayLike, end: ArrayLike, weight: Union[float, ArrayLike]) -> Tensor:
    """``input + weight * (end - input)``, elementwise with broadcasting; ``weight`` is a
    number or a tensor. Gradients: ``1 - weight`` to ``input``, ``weight`` to ``end`` and
    ``end - input`` to ``weight``. As PyTorch, computed from ``end`` when ``weight >= 0.5``,
    so ``weight = 1`` gives ``end`` exactly."""
    start, stop = as_tensor(input), as_tensor(end)
    a, b = _as_float(start.data), _as_float(stop.data)
    w = _raw(weight)
    if isinstance(w, (bool, np.bool_)) or np.asarray(w).dtype.kind not in "iuf":
        raise TypeError(f"lerp: weight must be a real number or tensor, got {weight!r}")
    w = _weak(w) if np.ndim(w) == 0 and not isinstance(w, np.ndarray) else _as_float(
        np.asarray(w))
    try:
        span = b - a
        out = np.where(np.abs(w) < 0.5, a + w * span, b - span * (1 - w))
    except ValueError:
        raise ValueError(f"lerp: input {a.shape}, end {b.shape} and weight {np.shape(w)} "
                         f"cannot be broadcast together") from None
    out = out.astype(np.result_type(a, b, w), copy=False)
    parents: List[Tensor] = [start, stop] + ([weight] if isinstance(weight, Tensor) else [])

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], ...]:
        grads = [_unbroadcast(g * (1 - w), a.shape) if start.requires_grad else None,
                 _unbroadcast(g * w, b.shape) if stop.requires_grad else None]
        if isinstance(weight, Tensor):
            grads.append(_unbroadcast(g * span, np.shape(w)) if weight.requires_grad else None)
        return tuple(grads)

    return Tensor._from_op(out, tuple(parents), backward)


# ----------------------------------------------------------------- matrices
def addmm(input: ArrayLike, mat1: ArrayLike, mat2: ArrayLike, beta: float = 1,
          alpha: float = 1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``: ``(N, K) @ (K, M) -> (N, M)``, ``input``
    broadcast to ``(N, M)``. With ``beta=0`` the values of ``input`` are ignored (NaN in it
    does not spread), as in PyTorch. The product runs in dlcore's GEMM."""
    bias, t1, t2 = as_tensor(input), as_tensor(mat1), as_tensor(mat2)
    a, b = t1.data, t2.data
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"addmm: mat1 and mat2 must be 2-D, got shapes {a.shape} and "
                         f"{b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"addmm: mat1 {a.shape} and mat2 {b.shape} cannot be multiplied: "
                         f"{a.shape[1]} columns but {b.shape[0]} rows")
    target = (a.shape[0], b.shape[1])
    try:
        fits = np.broadcast_shapes(bias.shape, target) == target
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"addmm: input of shape {bias.shape} does not broadcast to the "
                         f"product's shape {target} (mat1 {a.shape} @ mat2 {b.shape})")
    if a.dtype != b.dtype and a.dtype.kind == "f" and b.dtype.kind == "f":
        common = np.promote_types(a.dtype, b.dtype)
        a, b = a.astype(common), b.astype(common)
    product = _matmul_arrays(a, b)
    scaled = product if alpha == 1 else alpha * product
    out = scaled if beta == 0 else (bias.data if beta == 1 else beta * bias.data) + scaled

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], ...]:
        gs = g if alpha == 1 else alpha * g
        return (
            _unbroadcast(beta * g, bias.shape) if bias.requires_grad else None,
            _matmul_arrays(gs, np.swapaxes(b, 0, 1)) if t1.requires_grad else None,
            _matmul_arrays(np.swapaxes(a, 0, 1), gs) if t2.requires_grad else None,
        )

    return Tensor._from_op(out, (bias, t1, t2), backward)


# ----------------------------------------------------------------- reductions
def _reduction_args(op: str, dim: Dims, keepdim: bool, axis: Dims,
                    keepdims: Optional[bool]) -> Tuple[Dims, bool]:
    """PyTorch's ``dim``/``keepdim`` or NumPy's ``axis``/``keepdims`` (as ``Tensor.max``
    takes), not both."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: give dim or axis, not both (got dim={dim!r}, "
                            f"axis={axis!r})")
        dim = axis
    return dim, bool(keepdim if keepdims is None else keepdims)


def amax(input: ArrayLike, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None,
         keepdims: Optional[bool] = None) -> Tensor:
    """The largest value over ``dim`` (all elements when None); ties share the gradient
    equally, as PyTorch's ``amax``. ``axis``/``keepdims`` are accepted as NumPy-style
    aliases."""
    dim, keepdim = _reduction_args("amax", dim, keepdim, axis, keepdims)
    return as_tensor(input).amax(dim=dim, keepdim=keepdim)


def amin(input: ArrayLike, dim: Dims = None, keepdim: bool = False, *, axis: Dims = None,
         keepdims: Optional[bool] = None) -> Tensor:
    """The smallest value over ``dim`` (all elements when None); ties share the gradient."""
    dim, keepdim = _reduction_args("amin", dim, keepdim, axis, keepdims)
    return as_tensor(input).amin(dim=dim, keepdim=keepdim)


__all__ = [
    "addmm", "amax", "amin", "cumprod", "lerp", "nan_to_num", "reciprocal", "roll", "rsqrt",
    "tril", "triu",
]
