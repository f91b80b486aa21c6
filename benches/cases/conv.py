"""conv2d cases (issue 3's table): forward + backward (input, weight and bias gradients),
float32 NCHW, dlcore's Tensor API against the pure-NumPy reference (im2col via
`sliding_window_view` + matmul, col2im for the input gradient) and PyTorch when installed.
The table's GFLOP/s counts the forward and both backward products. conv_transpose2d cases
(a decoder's upsampling layers) are measured the same way."""

from __future__ import annotations

from conv_workloads import (
    CONV_TABLE,
    CONV_TRANSPOSE_TABLE,
    conv_flops,
    conv_sides,
    conv_transpose_flops,
    conv_transpose_sides,
)

from . import Case, Sides


def _case(label, *spec):
    def prepare():
        dl, np_side, torch_side = conv_sides(*spec)
        return Sides(dlcore=dl, numpy=np_side, torch=torch_side)

    return Case(f"conv2d fwd+bwd {label}", prepare, flops=conv_flops(*spec))


def _transpose_case(label, x_shape, w_shape, stride, padding, output_padding):
    def prepare():
        dl, np_side, torch_side = conv_transpose_sides(x_shape, w_shape, stride, padding,
                                                       output_padding)
        return Sides(dlcore=dl, numpy=np_side, torch=torch_side)

    return Case(f"conv_transpose2d fwd+bwd {label}", prepare,
                flops=conv_transpose_flops(x_shape, w_shape))


def cases():
    return ([_case(label, *spec) for label, spec in CONV_TABLE.items()]
            + [_transpose_case(label, *spec) for label, spec in CONV_TRANSPOSE_TABLE.items()])
