"""Picking and placing elements by index, with PyTorch's names and semantics:
``index_select``, ``masked_select``, ``scatter`` and ``scatter_add`` (out of place). Each is
``dlcore.X`` and the method ``Tensor.X``; ``gather`` (tensor_math.py) is their mirror, and
they check index values as it does: integers in ``[-size, size)``, negative ones counting
from the end.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .tensor import ArrayLike, Tensor, _dim_index, _raw, _unbroadcast, as_tensor
from .tensor_math import check_index_range, index_array


def index_select(input: ArrayLike, dim: int, index: ArrayLike) -> Tensor:
    """The slices of ``input`` along ``dim`` at the positions in the 1-D ``index`` (repeats
    allowed), in that order: ``dim``'s size becomes ``len(index)``. The gradient adds back
    into the selected slices (repeats accumulate)."""
    x = as_tensor(input)
    axis = _dim_index(dim, x.ndim, "index_select")
    idx = index_array(index, "index_select")
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D (or a single number), got shape "
                         f"{idx.shape}")
    idx = idx.reshape(-1)
    check_index_range(idx, x.shape, dim, "index_select")
    out = np.take(x.data, idx, axis=axis)
    place = (slice(None),) * axis + (idx,)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        full = np.zeros(x.shape, dtype=g.dtype)
        np.add.at(full, place, g)
        return (full,)

    return Tensor._from_op(out, (x,), backward)


def masked_select(input: ArrayLike, mask: ArrayLike) -> Tensor:
    """The elements of ``input`` where the bool ``mask`` is true, in C order, as a 1-D tensor.
    ``mask`` and ``input`` broadcast together, as in PyTorch. The gradient goes back to the
    selected places (summed over broadcast copies)."""
    x = as_tensor(input)
    where = np.asarray(_raw(mask))
    if where.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be a bool tensor or array, got dtype "
                        f"{where.dtype}")
    try:
        shape = np.broadcast_shapes(x.shape, where.shape)
    except ValueError:
        raise ValueError(f"masked_select: mask of shape {where.shape} and input of shape "
                         f"{x.shape} cannot be broadcast together") from None
    where = np.broadcast_to(where, shape)
    out = np.broadcast_to(x.data, shape)[where]

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        full = np.zeros(shape, dtype=g.dtype)
        full[where] = g
        return (_unbroadcast(full, x.shape),)

    return Tensor._from_op(out, (x,), backward)


def _scatter_places(op: str, x: Tensor, dim: int, index: ArrayLike,
                    src_shape: Optional[Tuple[int, ...]]) -> Tuple[int, Tuple[Any, ...],
                                                                    Tuple[slice, ...]]:
    """Check ``scatter``'s arguments as PyTorch does; return the axis, the places in the
    output that index names (a fancy index) and the slice of ``src`` that goes there."""
    axis = _dim_index(dim, x.ndim, op)
    idx = index_array(index, op)
    if idx.ndim != x.ndim:
        raise ValueError(f"{op}: index has shape {idx.shape} but the input has shape {x.shape}; "
                         f"they need the same number of dimensions")
    if src_shape is not None and len(src_shape) != x.ndim:
        raise ValueError(f"{op}: src has shape {src_shape} but the input has shape {x.shape}; "
                         f"they need the same number of dimensions")
    for d, n in enumerate(idx.shape):
        if (d != axis and n > x.shape[d]) or (src_shape is not None and n > src_shape[d]):
            raise ValueError(
                f"{op}: index of shape {idx.shape} is larger than "
                + (f"src {src_shape} or " if src_shape is not None else "")
                + f"the input {x.shape} in dim {d} (index may be no larger than src in any dim "
                f"and than the input outside dim {dim})")
    check_index_range(idx, x.shape, dim, op)
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis] = idx % max(x.shape[axis], 1)
    return axis, tuple(grid), tuple(slice(0, n) for n in idx.shape)


def _src_array(op: str, x: Tensor, src: ArrayLike) -> np.ndarray:
    data = np.asarray(_raw(src))
    if not np.can_cast(data.dtype, x.dtype, casting="same_kind"):
        raise TypeError(f"{op}: src of dtype {data.dtype} cannot be written into an input of "
                        f"dtype {x.dtype}")
    return data


def scatter(input: ArrayLike, dim: int, index: ArrayLike, src: Any = None, *,
            value: Optional[float] = None) -> Tensor:
    """A copy of ``input`` with ``out[i][index[i][j]] = src[i][j]`` along ``dim`` (shown for
    ``dim=1``), as PyTorch's out-of-place ``scatter``: ``index`` has the input's number of
    dimensions and is no larger than ``src`` in any, nor than the input outside ``dim``;
    ``src`` may also be a number (or be given as ``value=``), written at every indexed place.

    Gradients: the input's passes where nothing was written; ``src``'s is the output's
    gradient at the place each element went. Where ``index`` repeats a place the last write
    wins (PyTorch leaves the order unspecified) and only the winning element gets a
    gradient, so it matches the forward values.
    """
    x = as_tensor(input)
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src and value")
    if value is not None or not isinstance(src, (Tensor, np.ndarray, list, tuple)):
        number = value if value is not None else src
        _, place, _ = _scatter_places("scatter", x, dim, index, None)
        out = x.data.copy()
        out[place] = _src_array("scatter", x, number)

        def backward_value(g: np.ndarray) -> Tuple[np.ndarray]:
            grad = g.copy()
            grad[place] = 0
            return (grad,)

        return Tensor._from_op(out, (x,), backward_value)
    source = as_tensor(src)
    data = _src_array("scatter", x, source)
    _, place, part = _scatter_places("scatter", x, dim, index, data.shape)
    # Which element of src lands where (-1: none): the output and both gradients follow it.
    origin = np.full(x.shape, -1, dtype=np.intp)
    origin[place] = np.arange(data.size).reshape(data.shape)[part]
    written = origin >= 0
    out = x.data.copy()
    out[written] = data.reshape(-1)[origin[written]]

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], ...]:
        grad_src = None
        if source.requires_grad:
            grad_src = np.zeros(data.size, dtype=g.dtype)
            grad_src[origin[written]] = g[written]
            grad_src = grad_src.reshape(data.shape)
        return (np.where(written, 0, g) if x.requires_grad else None, grad_src)

    return Tensor._from_op(out, (x, source), backward)


def scatter_add(input: ArrayLike, dim: int, index: ArrayLike, src: ArrayLike) -> Tensor:
    """A copy of ``input`` with ``out[i][index[i][j]] += src[i][j]`` along ``dim`` (shown for
    ``dim=1``); repeated places accumulate. Shapes as :func:`scatter`'s. Gradients: the
    input's is the output's; ``src``'s is the output's gradient gathered at ``index``."""
    x = as_tensor(input)
    source = as_tensor(src)
    data = _src_array("scatter_add", x, source)
    _, place, part = _scatter_places("scatter_add", x, dim, index, data.shape)
    out = x.data.copy()
    np.add.at(out, place, data[part])

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], ...]:
        grad_src = None
        if source.requires_grad:
            grad_src = np.zeros(data.shape, dtype=g.dtype)
            grad_src[part] = g[place]
        return (g if x.requires_grad else None, grad_src)

    return Tensor._from_op(out, (x, source), backward)


__all__ = ["index_select", "masked_select", "scatter", "scatter_add"]
