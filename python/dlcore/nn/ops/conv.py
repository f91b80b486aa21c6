"""``conv2d`` and ``pad``: differentiable, with the Rust kernels doing the arithmetic."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from ... import _core
from ...tensor import ArrayLike, Tensor, as_tensor, check_real_dtype

IntPair = Union[int, Tuple[int, int]]

_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pair(value: Any, name: str, op: str) -> Tuple[int, int]:
    """``v`` -> ``(v, v)``; a pair stays a pair; anything else is a ValueError."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        return int(value[0]), int(value[1])
    raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")


def _float_input(x: Tensor, dtype: np.dtype, op: str) -> np.ndarray:
    data = x.data
    check_real_dtype(data.dtype, op, "input")
    return np.ascontiguousarray(data, dtype=dtype)


def _batched(x: np.ndarray, op: str, what: str = "(N, C, H, W) or (C, H, W)") -> np.ndarray:
    if x.ndim == 3:
        return x[None]
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be {what}, got shape {x.shape}")
    return x


def conv_operands(op: str, input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike],
                  groups: Any, weight_layout: str
                  ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """``(input, weight, bias)`` as Tensors once the weight is a 4-D float32/float64 array
    (laid out as ``weight_layout``) and ``groups`` a positive int."""
    w = as_tensor(weight)
    if w.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D {weight_layout}, got shape {w.shape}")
    if w.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: weight must be float32 or float64, got {w.dtype}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    return as_tensor(input), w, None if bias is None else as_tensor(bias)


def conv_padding(padding: Any, kernel: Tuple[int, int], stride: Tuple[int, int],
                 dilation: Tuple[int, int], op: str = "conv2d") -> Tuple[int, int, int, int]:
    """``padding`` as (top, bottom, left, right): an int, a pair, ``'valid'`` or ``'same'``.

    ``'same'`` keeps the input size at stride 1; an odd total goes to the bottom/right, as
    in PyTorch.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', "
                         f"got {padding!r}")
    ph, pw = _pair(padding, "padding", op)
    return ph, ph, pw, pw


def conv2d(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None,
           stride: IntPair = 1, padding: Union[IntPair, str] = 0, dilation: IntPair = 1,
           groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning framework).

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``; cast to the weight's dtype.
        weight: ``(C_out, C_in / groups, KH, KW)``.
        bias: optional ``(C_out,)``.
        stride, dilation: int or pair.
        padding: zeros on both sides: int, pair, ``'valid'`` (none) or ``'same'`` (output as
            large as the input; stride 1 only).
        groups: split the channels into this many independent convolutions
            (``groups == C_in`` is a depthwise convolution).

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)`` with
        ``H_out = floor((H + 2 * padding - dilation * (KH - 1) - 1) / stride) + 1``.

    Example:
        >>> x = dlcore.randn(1, 1, 28, 28)
        >>> sobel = np.array([[[[1, 0, -1], [2, 0, -2], [1, 0, -1]]]], np.float32)
        >>> F.conv2d(x, sobel, padding=1).shape
        (1, 1, 28, 28)
    """
    op = "conv2d"
    x, w, b = conv_operands(op, input, weight, bias, groups, "(C_out, C_in/groups, KH, KW)")
    stride2 = _pair(stride, "stride", op)
    dilation2 = _pair(dilation, "dilation", op)
    pads = conv_padding(padding, w.shape[2:], stride2, dilation2, op)
    unbatched = x.ndim == 3
    xd = _batched(_float_input(x, w.dtype, op), op)
    wd = np.ascontiguousarray(w.data)
    bd = None if b is None else np.ascontiguousarray(b.data, dtype=w.dtype)
    geometry = dict(stride=stride2, padding=pads, dilation=dilation2, groups=int(groups))
    out = _core.conv2d_forward(xd, wd, bd, **geometry)
    parents: Tuple[Tensor, ...] = (x, w) if b is None else (x, w, b)

    def backward(g: np.ndarray) -> Tuple[Any, ...]:
        g = np.ascontiguousarray(g.reshape(out.shape), dtype=wd.dtype)
        gx, gw, gb = _core.conv2d_backward(
            xd, wd, g, **geometry, input_grad=x.requires_grad, weight_grad=w.requires_grad,
            bias_grad=b is not None and b.requires_grad)
        if gx is not None:
            gx = gx.astype(x.dtype, copy=False).reshape(x.shape)
        return (gx, gw) if b is None else (gx, gw, gb)

    # The gradients are new arrays from the kernel: the leaves may keep them without a copy.
    return Tensor._from_op(out[0] if unbatched else out, parents, backward, fresh_grads=True)


