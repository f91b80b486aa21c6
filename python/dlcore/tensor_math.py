"""More Tensor ops, each with its derivative: the ones hand-written losses and lessons reach for
(``logsumexp``, ``norm``, ``maximum``, ``log1p``...) and shape tools (``expand``, ``repeat``,
``split``, ``gather``...). ``Tensor``'s methods of the same names call these.

Rounding ops (``floor``, ``ceil``, ``round``, ``sign``) are flat almost everywhere, so their
gradient is zero, as in PyTorch. Where a derivative is undefined (``maximum`` of equal
values, ``norm`` at zero) the choice is PyTorch's and is stated in the docstring.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from .tensor import (
    ArrayLike,
    Tensor,
    _binary,
    _dim_index,
    _elementwise,
    _expand_reduced,
    _grads_for,
    _normalize_axis,
    _raw,
    _unbroadcast,
)

Dims = Union[int, Sequence[int], None]


# ----------------------------------------------------------------- elementwise
def square(x: Tensor) -> Tensor:
    """``x ** 2``, elementwise; derivative ``2x``."""
    data = x.data
    return Tensor._from_op(np.square(data), (x,), lambda g: (g * 2 * data,))


def log1p(x: Tensor) -> Tensor:
    """``log(1 + x)``, accurate for small ``x``; derivative ``1 / (1 + x)``."""
    data = x.data
    return Tensor._from_op(np.log1p(data), (x,), lambda g: (g / (1 + data),))


def expm1(x: Tensor) -> Tensor:
    """``exp(x) - 1``, accurate for small ``x``; derivative ``exp(x)``."""
    out = np.expm1(x.data)
    return Tensor._from_op(out, (x,), lambda g: (g * (out + 1),))


def _flat(x: Tensor, fn: Any) -> Tensor:
    """A piecewise-constant op: zero gradient (PyTorch's choice at the jumps too)."""
    return Tensor._from_op(np.asarray(fn(x.data)), (x,), lambda g: (np.zeros_like(x.data),))


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each element; zero gradient."""
    return _flat(x, np.sign)


def floor(x: Tensor) -> Tensor:
    """Round down, elementwise; zero gradient."""
    return _flat(x, np.floor)


def ceil(x: Tensor) -> Tensor:
    """Round up, elementwise; zero gradient."""
    return _flat(x, np.ceil)


def round(x: Tensor, decimals: int = 0) -> Tensor:
    """Round half to even (as NumPy and PyTorch do), to ``decimals`` places; zero gradient."""
    return _flat(x, lambda d: np.round(d, decimals))


def _extreme_pair(op: str, a: ArrayLike, b: ArrayLike, pick: Any) -> Tensor:
    x, y, parents = _binary(a, b)
    out = _elementwise(op, pick, x, y)
    x_shape, y_shape = np.shape(x), np.shape(y)

    def backward(g: np.ndarray) -> Tuple[Any, ...]:
        x_wins = (x == out).astype(g.dtype)
        y_wins = (y == out).astype(g.dtype)
        share = x_wins + y_wins  # 2 where they tie: each gets half, as in PyTorch
        share[share == 0] = 1    # NaN positions: neither equals the output
        return _grads_for(a, b, lambda: _unbroadcast(g * x_wins / share, x_shape),
                          lambda: _unbroadcast(g * y_wins / share, y_shape))

    return Tensor._from_op(out, parents, backward)


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise maximum with broadcasting. The gradient goes to the larger operand; where
    they are equal each gets half. A NaN in either gives NaN."""
    return _extreme_pair("maximum", a, b, np.maximum)


def minimum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise minimum with broadcasting; gradients as :func:`maximum`'s."""
    return _extreme_pair("minimum", a, b, np.minimum)


# ----------------------------------------------------------------- reductions
def _floating(data: np.ndarray) -> np.ndarray:
    """Integer and bool data as float64 (NumPy's result for exp, log and sqrt of them)."""
    return data if data.dtype.kind == "f" else data.astype(np.float64)


def logsumexp(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim`` without overflow (the largest value is factored
    out). Its gradient is the softmax of ``x`` over ``dim``."""
    axes = _normalize_axis(dim, x.ndim)
    data = _floating(x.data)
    if data.size == 0:  # an empty sum is 0, so an empty reduction gives -inf, as in PyTorch
        peak = np.zeros(np.sum(data, axis=axes, keepdims=True).shape, dtype=data.dtype)
    else:
        peak = np.max(data, axis=axes, keepdims=True)
        peak = np.where(np.isfinite(peak), peak, 0)  # all -inf (or inf) rows: no shift
    with np.errstate(divide="ignore"):  # rows of only -inf give log(0) = -inf, rightly
        kept = np.log(np.sum(np.exp(data - peak), axis=axes, keepdims=True)) + peak
    out = kept if keepdim else (kept.reshape(()) if axes is None else np.squeeze(kept, axes))

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        return (_expand_reduced(g, x.shape, axes, keepdim) * np.exp(data - kept),)

    return Tensor._from_op(np.asarray(out, dtype=data.dtype), (x,), backward)


def _moved_to_end(data: np.ndarray, axes: Optional[Tuple[int, ...]]) -> Tuple[np.ndarray, Any]:
    """``data`` with the reduced axes last and merged into one, and the inverse map."""
    axes = tuple(range(data.ndim)) if axes is None else axes
    rest = [a for a in range(data.ndim) if a not in axes]
    order = rest + list(axes)
    moved = np.transpose(data, order)
    merged = moved.reshape(moved.shape[:len(rest)] + (-1,))

    def restore(m: np.ndarray) -> np.ndarray:
        return np.transpose(m.reshape(moved.shape), np.argsort(order))

    return merged, restore


def prod(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Product over ``dim``. The derivative by one element is the product of the others,
    computed from prefix and suffix products, so zeros are handled exactly."""
    axes = _normalize_axis(dim, x.ndim)
    data = x.data
    out = np.prod(data, axis=axes, keepdims=keepdim)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        if data.size == 0:
            return (np.zeros(x.shape, dtype=g.dtype),)
        merged, restore = _moved_to_end(data, axes)
        ones = np.ones(merged.shape[:-1] + (1,), dtype=merged.dtype)
        before = np.cumprod(np.concatenate([ones, merged[..., :-1]], axis=-1), axis=-1)
        after = np.cumprod(np.concatenate([ones, merged[..., :0:-1]], axis=-1),
                           axis=-1)[..., ::-1]
        others = restore(before * after)
        return (_expand_reduced(g, x.shape, axes, keepdim) * others,)

    return Tensor._from_op(np.asarray(out), (x,), backward)


def norm(x: Tensor, p: Union[float, str] = 2, dim: Dims = None, keepdim: bool = False
         ) -> Tensor:
    """The vector ``p``-norm over ``dim`` (all elements by default): ``p=2`` Euclidean,
    ``1`` the sum of magnitudes, ``inf`` the largest magnitude, ``'fro'`` the same as 2, or
    any other ``p > 0``: ``sum(|x| ** p) ** (1 / p)``.

    At a zero vector the 2-norm's gradient is 0 (a subgradient), as in PyTorch, not NaN.
    """
    if p == "fro":
        p = 2
    if isinstance(p, str) or not p > 0:
        raise ValueError(f"norm: p must be a positive number, inf or 'fro', got {p!r}")
    axes = _normalize_axis(dim, x.ndim)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)  # as NumPy's norm: integers give a float result
    if p == 1:
        return x.abs().sum(axes, keepdims=keepdim)
    if math.isinf(p):
        return x.abs().max(axes, keepdims=keepdim)
    if p != 2:
        return (x.abs() ** p).sum(axes, keepdims=keepdim) ** (1.0 / p)
    data = x.data
    kept = np.sqrt(np.sum(np.square(data), axis=axes, keepdims=True))
    out = kept if keepdim else (kept.reshape(()) if axes is None else np.squeeze(kept, axes))

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        safe = np.where(kept == 0, 1, kept)
        return (_expand_reduced(g, x.shape, axes, keepdim) * np.where(kept == 0, 0, data / safe),)

    return Tensor._from_op(np.asarray(out, dtype=data.dtype), (x,), backward)


def cumsum(x: Tensor, dim: int) -> Tensor:
    """Running sums along ``dim``; same shape. The gradient is the running sum of the
    incoming gradient taken from the other end."""
    axis = _dim_index(dim, x.ndim, "cumsum")
    out = np.cumsum(x.data, axis=axis, dtype=x.dtype if x.dtype.kind == "f" else None)
    return Tensor._from_op(
        out, (x,),
        lambda g: (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),))


