"""``conv_transpose2d``: the adjoint of ``conv2d``, which upsamples (decoders, autoencoders).

A transposed convolution computes what ``conv2d``'s backward pass computes for its input:
each input pixel spreads its value, weighted by the filter, over a window of the output. So
it runs on the same Rust kernels with the roles swapped: the forward pass is ``conv2d``'s
input gradient, the input gradient is a ``conv2d`` forward pass, and the weight gradient is
``conv2d``'s weight gradient with input and output exchanged.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ... import _core
from ...tensor import ArrayLike, Tensor
from .conv import IntPair, _batched, _float_input, _pair, conv_operands


def transposed_output_size(size: Tuple[int, int], kernel: Tuple[int, int],
                           stride: Tuple[int, int], padding: Tuple[int, int],
                           output_padding: Tuple[int, int], dilation: Tuple[int, int]
                           ) -> Tuple[int, int]:
    """``(H_out, W_out)``: ``(H - 1) * stride - 2 * padding + dilation * (K - 1) +
    output_padding + 1`` per axis."""
    return tuple(  # type: ignore[return-value]
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, k, s, p, op, d in zip(size, kernel, stride, padding, output_padding, dilation))


def conv_transpose2d(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None,
                     stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                     groups: int = 1, dilation: IntPair = 1) -> Tensor:
    """2-D transposed convolution, PyTorch's ``conv_transpose2d`` (same argument order).

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``; cast to the weight's dtype.
        weight: ``(C_in, C_out / groups, KH, KW)`` (input channels first, unlike conv2d's).
        bias: optional ``(C_out,)``.
        stride: the upsampling factor: output pixels between neighbouring input pixels.
        padding: ``dilation * (K - 1) - padding`` zeros around the input in the equivalent
            direct convolution; larger padding trims the output.
        output_padding: extra rows and columns on the bottom and right of the output (less
            than the stride or the dilation), to pick one of the sizes a strided conv2d maps
            to the same size.
        groups, dilation: as in conv2d.

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)`` with ``H_out = (H - 1) * stride -
        2 * padding + dilation * (KH - 1) + output_padding + 1``: the input size of a conv2d
        with the same settings that outputs ``H``.

    Example:
        >>> up = F.conv_transpose2d(dlcore.randn(1, 16, 7, 7), dlcore.randn(16, 8, 2, 2),
        ...                         stride=2)
        >>> up.shape
        (1, 8, 14, 14)
    """
    op = "conv_transpose2d"
    x, w, b = conv_operands(op, input, weight, bias, groups, "(C_in, C_out/groups, KH, KW)")
    stride2 = _pair(stride, "stride", op)
    padding2 = _pair(padding, "padding", op)
    out_pad2 = _pair(output_padding, "output_padding", op)
    dilation2 = _pair(dilation, "dilation", op)
    if min(stride2) < 1 or min(dilation2) < 1:
        raise ValueError(f"{op}: stride and dilation must be positive, got stride {stride2}, "
                         f"dilation {dilation2}")
    if min(padding2) < 0 or min(out_pad2) < 0:
        raise ValueError(f"{op}: padding and output_padding must be non-negative, got "
                         f"{padding2} and {out_pad2}")
    if any(op_ >= max(s, d) for op_, s, d in zip(out_pad2, stride2, dilation2)):
        raise ValueError(f"{op}: output_padding {out_pad2} must be smaller than the stride "
                         f"{stride2} or the dilation {dilation2}")
    unbatched = x.ndim == 3
    xd = _batched(_float_input(x, w.dtype, op), op)
    channels_in, per_group = w.shape[0], w.shape[1]
    if xd.shape[1] != channels_in:
        raise ValueError(f"{op}: input {x.shape} has {xd.shape[1]} channels but weight "
                         f"{w.shape} expects {channels_in} (weight is (C_in, C_out/groups, KH, "
                         "KW))")
    if channels_in % groups:
        raise ValueError(f"{op}: weight's {channels_in} input channels are not divisible by "
                         f"groups={groups}")
    channels_out = per_group * int(groups)
    if b is not None and b.shape != (channels_out,):
        raise ValueError(f"{op}: bias has shape {b.shape}; expected ({channels_out},)")
    kernel = (w.shape[2], w.shape[3])
    height, width = transposed_output_size((xd.shape[2], xd.shape[3]), kernel, stride2,
                                           padding2, out_pad2, dilation2)
    if height < 1 or width < 1:
        raise ValueError(f"{op}: input {x.shape} with kernel {kernel}, stride {stride2}, "
                         f"padding {padding2} gives an empty output ({height}, {width})")
    wd = np.ascontiguousarray(w.data)
    # The conv2d whose input gradient this is pads `padding` on top and `padding -
    # output_padding` at the bottom, so that it maps the output's size back to the input's.
    # An output_padding beyond `padding + stride - 1` (possible when dilation > stride) adds
    # rows no input pixel reaches: they are computed as zeros, outside the kernels.
    (bottom, keep_h), (right, keep_w) = (
        _conv2d_side(n, pad, out_pad, s) for n, pad, out_pad, s in
        zip((height, width), padding2, out_pad2, stride2))
    geometry = dict(stride=stride2, padding=(padding2[0], bottom, padding2[1], right),
                    dilation=dilation2, groups=int(groups))
    out_shape = (xd.shape[0], channels_out, height, width)
    reached = (xd.shape[0], channels_out, keep_h, keep_w)
    # The kernel only reads the shape of the (unwritten, so never faulted-in) zero array.
    shape_only = np.zeros(reached, dtype=wd.dtype)
    out, _, _ = _core.conv2d_backward(shape_only, wd, xd, **geometry, input_grad=True,
                                      weight_grad=False, bias_grad=False)
    if reached != out_shape:
        out = np.pad(out, ((0, 0), (0, 0), (0, height - keep_h), (0, width - keep_w)))
    if b is not None:
        out += np.asarray(b.data, dtype=wd.dtype).reshape(1, -1, 1, 1)
    parents: Tuple[Tensor, ...] = (x, w) if b is None else (x, w, b)

    def backward(g: np.ndarray) -> Tuple[Any, ...]:
        g = g.reshape(out_shape)
        g_reached = np.ascontiguousarray(g[:, :, :keep_h, :keep_w], dtype=wd.dtype)
        gx = gw = gb = None
        if x.requires_grad:
            gx = _core.conv2d_forward(g_reached, wd, None, **geometry)
            gx = gx.astype(x.dtype, copy=False).reshape(x.shape)
        if w.requires_grad:
            _, gw, _ = _core.conv2d_backward(g_reached, wd, xd, **geometry, input_grad=False,
                                             weight_grad=True, bias_grad=False)
        if b is not None and b.requires_grad:
            gb = g.sum(axis=(0, 2, 3), dtype=wd.dtype)
        return (gx, gw) if b is None else (gx, gw, gb)

    return Tensor._from_op(out[0] if unbatched else out, parents, backward, fresh_grads=True)


def _conv2d_side(size: int, padding: int, output_padding: int, stride: int) -> Tuple[int, int]:
    """``(bottom padding, rows computed)`` of the conv2d behind one axis of an output of
    ``size``: with ``padding`` on top, ``padding - output_padding`` at the bottom maps the
    output back to the input's size; when ``output_padding`` exceeds ``padding`` the bottom
    padding is 0 and the rows past ``padding + stride - 1`` extra ones are left out."""
    if output_padding <= padding:
        return padding - output_padding, size
    reached = min(output_padding, padding + stride - 1)
    return 0, size - (output_padding - reached)
