"""Pure-NumPy 2-D pooling: the test oracle and the benchmark baseline.

Windows come from ``sliding_window_view`` over the padded input; ``ceil_mode`` adds the
extra right/bottom padding its last window needs. Semantics are PyTorch's: max/min ignore
padding, keep the first extremum on ties and propagate NaN (index of the last NaN);
average divides by the window clipped to the padded input (``count_include_pad``) or to
the input. Arrays are NCHW; ``kernel``, ``stride``, ``padding``, ``dilation`` are pairs.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_extremum_pool2d",
    "avg_pool2d",
    "avg_pool2d_backward",
    "extremum_pool2d",
    "extremum_pool2d_backward",
    "pool_out_size",
]


def pool_out_size(size, kernel, stride, pad, dilation=1, ceil_mode=False):
    """PyTorch's ``pooling_output_shape``."""
    span = dilation * (kernel - 1) + 1
    num = size + 2 * pad - span + (stride - 1 if ceil_mode else 0)
    out = num // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _windows(x, kernel, stride, padding, dilation, ceil_mode, fill):
    """``(N, C, H_out, W_out, KH*KW)`` windows of the padded input, with a validity mask
    and each tap's flat index ``ih * W + iw`` in the unpadded plane."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh = pool_out_size(h, kh, sh, ph, dh, ceil_mode)
    ow = pool_out_size(w, kw, sw, pw, dw, ceil_mode)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    # Enough right/bottom padding for the last window (ceil mode may need more than ph).
    extra_h = max(0, (oh - 1) * sh + span_h - (h + 2 * ph))
    extra_w = max(0, (ow - 1) * sw + span_w - (w + 2 * pw))
    widths = ((0, 0), (0, 0), (ph, ph + extra_h), (pw, pw + extra_w))
    xp = np.pad(x, widths, constant_values=fill)
    valid = np.pad(np.ones((h, w), bool), widths[2:], constant_values=False)
    index = np.pad(np.arange(h * w).reshape(h, w), widths[2:], constant_values=-1)

    def view(a):
        v = sliding_window_view(a, (span_h, span_w), axis=(-2, -1))
        v = v[..., : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw, ::dh, ::dw]
        return v.reshape(v.shape[:-2] + (kh * kw,))

    return view(xp), view(valid), view(index)


def extremum_pool2d(x, kind, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """Max (``kind="max"``) or min pooling: ``(output, indices)`` with int64 flat indices."""
    sign = 1.0 if kind == "max" else -1.0
    fill = -np.inf if kind == "max" else np.inf
    win, valid, index = _windows(x, kernel, stride, padding, dilation, ceil_mode, fill)
    score = sign * win  # maximise the score in both cases; padding scores -inf
    # Padding is never NaN, so the NaN work is needed only when the input has some.
    any_nan = bool(np.isnan(x).any())
    nan = np.isnan(win) if any_nan else None
    best = np.max(np.where(nan, -np.inf, score) if any_nan else score, axis=-1, keepdims=True)
    # The first valid tap that reaches the best score (all -inf: the first valid tap) ...
    hit = score == best
    if not valid.all():
        hit &= valid
    pick = np.argmax(hit, axis=-1)
    if nan is not None:
        # ... unless the window holds NaN: then the last NaN, and the value is NaN.
        k = win.shape[-1]
        last_nan = k - 1 - np.argmax(nan[..., ::-1], axis=-1)
        pick = np.where(nan.any(axis=-1), last_nan, pick)
    out = np.take_along_axis(win, pick[..., None], axis=-1)[..., 0]
    idx = np.take_along_axis(np.broadcast_to(index, win.shape), pick[..., None], axis=-1)[..., 0]
    return out, idx.astype(np.int64)


def extremum_pool2d_backward(grad_out, indices, input_shape):
    """Route each output gradient to the input element its index names (-1: nowhere)."""
    n, c, h, w = input_shape
    planes = np.repeat(np.arange(n * c), grad_out[0, 0].size)
    flat = indices.reshape(-1)
    keep = flat >= 0
    target = planes[keep] * (h * w) + flat[keep]
    return _scatter_add(target, grad_out.reshape(-1)[keep], n * c * h * w).reshape(input_shape)


def _scatter_add(target, values, size):
    """``out[target[i]] += values[i]`` into zeros of ``size``: ``np.bincount`` with weights
    (an order of magnitude faster than ``np.add.at``; it sums in float64, exact for float64
    and within one rounding for float32)."""
    if values.dtype == np.float64 or values.dtype == np.float32:
        return np.bincount(target, weights=values, minlength=size).astype(values.dtype)
    out = np.zeros(size, dtype=values.dtype)
    np.add.at(out, target, values)
    return out


def _avg_divisor(shape_hw, kernel, stride, padding, out_hw, count_include_pad):
    (h, w), (kh, kw), (sh, sw), (ph, pw) = shape_hw, kernel, stride, padding
    oh, ow = out_hw

    def axis(size, k, s, p, out):
        start = np.arange(out) * s - p
        end = np.minimum(start + k, size + p)
        padded = end - start
        inside = np.minimum(end, size) - np.maximum(start, 0)
        return padded, np.maximum(inside, 0)

    ph_, ih_ = axis(h, kh, sh, ph, oh)
    pw_, iw_ = axis(w, kw, sw, pw, ow)
    if count_include_pad:
        return np.outer(ph_, pw_), np.outer(ih_, iw_)
    return np.outer(ih_, iw_), np.outer(ih_, iw_)


def avg_pool2d(x, kernel, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    win, valid, _ = _windows(x, kernel, stride, padding, (1, 1), ceil_mode, 0.0)
    total = win.sum(axis=-1)
    divisor, inside = _avg_divisor(x.shape[2:], kernel, stride, padding, total.shape[2:],
                                   count_include_pad)
    if divisor_override is not None:
        divisor = np.full_like(divisor, divisor_override)
    safe = np.where(inside > 0, divisor, 1)
    return np.where(inside > 0, total / safe, 0.0).astype(x.dtype)


def avg_pool2d_backward(grad_out, input_shape, kernel, stride, padding=(0, 0), ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    """Each window spreads ``grad / divisor`` over its input cells (scatter-add)."""
    n, c, h, w = input_shape
    probe = np.zeros((1, 1, h, w))
    _, valid, index = _windows(probe, kernel, stride, padding, (1, 1), ceil_mode, 0.0)
    divisor, inside = _avg_divisor((h, w), kernel, stride, padding, grad_out.shape[2:],
                                   count_include_pad)
    if divisor_override is not None:
        divisor = np.full_like(divisor, divisor_override)
    share = np.where(inside > 0, grad_out / np.where(inside > 0, divisor, 1), 0.0)
    share = share.reshape(n * c, -1).astype(grad_out.dtype, copy=False)
    planes = (np.arange(n * c) * (h * w))[:, None]
    targets, values = [], []
    for tap in range(valid.shape[-1]):
        ok = valid[..., tap].reshape(-1)
        targets.append((planes + index[..., tap].reshape(-1)[ok]).reshape(-1))
        values.append(share[:, ok].reshape(-1))
    grad = _scatter_add(np.concatenate(targets), np.concatenate(values), n * c * h * w)
    return grad.reshape(input_shape)


def _adaptive_bounds(size, out):
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def adaptive_avg_pool2d(x, output_size):
    oh, ow = output_size
    hs, he = _adaptive_bounds(x.shape[2], oh)
    ws, we = _adaptive_bounds(x.shape[3], ow)
    out = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
    for r in range(oh):
        for c in range(ow):
            out[:, :, r, c] = x[:, :, hs[r]: he[r], ws[c]: we[c]].mean(axis=(2, 3))
    return out


def adaptive_extremum_pool2d(x, kind, output_size):
    """Adaptive max (``kind="max"``) or min pooling: ``(output, indices)``, int64 flat
    ``ih * W + iw`` indices; first extremum on ties, the last NaN if a window holds NaN.
    The backward is :func:`extremum_pool2d_backward` with these indices."""
    oh, ow = output_size
    hs, he = _adaptive_bounds(x.shape[2], oh)
    ws, we = _adaptive_bounds(x.shape[3], ow)
    out = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
    idx = np.empty(x.shape[:2] + (oh, ow), dtype=np.int64)
    for r in range(oh):
        for c in range(ow):
            h0, h1, w0, w1 = hs[r], he[r], ws[c], we[c]
            win = x[:, :, h0:h1, w0:w1].reshape(x.shape[:2] + (-1,))
            flat = ((np.arange(h0, h1)[:, None]) * x.shape[3] + np.arange(w0, w1)).reshape(-1)
            nan = np.isnan(win)
            score = np.where(nan, -np.inf, win if kind == "max" else -win)
            pick = np.argmax(score == score.max(axis=-1, keepdims=True), axis=-1)
            last_nan = win.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
            pick = np.where(nan.any(axis=-1), last_nan, pick)
            out[:, :, r, c] = np.take_along_axis(win, pick[..., None], axis=-1)[..., 0]
            idx[:, :, r, c] = flat[pick]
    return out, idx


def adaptive_avg_pool2d_backward(grad_out, input_shape):
    oh, ow = grad_out.shape[2:]
    hs, he = _adaptive_bounds(input_shape[2], oh)
    ws, we = _adaptive_bounds(input_shape[3], ow)
    grad = np.zeros(input_shape, dtype=grad_out.dtype)
    for r in range(oh):
        for c in range(ow):
            area = (he[r] - hs[r]) * (we[c] - ws[c])
            grad[:, :, hs[r]: he[r], ws[c]: we[c]] += grad_out[:, :, r: r + 1, c: c + 1] / area
    return grad