def all(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Whether every element (along ``dim``) is true (non-zero): a bool tensor."""
    return Tensor(np.asarray(np.all(x.data, axis=_normalize_axis(dim, x.ndim), keepdims=keepdim)))


def any(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Whether some element (along ``dim``) is true (non-zero): a bool tensor."""
    return Tensor(np.asarray(np.any(x.data, axis=_normalize_axis(dim, x.ndim), keepdims=keepdim)))


# ----------------------------------------------------------------- shape
def _sizes(args: Tuple[Any, ...]) -> Tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(s) for s in args)


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """A broadcast view to ``sizes`` (``-1`` keeps a dimension); new dimensions go in front,
    as PyTorch's ``expand``. The gradient sums over the copies."""
    shape = _sizes(sizes)
    if len(shape) < x.ndim:
        raise ValueError(f"expand: {len(shape)} sizes for a tensor of {x.ndim} dimensions "
                         f"(shape {x.shape}); give at least {x.ndim}")
    lead = len(shape) - x.ndim
    target = tuple(s if s != -1 or i < lead else x.shape[i - lead]
                   for i, s in enumerate(shape))
    try:
        out = np.broadcast_to(x.data, target)
    except ValueError:
        raise ValueError(f"expand: cannot expand shape {x.shape} to {shape}; only "
                         "dimensions of size 1 can grow") from None
    return Tensor._from_op(out, (x,), lambda g: (_unbroadcast(g, x.shape),))


