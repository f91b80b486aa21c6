"""``layer_norm``: normalise each sample over its last dimensions (Ba, Kiros & Hinton, 2016).

Unlike batch normalisation there are no batch statistics and no running estimates: every
sample is normalised by its own mean and variance, so training and evaluation compute the
same thing and a batch of one is fine. NumPy code: the reductions are short rows, and NumPy's
pairwise sums keep float32 accurate.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ...tensor import ArrayLike, Tensor, as_tensor


def normalized_shape_tuple(op: str, normalized_shape: Union[int, Sequence[int]]
                           ) -> Tuple[int, ...]:
    """``normalized_shape`` as a tuple of positive ints (an int means one dimension)."""
    def is_int(d: object) -> bool:
        return isinstance(d, (int, np.integer)) and not isinstance(d, bool)

    if is_int(normalized_shape):
        shape: Tuple[object, ...] = (normalized_shape,)
    elif isinstance(normalized_shape, (tuple, list)):
        shape = tuple(normalized_shape)
    else:
        shape = ()
    if not all(is_int(d) for d in shape) or not (is_int(normalized_shape)
                                                 or isinstance(normalized_shape, (tuple, list))):
        raise TypeError(f"{op}: normalized_shape must be an int or a tuple of ints, got "
                        f"{normalized_shape!r}")
    if not shape or not all(int(d) >= 1 for d in shape):  # type: ignore[call-overload]
        raise ValueError(f"{op}: normalized_shape must be positive and non-empty, got "
                         f"{normalized_shape!r}")
    return tuple(int(d) for d in shape)  # type: ignore[call-overload]


def layer_norm(
    input: ArrayLike,
    normalized_shape: Union[int, Sequence[int]],
    weight: Optional[ArrayLike] = None,
    bias: Optional[ArrayLike] = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalisation with PyTorch's semantics.

    Shape:
        input ``(*, *normalized_shape)``; ``weight`` and ``bias`` ``normalized_shape``.
        Output: the input's shape. Each sample's last ``len(normalized_shape)`` dimensions
        are normalised together: ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the
        biased variance.

    Gradient, with ``x_hat`` the normalised input, ``g`` the gradient of ``x_hat``
    (``dL/dy * weight``) and means over the normalised values of one sample:
    ``dL/dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)``: the mean and
    variance depend on every value they were computed from, hence the two correction terms.
    ``dL/dweight = sum(dL/dy * x_hat)`` and ``dL/dbias = sum(dL/dy)`` over the leading
    dimensions.
    """
    x = as_tensor(input)
    shape = normalized_shape_tuple("layer_norm", normalized_shape)
    if x.dtype.kind != "f":
        raise TypeError(f"layer_norm: input must be a float tensor, got dtype {x.dtype}")
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise ValueError(f"layer_norm: input has shape {x.shape} but normalized_shape {shape} "
                         f"expects input of shape (*, {', '.join(map(str, shape))})")
    if not eps > 0:
        raise ValueError(f"layer_norm: eps must be positive, got {eps}")
    w = None if weight is None else as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    for name, value in (("weight", w), ("bias", b)):
        if value is not None and value.shape != shape:
            raise ValueError(f"layer_norm: {name} has shape {value.shape} but normalized_shape "
                             f"is {shape}; expected {shape}")
    data = x.data
    dtype = data.dtype
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    lead = tuple(range(x.ndim - len(shape)))
    mean = data.mean(axis=axes, keepdims=True)
    centred = data - mean
    var = np.square(centred).mean(axis=axes, keepdims=True)
    inv_std = (1.0 / np.sqrt(var + dtype.type(eps))).astype(dtype, copy=False)
    x_hat = centred * inv_std
    out = x_hat
    if w is not None:
        out = out * w.data.astype(dtype, copy=False)
    if b is not None:
        out = out + b.data.astype(dtype, copy=False)

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], ...]:
        g = np.asarray(g, dtype=dtype)
        grads: List[Optional[np.ndarray]] = []
        if x.requires_grad:
            g_hat = g if w is None else g * w.data.astype(dtype, copy=False)
            dx = inv_std * (g_hat - g_hat.mean(axis=axes, keepdims=True)
                            - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))
            grads.append(dx)
        else:
            grads.append(None)
        if w is not None:
            grads.append((g * x_hat).sum(axis=lead).astype(w.dtype, copy=False)
                         if w.requires_grad else None)
        if b is not None:
            grads.append(g.sum(axis=lead).astype(b.dtype, copy=False)
                         if b.requires_grad else None)
        return tuple(grads)

    parents = (x,) + tuple(t for t in (w, b) if t is not None)
    return Tensor._from_op(out, parents, backward)
