"""Pure-NumPy ``unfold`` (im2col) and ``fold`` (col2im): the test oracle and the benchmark
baseline, in PyTorch's ``(N, C * KH * KW, L)`` layout.

Both loop over the ``KH * KW`` kernel offsets and move a whole strided ``(N, C, L_h, L_w)``
slice per offset, which keeps the Python loop short. Arrays are NCHW; ``kernel``,
``dilation``, ``padding`` (zeros on both sides) and ``stride`` are pairs.
"""

from __future__ import annotations

from typing import Iterator, Tuple

import numpy as np

__all__ = ["blocks", "fold", "unfold"]

Pair = Tuple[int, int]


def blocks(size: Pair, kernel: Pair, dilation: Pair, padding: Pair, stride: Pair) -> Pair:
    """Block positions per axis: ``(size + 2 * padding - dilation * (kernel - 1) - 1) //
    stride + 1``."""
    lh, lw = ((n + 2 * p - d * (k - 1) - 1) // s + 1
              for n, k, d, p, s in zip(size, kernel, dilation, padding, stride))
    return lh, lw


def _offsets(kernel: Pair, dilation: Pair, stride: Pair,
             positions: Pair) -> Iterator[Tuple[int, int, slice, slice]]:
    """For each kernel offset ``(i, j)``, the strided slices of the padded image that the
    offset's entries of all blocks read."""
    (kh, kw), (dh, dw), (sh, sw) = kernel, dilation, stride
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (positions[0] - 1) + 1, sh)
        for j in range(kw):
            yield i, j, rows, slice(j * dw, j * dw + sw * (positions[1] - 1) + 1, sw)


def unfold(x: np.ndarray, kernel: Pair, dilation: Pair = (1, 1), padding: Pair = (0, 0),
           stride: Pair = (1, 1)) -> np.ndarray:
    """``(N, C, H, W) -> (N, C * KH * KW, L)``: row ``c * KH * KW + i * KW + j``, column
    ``h * L_w + w``."""
    n, c = x.shape[:2]
    (ph, pw), (kh, kw) = padding, kernel
    positions = blocks(x.shape[2:], kernel, dilation, padding, stride)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((n, c, kh, kw) + positions, dtype=x.dtype)
    for i, j, rows, columns in _offsets(kernel, dilation, stride, positions):
        cols[:, :, i, j] = padded[:, :, rows, columns]
    return cols.reshape(n, c * kh * kw, positions[0] * positions[1])


def fold(cols: np.ndarray, output_size: Pair, kernel: Pair, dilation: Pair = (1, 1),
         padding: Pair = (0, 0), stride: Pair = (1, 1)) -> np.ndarray:
    """``(N, C * KH * KW, L) -> (N, C, H, W)`` with ``(H, W) = output_size``, overlapping
    entries summed."""
    n = cols.shape[0]
    (h, w), (ph, pw), (kh, kw) = output_size, padding, kernel
    c = cols.shape[1] // (kh * kw)
    positions = blocks(output_size, kernel, dilation, padding, stride)
    split = cols.reshape((n, c, kh, kw) + positions)
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i, j, rows, columns in _offsets(kernel, dilation, stride, positions):
        # One offset's slice touches each padded cell at most once, so += is exact.
        padded[:, :, rows, columns] += split[:, :, i, j]
    return padded[:, :, ph:ph + h, pw:pw + w]
