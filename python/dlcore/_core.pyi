"""Type stubs for the Rust extension ``dlcore._core``.

Arrays are NumPy arrays of float32 or float64 (one dtype per call); outputs are new arrays
unless ``out`` is given. Shape and value errors raise ValueError, dtype errors TypeError.
"""

from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.int64]

# threads and CPU
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def simd_level() -> str: ...

# matmul
def matmul(
    a: FloatArray, b: FloatArray, out: Optional[FloatArray] = None, accumulate: bool = False
) -> FloatArray: ...

# the linear layer: x (n, in) @ weight (out, in).T + bias, and its three gradients (each
# None unless asked for)
def linear_forward(
    x: FloatArray, weight: FloatArray, bias: Optional[FloatArray] = None
) -> FloatArray: ...
def linear_backward(
    grad: FloatArray,
    x: FloatArray,
    weight: FloatArray,
    need_x: bool = True,
    need_weight: bool = True,
    need_bias: bool = True,
) -> Tuple[Optional[FloatArray], Optional[FloatArray], Optional[FloatArray]]: ...

# memory: whether glibc's malloc thresholds were raised at import
def malloc_tuning() -> Dict[str, Any]: ...

# elementwise activations
def activation_forward(
    name: str,
    x: FloatArray,
    out: Optional[FloatArray] = None,
    param: float = 0.0,
    param2: float = 0.0,
) -> FloatArray: ...
def activation_backward(
    name: str,
    x: FloatArray,
    y: FloatArray,
    grad: FloatArray,
    out: Optional[FloatArray] = None,
    param: float = 0.0,
    param2: float = 0.0,
) -> FloatArray: ...

# softmax and cross-entropy (2-D, C-contiguous rows)
def log_softmax(x: FloatArray, out: Optional[FloatArray] = None) -> FloatArray: ...
def softmax_rows(x: FloatArray, out: Optional[FloatArray] = None) -> FloatArray: ...
def cross_entropy_forward(
    logits: FloatArray, labels: IntArray, ignore_index: Optional[int] = None
) -> Tuple[FloatArray, FloatArray]: ...
def bce_with_logits(logits: FloatArray, target: FloatArray) -> FloatArray: ...
def bce_with_logits_backward(
    logits: FloatArray, target: FloatArray, grad: Union[float, FloatArray]
) -> FloatArray: ...
def cross_entropy_backward(
    log_probs: FloatArray, labels: IntArray, grad: FloatArray, ignore_index: Optional[int] = None
) -> FloatArray: ...

# conv2d (C-contiguous NCHW; padding is zeros, (top, bottom, left, right), default none;
# stride and dilation default to (1, 1))
def conv2d_forward(
    input: FloatArray,
    weight: FloatArray,
    bias: Optional[FloatArray] = None,
    stride: Tuple[int, int] = ...,
    padding: Tuple[int, int, int, int] = ...,
    dilation: Tuple[int, int] = ...,
    groups: int = 1,
) -> FloatArray: ...
def conv2d_backward(
    input: FloatArray,
    weight: FloatArray,
    grad_output: FloatArray,
    stride: Tuple[int, int] = ...,
    padding: Tuple[int, int, int, int] = ...,
    dilation: Tuple[int, int] = ...,
    groups: int = 1,
    input_grad: bool = True,
    weight_grad: bool = True,
    bias_grad: bool = True,
) -> Tuple[Optional[FloatArray], Optional[FloatArray], Optional[FloatArray]]: ...

# padding of the last two axes; mode: "constant", "reflect", "replicate", "circular"
def pad2d(
    input: FloatArray, pad: Tuple[int, int, int, int], mode: str = "constant", value: float = 0.0
) -> FloatArray: ...
def pad2d_backward(
    grad_output: FloatArray, pad: Tuple[int, int, int, int], mode: str = "constant"
) -> FloatArray: ...

# unfold (im2col) and fold (col2im, its adjoint), C-contiguous, PyTorch's layout:
# (N, C, H, W) <-> (N, C * KH * KW, L); padding is zeros on both sides, (rows, columns)
def unfold2d(
    input: FloatArray,
    kernel_size: Tuple[int, int],
    dilation: Tuple[int, int] = ...,
    padding: Tuple[int, int] = ...,
    stride: Tuple[int, int] = ...,
) -> FloatArray: ...
def fold2d(
    input: FloatArray,
    output_size: Tuple[int, int],
    kernel_size: Tuple[int, int],
    dilation: Tuple[int, int] = ...,
    padding: Tuple[int, int] = ...,
    stride: Tuple[int, int] = ...,
) -> FloatArray: ...