def repeat(x: Tensor, *repeats: Any) -> Tensor:
    """Tile ``x``: dimension ``i`` is repeated ``repeats[i]`` times (extra leading repeats
    add dimensions), as PyTorch's ``repeat`` and NumPy's ``tile``. The gradient sums over
    the tiles."""
    reps = _sizes(repeats)
    if len(reps) < x.ndim or min(reps, default=1) < 0:
        raise ValueError(f"repeat: need at least {x.ndim} non-negative repeats for shape "
                         f"{x.shape}, got {reps}")
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    out = np.tile(x.data.reshape(shape), reps)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        split = [v for r, s in zip(reps, shape) for v in (r, s)]
        summed = g.reshape(split).sum(axis=tuple(range(0, 2 * len(reps), 2)))
        return (summed.reshape(x.shape),)

    return Tensor._from_op(out, (x,), backward)


def flip(x: Tensor, dims: Union[int, Sequence[int]]) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    if x.ndim == 0:
        raise ValueError(f"flip: a 0-d tensor has no dimension {dims} to flip")
    axes = _normalize_axis(dims, x.ndim)
    return Tensor._from_op(np.flip(x.data, axes), (x,), lambda g: (np.flip(g, axes),))


def split(x: Tensor, split_size_or_sections: Union[int, Sequence[int]], dim: int = 0
          ) -> Tuple[Tensor, ...]:
    """Pieces of ``x`` along ``dim``: of ``split_size`` each (the last may be shorter), or of
    the given ``sections`` sizes, which must add up to the dimension. Each piece is
    differentiable (a slice)."""
    axis = _dim_index(dim, x.ndim, "split")
    length = x.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size < 1:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes: List[int] = [min(size, length - s) for s in range(0, length, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length or min(sizes, default=0) < 0:
            raise ValueError(f"split: sections {sizes} must be non-negative and add up to "
                             f"{length}, the size of dim {dim} of shape {x.shape}")
    pieces = []
    start = 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        pieces.append(x[index])
        start += size
    return tuple(pieces)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> Tuple[Tensor, ...]:
    """Split ``x`` into ``chunks`` pieces of ``ceil(size / chunks)`` along ``dim`` (fewer
    when the size runs out first, as in PyTorch)."""
    if int(chunks) < 1:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    axis = _dim_index(dim, x.ndim, "chunk")
    return split(x, max(1, -(-x.shape[axis] // int(chunks))), axis)


def masked_fill(x: Tensor, mask: ArrayLike, value: float) -> Tensor:
    """``x`` with ``value`` where ``mask`` (bool, broadcast to ``x``'s shape) is true; no
    gradient flows to the filled places."""
    where = np.asarray(_raw(mask))
    if where.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor or array, got dtype "
                        f"{where.dtype}")
    try:
        where = np.broadcast_to(where, x.shape)
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {np.shape(_raw(mask))} does not broadcast "
                         f"to the input's shape {x.shape}") from None
    out = np.where(where, np.asarray(value, dtype=x.dtype), x.data)
    return Tensor._from_op(out, (x,), lambda g: (np.where(where, 0, g),))


def _taken(x: Tensor, order: np.ndarray, axis: int) -> Tensor:
    """``x``'s values at ``order`` (indices along ``axis``, each position at most once), with
    the gradient put back where each value came from."""
    out = np.take_along_axis(x.data, order, axis=axis)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        full = np.zeros(x.shape, dtype=g.dtype)
        np.put_along_axis(full, order, g, axis=axis)
        return (full,)

    return Tensor._from_op(out, (x,), backward)


def argsort(x: Tensor, dim: int = -1, descending: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim``: an int64 tensor outside the graph.
    Ascending order is stable (equal values keep their order); NaN counts as the largest
    value, as in PyTorch (last ascending, first descending)."""
    if x.ndim == 0:
        return Tensor(np.zeros((), np.int64))
    axis = _dim_index(dim, x.ndim, "argsort")
    order = np.argsort(x.data, axis=axis, kind="stable")
    if descending:
        order = np.flip(order, axis)
    return Tensor(order.astype(np.int64, copy=False))


def sort(x: Tensor, dim: int = -1, descending: bool = False) -> Tuple[Tensor, Tensor]:
    """``(values, indices)``: ``x`` sorted along ``dim`` and where each value came from, as
    PyTorch's ``sort``. The gradient of the values goes back to their places."""
    order = argsort(x, dim, descending).data
    if x.ndim == 0:
        return x * 1, Tensor(order)
    return _taken(x, order, _dim_index(dim, x.ndim, "sort")), Tensor(order)


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True,
         sorted: bool = True) -> Tuple[Tensor, Tensor]:
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``, as
    PyTorch's ``topk``; in order (largest first) whether or not ``sorted`` is asked for. The
    gradient of the values goes back to their places."""
    if x.ndim == 0:
        raise ValueError("topk: needs a tensor with at least one dimension, got a scalar")
    axis = _dim_index(dim, x.ndim, "topk")
    size = x.shape[axis]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= size:
        raise ValueError(f"topk: k must be an int in [0, {size}] for dim {dim} of shape "
                         f"{x.shape}, got {k!r}")
    order = argsort(x, dim, descending=largest).data
    order = np.take(order, np.arange(int(k)), axis=axis)
    return _taken(x, order, axis), Tensor(order)


def index_array(index: ArrayLike, op: str) -> np.ndarray:
    """``index`` as an integer array; a TypeError naming ``op`` for any other dtype."""
    idx = np.asarray(_raw(index))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must hold integers, got dtype {idx.dtype}")
    return idx


def check_index_range(idx: np.ndarray, shape: Tuple[int, ...], dim: int, op: str) -> None:
    """Refuse index values outside ``[-size, size)`` for dimension ``dim`` of ``shape``
    (negative values count from the end), naming the first bad value and where it is."""
    size = shape[_dim_index(dim, len(shape), op)]
    bad = (idx < -size) | (idx >= size)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise IndexError(f"{op}: index values must be in [{-size}, {size}) for dim {dim} of "
                         f"shape {shape} (size {size}), got {idx[where]} at index position "
                         f"{where} (all values: {idx.min()}..{idx.max()})")


def gather(x: Tensor, dim: int, index: ArrayLike) -> Tensor:
    """``out[i][j] = x[i][index[i][j]]`` along ``dim`` (for ``dim=1``), as PyTorch's
    ``gather``: ``index`` has ``x``'s number of dimensions and the output has its shape. The
    gradient adds back into the gathered places (repeats accumulate).

    Example: the log-probability of each sample's label, ``log_probs.gather(1, y[:, None])``.
    """
    axis = _dim_index(dim, x.ndim, "gather")
    idx = index_array(index, "gather")
    if idx.ndim != x.ndim:
        raise ValueError(f"gather: index has shape {idx.shape} but the input has shape "
                         f"{x.shape}; they need the same number of dimensions")
    check_index_range(idx, x.shape, dim, "gather")
    try:
        out = np.take_along_axis(x.data, idx, axis=axis)
    except (ValueError, IndexError):
        raise ValueError(f"gather: index of shape {idx.shape} does not fit the input's shape "
                         f"{x.shape} outside dim {dim}") from None

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        full = np.zeros(x.shape, dtype=g.dtype)
        grid = list(np.indices(idx.shape, sparse=True))
        grid[axis] = idx
        np.add.at(full, tuple(grid), g)
        return (full,)

    return Tensor._from_op(out, (x,), backward)


__all__ = [
    "all", "any", "ceil", "chunk", "cumsum", "expand", "expm1", "flip", "floor", "gather",
    "log1p", "logsumexp", "masked_fill", "maximum", "minimum", "norm", "prod", "repeat",
    "round", "sign", "split", "square",
]
