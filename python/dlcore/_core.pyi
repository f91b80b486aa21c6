"""Type stubs for the Rust extension ``dlcore._core``.

Arrays are NumPy arrays of float32 or float64 (one dtype per call); outputs are new arrays
unless ``out`` is given. Shape and value errors raise ValueError, dtype errors TypeError.
"""

from typing import Optional, Tuple

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

# elementwise activations
def activation_forward(
    name: str, x: FloatArray, out: Optional[FloatArray] = None, param: float = 0.0
) -> FloatArray: ...
def activation_backward(
    name: str,
    x: FloatArray,
    y: FloatArray,
    grad: FloatArray,
    out: Optional[FloatArray] = None,
    param: float = 0.0,
) -> FloatArray: ...

# softmax and cross-entropy (2-D, C-contiguous rows)
def log_softmax(x: FloatArray, out: Optional[FloatArray] = None) -> FloatArray: ...
def softmax_rows(x: FloatArray, out: Optional[FloatArray] = None) -> FloatArray: ...
def cross_entropy_forward(
    logits: FloatArray, labels: IntArray, ignore_index: Optional[int] = None
) -> Tuple[FloatArray, FloatArray]: ...
def cross_entropy_backward(
    log_probs: FloatArray, labels: IntArray, grad: FloatArray, ignore_index: Optional[int] = None
) -> FloatArray: ...
