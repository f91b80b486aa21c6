"""The recurrent cells (one time step) with PyTorch's names, arguments and parameter layouts:
``RNNCell``, ``LSTMCell``, ``GRUCell``; and the argument checks and initialisation they share
with the whole-sequence layers of :mod:`dlcore.nn.recurrent`, which re-exports the cells.

Parameters are PyTorch's: ``weight_ih`` ``(G * H, H_in)``, ``weight_hh`` ``(G * H, H)``,
``bias_ih``/``bias_hh`` ``(G * H,)`` in PyTorch's gate order (LSTM ``i, f, g, o``; GRU
``r, z, n``), each from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

import numpy as np

from ..tensor import Tensor, as_tensor, check_real_dtype
from . import init
from .module import Module, Parameter
from .ops import recurrent as R


def _check_size(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _float_dtype(owner: str, dtype: Any) -> np.dtype:
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        # PyTorch's LSTM takes proj_size as its 8th positional argument; here that slot is
        # dtype, so say so rather than let NumPy fail to read 16 as a dtype.
        raise TypeError(f"{owner}: dtype must be a float dtype, got the int {dtype}; pass "
                        f"proj_size by keyword (proj_size={dtype})")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{owner}: dtype must be a float dtype, got {dtype}")
    return dtype


def _mode(owner: str, nonlinearity: str) -> str:
    if nonlinearity == "tanh":
        return "RNN_TANH"
    if nonlinearity == "relu":
        return "RNN_RELU"
    raise ValueError(f"{owner}: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or "
                     f"'relu'")


def _as_input(owner: str, value: Any, dtype: np.dtype) -> Tensor:
    t = as_tensor(value)
    check_real_dtype(t.dtype, owner, "input")
    return t if t.dtype == dtype else t.astype(dtype)


def _shape_of(value: Any) -> Tuple[int, ...]:
    return tuple(np.shape(value.data if isinstance(value, Tensor) else value))


def _reset_uniform(module: Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size)
    for param in module.parameters():
        init.uniform_(param, -bound, bound)


# ------------------------------------------------------------------ cells
class RNNCellBase(Module):
    """Parameters and checks shared by the cells: ``weight_ih`` ``(G * H, H_in)``,
    ``weight_hh`` ``(G * H, H)``, ``bias_ih`` and ``bias_hh`` ``(G * H,)``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = _check_size(owner, "input_size", input_size)
        self.hidden_size = _check_size(owner, "hidden_size", hidden_size)
        self.bias = bool(bias)
        dtype = _float_dtype(owner, dtype)
        gates = num_chunks * self.hidden_size
        self.weight_ih = Parameter(np.empty((gates, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((gates, self.hidden_size), dtype=dtype))
        if self.bias:
            self.bias_ih = Parameter(np.empty(gates, dtype=dtype))
            self.bias_hh = Parameter(np.empty(gates, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        _reset_uniform(self, self.hidden_size)

    def _weights(self) -> R.Weights:
        p = self._parameters
        return p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]

    def _batched(self, input: Any, states: Tuple[Any, ...]
                 ) -> Tuple[Tensor, List[Tensor], bool]:
        """The input as ``(N, H_in)`` and each state as ``(N, H)`` (zeros when None), and
        whether the input came unbatched."""
        owner = type(self).__name__
        dtype = self._parameters["weight_ih"].dtype
        x = _as_input(owner, input, dtype)
        if x.ndim not in (1, 2):
            raise ValueError(f"{owner}: expected input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got shape {x.shape}")
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise ValueError(f"{owner}: input has shape {_shape_of(input)} but input_size is "
                             f"{self.input_size}")
        expected = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
        out = []
        for name, state in zip(("hx", "cx"), states):
            if state is None:
                out.append(Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=dtype)))
                continue
            s = _as_input(owner, state, dtype)
            if s.shape != expected:
                raise ValueError(f"{owner}: {name} has shape {s.shape} but expected {expected} "
                                 f"for input of shape {_shape_of(input)}")
            out.append(s.unsqueeze(0) if unbatched else s)
        return x, out, unbatched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """An Elman RNN cell: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or ReLU).

    Args:
        input_size: features of each input, H_in.
        hidden_size: features of the hidden state, H.
        bias: learn ``bias_ih`` and ``bias_hh``.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        dtype: parameter dtype (float32 by default); inputs are cast to it.

    Shape:
        input ``(N, H_in)`` or ``(H_in,)``, hx ``(N, H)`` or ``(H,)`` (zeros if omitted)
        -> ``(N, H)`` or ``(H,)``.

    Example:
        >>> cell = nn.RNNCell(10, 20)
        >>> h = cell(dlcore.randn(3, 10))            # (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Any = np.float32) -> None:
        mode = _mode("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, 1, dtype)
        self.nonlinearity = nonlinearity
        self._mode = mode

    def forward(self, input: Any, hx: Optional[Any] = None) -> Tensor:
        x, (h,), unbatched = self._batched(input, (hx,))
        w_ih, w_hh, b_ih, b_hh = self._weights()
        step = R.rnn_tanh_cell if self._mode == "RNN_TANH" else R.rnn_relu_cell
        out = step(x, h, w_ih, w_hh, b_ih, b_hh)
        return out.squeeze(0) if unbatched else out


class LSTMCell(RNNCellBase):
    """A long short-term memory cell::

        i, f, g, o = σ, σ, tanh, σ of the four H-wide slices of x W_ih^T + b_ih + h W_hh^T + b_hh
        c' = f * c + i * g,   h' = o * tanh(c')

    Args:
        input_size, hidden_size, bias, dtype: as :class:`RNNCell`.

    Shape:
        input ``(N, H_in)`` or ``(H_in,)``, hx ``(h, c)`` each ``(N, H)`` or ``(H,)`` (zeros
        if omitted) -> ``(h', c')`` of the same shapes.

    Example:
        >>> cell = nn.LSTMCell(10, 20)
        >>> h, c = cell(dlcore.randn(3, 10))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, input: Any, hx: Optional[Tuple[Any, Any]] = None
                ) -> Tuple[Tensor, Tensor]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTMCell: hx must be a tuple (h_0, c_0), got "
                            f"{type(hx).__name__}")
        x, (h, c), unbatched = self._batched(input, (None, None) if hx is None else tuple(hx))
        h, c = R.lstm_cell(x, (h, c), *self._weights())
        if unbatched:
            return h.squeeze(0), c.squeeze(0)
        return h, c


class GRUCell(RNNCellBase):
    """A gated recurrent unit cell::

        r, z = σ of the first two H-wide slices of x W_ih^T + b_ih + h W_hh^T + b_hh
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),   h' = (1 - z) * n + z * h

    Args:
        input_size, hidden_size, bias, dtype: as :class:`RNNCell`.

    Shape:
        input ``(N, H_in)`` or ``(H_in,)``, hx ``(N, H)`` or ``(H,)`` (zeros if omitted)
        -> ``(N, H)`` or ``(H,)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, input: Any, hx: Optional[Any] = None) -> Tensor:
        x, (h,), unbatched = self._batched(input, (hx,))
        out = R.gru_cell(x, h, *self._weights())
        return out.squeeze(0) if unbatched else out
