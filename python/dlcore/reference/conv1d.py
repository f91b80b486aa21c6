"""Pure-NumPy 1-D convolution and pooling by their definitions: the test oracle for
dlcore's 1-D ops.

Independent of the 2-D kernels and references that dlcore's 1-D ops are built on: each
function loops over output positions and kernel taps of ``(N, C, L)`` arrays, written for
clarity, not speed. Semantics are PyTorch's: convolution ``padding`` is ``(left, right)``
zeros; pooling pads both ends by ``padding``, max/min ignore the padding, keep the first
extremum on ties and propagate NaN (the last NaN's index), and average pooling divides by the
window clipped to the padded input (``count_include_pad``) or to the input.
"""

from __future__ import annotations

import numpy as np

from .pool import pool_out_size

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "avg_pool1d",
    "avg_pool1d_backward",
    "conv1d",
    "conv1d_backward",
    "extremum_pool1d",
    "extremum_pool1d_backward",
]


def _conv_taps(x, weight, stride, padding, dilation):
    """The zero-padded input and the output length (output ``i``'s tap ``t`` reads padded
    position ``i * stride + t * dilation``)."""
    left, right = padding
    xp = np.pad(x, ((0, 0), (0, 0), (left, right)))
    k = weight.shape[2]
    l_out = (xp.shape[2] - dilation * (k - 1) - 1) // stride + 1
    return xp, l_out