def _pad_pairs(pad: Sequence[int], ndim: int) -> Sequence[Tuple[int, int]]:
    """PyTorch's ``pad`` tuple (last dimension first) as one (before, after) per dimension."""
    if len(pad) % 2 or len(pad) // 2 > ndim:
        raise ValueError(f"pad: pad must have an even length of at most 2 * ndim = {2 * ndim}, "
                         f"got {tuple(pad)}")
    pairs = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        pairs[ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return pairs


def pad(input: ArrayLike, pad: Sequence[int], mode: str = "constant",
        value: Optional[float] = None) -> Tensor:
    """Pad the last dimensions, PyTorch-style.

    Args:
        input: any tensor; non-constant modes pad the last one or two dimensions.
        pad: ``(left, right)`` for the last dimension, then ``(top, bottom)`` for the one
            before it, and so on. Constant padding may be negative (it crops).
        mode: ``'constant'`` (fill with ``value``, default 0), ``'reflect'`` (mirror without
            repeating the edge: each pad must be smaller than its dimension),
            ``'replicate'`` (copy the edge) or ``'circular'`` (wrap around).

    The output keeps the input's dtype in every mode (integers and bools included, as
    PyTorch's). In constant mode ``value`` is cast to that dtype as PyTorch casts it: an
    integer dtype truncates it toward zero (``2.7 -> 2``, ``-2.7 -> -2``) and refuses a value
    it cannot hold (out of range, NaN, infinite) with a ValueError; a bool input pads with
    ``bool(value)``.

    The gradient of a padded cell flows back to the input cell it copies.
    """
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise ValueError(f"pad: pad must be a sequence of ints, got {pad!r}")
    x = as_tensor(input)
    pairs = _pad_pairs(pad, x.ndim)
    if mode == "constant":
        return _pad_constant(x, pairs, _fill_value(0.0 if value is None else value, x.dtype))
    if value not in (None, 0, 0.0):
        raise ValueError(f"pad: value is only used by mode='constant', got value={value!r}")
    if len(pad) > 4 or x.ndim < 2:
        raise ValueError(f"pad: mode {mode!r} pads the last one or two dimensions of a tensor "
                         f"with at least 2 dimensions; got pad {tuple(pad)} for shape {x.shape}")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: mode {mode!r} needs non-negative padding, got {tuple(pad)}")
    (top, bottom), (left, right) = pairs[-2], pairs[-1]
    sides = (top, bottom, left, right)
    if x.dtype.kind != "f":
        return Tensor(_pad_by_gather(x.data, sides, mode))  # no gradient without floats
    # The kernel pads float32 and float64; float16 goes through float32 (exact: it only copies).
    data = np.ascontiguousarray(x.data, dtype=np.float64 if x.dtype.itemsize >= 8 else np.float32)
    out = _core.pad2d(data, sides, mode, 0.0).astype(x.dtype, copy=False)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        grad = _core.pad2d_backward(np.ascontiguousarray(g, dtype=data.dtype), sides, mode)
        return (grad.astype(x.dtype, copy=False),)

    return Tensor._from_op(out, (x,), backward)


def _pad_by_gather(data: np.ndarray, sides: Tuple[int, int, int, int], mode: str
                   ) -> np.ndarray:
    """Reflect/replicate/circular padding of the last two dimensions of a non-float array,
    exactly and in its dtype: the kernel pads a float64 map of cell positions ``(H, W)``
    (integers, so exact), and each output cell takes the input cell its position names."""
    h, w = data.shape[-2:]
    positions = np.arange(h * w, dtype=np.float64).reshape(h, w)
    try:
        source = _core.pad2d(positions, sides, mode, 0.0).astype(np.intp)
    except ValueError:
        # The same check again, on the input's shape, so the message names the whole input.
        _core.pad2d(np.zeros(data.shape, np.float32), sides, mode, 0.0)
        raise
    return data.reshape(data.shape[:-2] + (h * w,))[..., source]


def _fill_value(value: Any, dtype: np.dtype) -> Any:
    """Constant padding's ``value`` as an element of ``dtype``, cast as PyTorch casts it."""
    if dtype.kind in "fc":
        return float(value)
    if dtype.kind == "b":
        return bool(value)
    if isinstance(value, (int, np.integer)):  # bools too; exact even beyond 2**53
        whole = int(value)
    else:
        number = float(value)
        if not np.isfinite(number):
            raise ValueError(f"pad: value {value!r} cannot pad an integer input of dtype "
                             f"{dtype}")
        whole = int(number)  # truncates toward zero, as C++'s cast in PyTorch
    info = np.iinfo(dtype)
    if not info.min <= whole <= info.max:
        raise ValueError(f"pad: value {value!r} does not fit the input's dtype {dtype} "
                         f"({info.min} to {info.max})")
    return whole


def _pad_constant(x: Tensor, pairs: Sequence[Tuple[int, int]], value: Any) -> Tensor:
    # Negative padding crops first; then the rest is a fill plus one copy.
    crop = tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(pairs, x.shape))
    kept = x.data[crop]
    grow = [(max(a, 0), max(b, 0)) for a, b in pairs]
    shape = tuple(n + a + b for n, (a, b) in zip(kept.shape, grow))
    if any(n < 0 for n in shape):
        raise ValueError(f"pad: padding {pairs} crops more than the input shape {x.shape}")
    out = np.full(shape, value, dtype=x.dtype)
    inner = tuple(slice(a, a + n) for (a, _), n in zip(grow, kept.shape))
    out[inner] = kept

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        grad = np.zeros(x.shape, dtype=g.dtype)
        grad[crop] = g[inner]
        return (grad,)

    return Tensor._from_op(out, (x,), backward)
