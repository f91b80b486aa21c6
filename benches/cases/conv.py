"""conv2d cases (issue 3's table): forward + backward (input, weight and bias gradients),
float32 NCHW, dlcore's Tensor API against the pure-NumPy reference (im2col via
`sliding_window_view` + matmul, col2im for the input gradient) and PyTorch when installed.
The table's GFLOP/s counts the forward and both backward products."""

from __future__ import annotations

from conv_workloads import CONV_TABLE, conv_flops, conv_sides

from . import Case, Sides


def _case(label, x_shape, w_shape, padding):
    def prepare():
        dl, np_side, torch_side = conv_sides(x_shape, w_shape, padding)
        return Sides(dlcore=dl, numpy=np_side, torch=torch_side)

    return Case(f"conv2d fwd+bwd {label}", prepare, flops=conv_flops(x_shape, w_shape, padding))


def cases():
    return [_case(label, *spec) for label, spec in CONV_TABLE.items()]