# pooling (C-contiguous NCHW); kind is "max" or "min"; indices are int32 flat h * W + w;
# padding defaults to (0, 0), dilation to (1, 1)
def extremum_pool2d(
    input: FloatArray,
    kind: str,
    kernel_size: Tuple[int, int],
    stride: Tuple[int, int],
    padding: Tuple[int, int] = ...,
    dilation: Tuple[int, int] = ...,
    ceil_mode: bool = False,
    with_indices: bool = True,
    compact: bool = False,
) -> Tuple[FloatArray, Optional[npt.NDArray[np.int32] | npt.NDArray[np.uint8]]]: ...
def extremum_pool2d_backward(
    grad_output: FloatArray,
    indices: npt.NDArray[np.integer],
    input_shape: Tuple[int, int, int, int],
    kind: str,
    kernel_size: Tuple[int, int],
    stride: Tuple[int, int],
    padding: Tuple[int, int] = ...,
    dilation: Tuple[int, int] = ...,
    ceil_mode: bool = False,
) -> FloatArray: ...
def avg_pool2d(
    input: FloatArray,
    kernel_size: Tuple[int, int],
    stride: Tuple[int, int],
    padding: Tuple[int, int] = ...,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> FloatArray: ...
def avg_pool2d_backward(
    grad_output: FloatArray,
    input_shape: Tuple[int, int, int, int],
    kernel_size: Tuple[int, int],
    stride: Tuple[int, int],
    padding: Tuple[int, int] = ...,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> FloatArray: ...
def adaptive_avg_pool2d(input: FloatArray, output_size: Tuple[int, int]) -> FloatArray: ...
def adaptive_avg_pool2d_backward(
    grad_output: FloatArray, input_shape: Tuple[int, int, int, int]
) -> FloatArray: ...

# adaptive max/min pooling; kind is "max" or "min"; indices are int64 flat h * W + w
def adaptive_extremum_pool2d(
    input: FloatArray, kind: str, output_size: Tuple[int, int]
) -> Tuple[FloatArray, npt.NDArray[np.int64]]: ...
def adaptive_extremum_pool2d_backward(
    grad_output: FloatArray,
    indices: npt.NDArray[np.integer],
    input_shape: Tuple[int, int, int, int],
    kind: str,
) -> FloatArray: ...

# fused recurrent cells (C-contiguous 2-D arrays of one float dtype); gates side by side in
# PyTorch's order: LSTM i, f, g, o in (N, 4H); GRU r, z, n in (N, 3H)
def lstm_cell(gates: FloatArray, c_prev: FloatArray) -> Tuple[FloatArray, FloatArray]: ...
def lstm_cell_backward(
    act: FloatArray, c_prev: FloatArray, c: FloatArray, grad: FloatArray
) -> Tuple[FloatArray, FloatArray]: ...
def gru_cell(
    gx: FloatArray, gh: FloatArray, h_prev: FloatArray
) -> Tuple[FloatArray, FloatArray]: ...
def gru_cell_backward(
    saved: FloatArray, gh: FloatArray, h_prev: FloatArray, grad: FloatArray
) -> Tuple[FloatArray, FloatArray, FloatArray]: ...

# fused optimizer steps over a parameter group, in place: list index i of params, grads and
# every state list belongs to parameter i; ``steps`` (int64, one count per parameter) is
# incremented by the call, and the update uses the new count. Momentum / amsgrad / centered
# buffers may be None when those options are off. NAdam's ``mu_products`` (float64, one running
# product per parameter, 1.0 before its first step) are updated in place likewise.
def sgd_step(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    momentum_buffers: Optional[Sequence[FloatArray]],
    steps: IntArray,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> None: ...
def adagrad_step(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    state_sums: Sequence[FloatArray],
    steps: IntArray,
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> None: ...
def adadelta_step(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    square_avgs: Sequence[FloatArray],
    acc_deltas: Sequence[FloatArray],
    steps: IntArray,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None: ...
def rmsprop_step(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    square_avgs: Sequence[FloatArray],
    momentum_buffers: Optional[Sequence[FloatArray]],
    grad_avgs: Optional[Sequence[FloatArray]],
    steps: IntArray,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> None: ...
def adam_step(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    exp_avgs: Sequence[FloatArray],
    exp_avg_sqs: Sequence[FloatArray],
    max_exp_avg_sqs: Optional[Sequence[FloatArray]],
    steps: IntArray,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None: ...
def adamax_step(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    exp_avgs: Sequence[FloatArray],
    exp_infs: Sequence[FloatArray],
    steps: IntArray,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None: ...
def nadam_step(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    exp_avgs: Sequence[FloatArray],
    exp_avg_sqs: Sequence[FloatArray],
    mu_products: npt.NDArray[np.float64],
    steps: IntArray,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None: ...
def radam_step(
    params: Sequence[FloatArray],
    grads: Sequence[FloatArray],
    exp_avgs: Sequence[FloatArray],
    exp_avg_sqs: Sequence[FloatArray],
    steps: IntArray,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None: ...

# batch normalisation: x (N, C, *) C-contiguous; per-channel vectors (C,) of x's dtype
def batch_norm_stats(x: FloatArray) -> Tuple[FloatArray, FloatArray]: ...
def batch_norm_forward(
    x: FloatArray,
    mean: FloatArray,
    inv_std: FloatArray,
    weight: Optional[FloatArray] = None,
    bias: Optional[FloatArray] = None,
) -> FloatArray: ...
def batch_norm_backward(
    x: FloatArray,
    grad: FloatArray,
    mean: FloatArray,
    inv_std: FloatArray,
    weight: Optional[FloatArray] = None,
    batch_stats: bool = True,
) -> Tuple[FloatArray, FloatArray, FloatArray]: ...

# dropout: mask = hash(seed, index // group) >= p, kept values scaled by 1/(1-p)
def dropout(
    x: FloatArray, p: float, seed: int, group: int = 1, out: Optional[FloatArray] = None
) -> FloatArray: ...