def conv1d(x, weight, bias=None, stride=1, padding=(0, 0), dilation=1, groups=1):
    """``(N, C_in, L), (C_out, C_in/groups, K) -> (N, C_out, L_out)``:
    ``out[n, o, i] = b[o] + sum_{c, t} w[o, c, t] * x_padded[n, g(o) * C_g + c, i*s + t*d]``."""
    c_out, c_g, k = weight.shape
    xp, l_out = _conv_taps(x, weight, stride, padding, dilation)
    per_group = c_out // groups
    out = np.zeros((x.shape[0], c_out, l_out), dtype=np.result_type(x, weight))
    for o in range(c_out):
        channels = xp[:, (o // per_group) * c_g:(o // per_group + 1) * c_g]
        for i in range(l_out):
            for t in range(k):
                out[:, o, i] += channels[:, :, i * stride + t * dilation] @ weight[o, :, t]
    if bias is not None:
        out += bias.reshape(1, -1, 1)
    return out


def conv1d_backward(x, weight, grad_out, stride=1, padding=(0, 0), dilation=1, groups=1):
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv1d` given ``grad_out``."""
    c_out, c_g, k = weight.shape
    xp, l_out = _conv_taps(x, weight, stride, padding, dilation)
    per_group = c_out // groups
    grad_xp = np.zeros_like(xp)
    grad_w = np.zeros_like(weight)
    for o in range(c_out):
        group = slice((o // per_group) * c_g, (o // per_group + 1) * c_g)
        for i in range(l_out):
            g = grad_out[:, o, i]
            for t in range(k):
                pos = i * stride + t * dilation
                grad_xp[:, group, pos] += np.outer(g, weight[o, :, t])
                grad_w[o, :, t] += g @ xp[:, group, pos]
    left = padding[0]
    grad_x = grad_xp[:, :, left:left + x.shape[2]]
    return grad_x, grad_w, grad_out.sum(axis=(0, 2))


def _pool_taps(length, l_out, kernel, stride, padding, dilation):
    """For each output position, the input positions of its window that lie inside the input."""
    for i in range(l_out):
        taps = [i * stride - padding + t * dilation for t in range(kernel)]
        yield i, np.array([p for p in taps if 0 <= p < length], dtype=np.int64)


def extremum_pool1d(x, kind, kernel, stride, padding=0, dilation=1, ceil_mode=False):
    """Max (``kind="max"``) or min pooling: ``(output, int64 positions along L)``; a window
    of padding only gives ``-inf`` (max) or ``+inf`` (min) at position -1."""
    n, c, length = x.shape
    l_out = pool_out_size(length, kernel, stride, padding, dilation, ceil_mode)
    out = np.empty((n, c, l_out), dtype=x.dtype)
    index = np.empty((n, c, l_out), dtype=np.int64)
    for i, taps in _pool_taps(length, l_out, kernel, stride, padding, dilation):
        if taps.size == 0:
            out[:, :, i] = -np.inf if kind == "max" else np.inf
            index[:, :, i] = -1
            continue
        values = x[:, :, taps]
        pick = np.argmax(values, axis=-1) if kind == "max" else np.argmin(values, axis=-1)
        nan = np.isnan(values)
        last_nan = taps.size - 1 - np.argmax(nan[..., ::-1], axis=-1)
        pick = np.where(nan.any(axis=-1), last_nan, pick)
        out[:, :, i] = np.take_along_axis(values, pick[..., None], axis=-1)[..., 0]
        index[:, :, i] = taps[pick]
    return out, index


def extremum_pool1d_backward(grad_out, indices, input_shape):
    """Each output's gradient goes to the input position its index names (-1: nowhere)."""
    grad = np.zeros(input_shape, dtype=grad_out.dtype)
    n, c, _ = input_shape
    for b in range(n):
        for ch in range(c):
            keep = indices[b, ch] >= 0
            np.add.at(grad[b, ch], indices[b, ch][keep], grad_out[b, ch][keep])
    return grad


def _avg_windows(length, kernel, stride, padding, ceil_mode, count_include_pad,
                 divisor_override):
    """``(i, input positions, divisor)`` per output position; the divisor counts the window
    clipped to the padded input, or only its input positions."""
    l_out = pool_out_size(length, kernel, stride, padding, 1, ceil_mode)
    for i, taps in _pool_taps(length, l_out, kernel, stride, padding, 1):
        start = i * stride - padding
        padded = min(start + kernel, length + padding) - start
        divisor = padded if count_include_pad else taps.size
        yield i, taps, divisor if divisor_override is None else divisor_override


def avg_pool1d(x, kernel, stride, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each window (0 for a window of padding only)."""
    n, c, length = x.shape
    windows = list(_avg_windows(length, kernel, stride, padding, ceil_mode, count_include_pad,
                                divisor_override))
    out = np.zeros((n, c, len(windows)), dtype=x.dtype)
    for i, taps, divisor in windows:
        if taps.size:
            out[:, :, i] = x[:, :, taps].sum(axis=-1) / divisor
    return out


def avg_pool1d_backward(grad_out, input_shape, kernel, stride, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    """Each window spreads ``grad / divisor`` over its input positions."""
    grad = np.zeros(input_shape, dtype=grad_out.dtype)
    for i, taps, divisor in _avg_windows(input_shape[2], kernel, stride, padding, ceil_mode,
                                         count_include_pad, divisor_override):
        grad[:, :, taps] += grad_out[:, :, i:i + 1] / divisor
    return grad


def _adaptive_windows(length, output_size):
    """Output ``i`` averages input ``floor(i * L / out)`` up to ``ceil((i + 1) * L / out)``."""
    for i in range(output_size):
        yield i, (i * length) // output_size, -((-(i + 1) * length) // output_size)


def adaptive_avg_pool1d(x, output_size):
    out = np.empty(x.shape[:2] + (output_size,), dtype=x.dtype)
    for i, start, end in _adaptive_windows(x.shape[2], output_size):
        out[:, :, i] = x[:, :, start:end].mean(axis=-1)
    return out


def adaptive_avg_pool1d_backward(grad_out, input_shape):
    grad = np.zeros(input_shape, dtype=grad_out.dtype)
    for i, start, end in _adaptive_windows(input_shape[2], grad_out.shape[2]):
        grad[:, :, start:end] += grad_out[:, :, i:i + 1] / (end - start)
    return grad
