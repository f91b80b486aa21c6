"""Pure-NumPy 2-D convolution: the test oracle and the benchmark baseline.

Independent of the Rust kernels: im2col through ``sliding_window_view`` + one matmul per
group for the forward pass and the weight gradient, col2im (one strided add per kernel tap)
for the input gradient. Arrays are NCHW; ``padding`` is zero padding
``(top, bottom, left, right)``.

The lowered matrix is ``(C*KH*KW, N*H_out*W_out)``: its rows are (channel, tap) pairs and its
columns follow the output pixels, so copying it out of the padded input reads whole output
rows at a time (the ``(N*H_out*W_out, C*KH*KW)`` layout copies runs of KW elements and was
1.3-2.5x slower overall). As the benchmark baseline it should be NumPy written well, not
NumPy written slowly.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conv2d", "conv2d_backward", "conv_transpose2d", "out_size", "pad2d",
           "pad2d_backward"]


def out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """``floor((size + pad - dilation * (kernel - 1) - 1) / stride) + 1`` (``pad``: both sides)."""
    return (size + pad - dilation * (kernel - 1) - 1) // stride + 1


def _columns(x, kernel, stride, padding, dilation):
    """The padded input and its windows, shaped ``(N, C, H_out, W_out, KH, KW)`` (a view)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, bottom, left, right = padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = sliding_window_view(xp, span, axis=(2, 3))
    return xp, windows[:, :, ::sh, ::sw, ::dh, ::dw]


def _lowered(windows, g, c_g):
    """Group ``g``'s im2col matrix ``(C_g*KH*KW, N*H_out*W_out)`` (a copy)."""
    n, _, oh, ow, kh, kw = windows.shape
    group = windows[:, g * c_g : (g + 1) * c_g].transpose(1, 4, 5, 0, 2, 3)
    return group.reshape(c_g * kh * kw, n * oh * ow)


def conv2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """Forward: ``(N, C_in, H, W), (C_out, C_in/groups, KH, KW) -> (N, C_out, H_out, W_out)``."""
    n = x.shape[0]
    c_out, c_g, kh, kw = weight.shape
    _, windows = _columns(x, (kh, kw), stride, padding, dilation)
    oh, ow = windows.shape[2:4]
    co_g = c_out // groups
    out = np.empty((n, c_out, oh, ow), dtype=np.result_type(x, weight))
    for g in range(groups):
        cols = _lowered(windows, g, c_g)
        wg = weight[g * co_g : (g + 1) * co_g].reshape(co_g, -1)
        res = (wg @ cols).reshape(co_g, n, oh, ow)
        out[:, g * co_g : (g + 1) * co_g] = res.transpose(1, 0, 2, 3)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def conv2d_backward(
    x, weight, grad_out, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1
):
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv2d` given ``grad_out``."""
    n, c_in, h, w = x.shape
    c_out, c_g, kh, kw = weight.shape
    (sh, sw), (dh, dw) = stride, dilation
    top, _, left, _ = padding
    xp, windows = _columns(x, (kh, kw), stride, padding, dilation)
    oh, ow = windows.shape[2:4]
    co_g = c_out // groups
    grad_w = np.empty_like(weight)
    grad_xp = np.zeros_like(xp)
    for g in range(groups):
        cols = _lowered(windows, g, c_g)
        gg = grad_out[:, g * co_g : (g + 1) * co_g].transpose(1, 0, 2, 3).reshape(co_g, -1)
        wg = weight[g * co_g : (g + 1) * co_g].reshape(co_g, -1)
        grad_w[g * co_g : (g + 1) * co_g] = (gg @ cols.T).reshape(co_g, c_g, kh, kw)
        dcols = (wg.T @ gg).reshape(c_g, kh, kw, n, oh, ow)
        # col2im: each kernel tap adds its column block back onto a strided slice of the input.
        dst = grad_xp[:, g * c_g : (g + 1) * c_g]
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
                cols_ = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
                dst[:, :, rows, cols_] += dcols[:, i, j].transpose(1, 0, 2, 3)
    grad_x = grad_xp[:, :, top : top + h, left : left + w]
    return np.ascontiguousarray(grad_x), grad_w, grad_out.sum(axis=(0, 2, 3))


_NUMPY_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                "circular": "wrap"}


def pad2d(x, pad, mode="constant", value=0.0):
    """Pad the last two axes by ``(top, bottom, left, right)``; PyTorch's mode names."""
    top, bottom, left, right = pad
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode=_NUMPY_MODES[mode])


def pad2d_backward(grad_out, pad, mode="constant"):
    """The input gradient of :func:`pad2d`: each padded cell's gradient goes to its source."""
    top, bottom, left, right = pad
    h = grad_out.shape[-2] - top - bottom
    w = grad_out.shape[-1] - left - right
    # Pad an index grid the same way; then scatter-add by the padded indices.
    index = np.arange(h * w).reshape(h, w)
    source = index if mode == "constant" else pad2d(index, pad, mode)
    if mode == "constant":
        return np.ascontiguousarray(grad_out[..., top : top + h, left : left + w])
    lead = grad_out.shape[:-2]
    flat = grad_out.reshape(-1, source.size)
    grad_in = np.zeros((flat.shape[0], h * w), dtype=grad_out.dtype)
    for row, g in zip(grad_in, flat):
        np.add.at(row, source.ravel(), g)
    return grad_in.reshape(*lead, h, w)


def conv_transpose2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                     groups=1, dilation=(1, 1)):
    """Transposed convolution by its definition: every input pixel adds its value times the
    filter into the output window it maps to (``stride`` apart), one strided add per kernel
    tap; then ``padding`` is cropped from each side. ``weight`` is ``(C_in, C_out / groups,
    KH, KW)``; ``padding`` and ``output_padding`` are ``(rows, columns)``."""
    n, c_in, h, w = x.shape
    _, c_out_g, kh, kw = weight.shape
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = stride, padding, output_padding, dilation
    c_in_g = c_in // groups
    canvas = np.zeros((n, c_out_g * groups, (h - 1) * sh + dh * (kh - 1) + 1 + oh,
                       (w - 1) * sw + dw * (kw - 1) + 1 + ow), dtype=np.result_type(x, weight))
    for g in range(groups):
        xg = x[:, g * c_in_g:(g + 1) * c_in_g]
        wg = weight[g * c_in_g:(g + 1) * c_in_g]
        out_g = canvas[:, g * c_out_g:(g + 1) * c_out_g]
        for i in range(kh):
            for j in range(kw):
                window = out_g[:, :, i * dh:i * dh + (h - 1) * sh + 1:sh,
                               j * dw:j * dw + (w - 1) * sw + 1:sw]
                window += np.einsum("nchw,co->nohw", xg, wg[:, :, i, j])
    out = canvas[:, :, ph:canvas.shape[2] - ph, pw:canvas.shape[3] - pw]
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out
