"""Recurrent layers with PyTorch's names, arguments, parameter layouts and results:
``RNNCell``, ``LSTMCell``, ``GRUCell`` (one time step) and ``RNN``, ``LSTM``, ``GRU`` (whole,
optionally stacked and bidirectional, sequences).

A PyTorch ``state_dict`` of the same layer loads unchanged: the parameters have PyTorch's
names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), shapes and gate order (LSTM
``i, f, g, o``; GRU ``r, z, n``). Every weight and bias starts as PyTorch's do,
``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``. ``LSTM(..., proj_size=P)`` adds PyTorch's
projection ``weight_hr_l0`` ``(P, H)`` (see :mod:`dlcore.nn.ops.recurrent_proj`).
"""

from __future__ import annotations

import warnings
from typing import Any, List, Optional, Tuple, Union

import numpy as np

from ..tensor import Tensor
from .module import Module, Parameter
from .ops import recurrent as R
from .ops.recurrent_packed import recurrent_packed
from .ops.recurrent_proj import check_proj_size

# The cells live in recurrent_cells.py; they are re-exported here so that
# ``dlcore.nn.recurrent.LSTMCell`` keeps working.
from .recurrent_cells import (
    GRUCell,
    LSTMCell,
    RNNCell,
    RNNCellBase,
    _as_input,
    _check_size,
    _float_dtype,
    _mode,
    _reset_uniform,
    _shape_of,
)
from .utils.rnn import PackedSequence

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

Output = Union[Tensor, PackedSequence]  # the type of the input

_MODES = {"RNN_TANH": "RNN", "RNN_RELU": "RNN", "LSTM": "LSTM", "GRU": "GRU"}


# ------------------------------------------------------------------ whole sequences
class RNNBase(Module):
    """What ``RNN``, ``LSTM`` and ``GRU`` share: the parameters of every layer and
    direction, the argument checks and the loop over layers.

    Parameters, for layer ``k`` (and ``_reverse`` for the backward direction):
    ``weight_ih_lk`` ``(G * H, H_in)`` for ``k = 0`` else ``(G * H, D * H_out)``,
    ``weight_hh_lk`` ``(G * H, H_out)``, ``bias_ih_lk`` and ``bias_hh_lk`` ``(G * H,)``, and
    with ``proj_size`` P > 0 (LSTM only) ``weight_hr_lk`` ``(P, H)``; G is 1 (RNN), 4 (LSTM)
    or 3 (GRU), D is 2 when bidirectional else 1, H_out is P if P > 0 else H.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = np.float32,
                 proj_size: int = 0) -> None:
        super().__init__()
        owner = _MODES[mode]
        self.mode = mode
        self.input_size = _check_size(owner, "input_size", input_size)
        self.hidden_size = _check_size(owner, "hidden_size", hidden_size)
        self.num_layers = _check_size(owner, "num_layers", num_layers)
        self.proj_size = check_proj_size(owner, mode, proj_size, self.hidden_size)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"{owner}: dropout must be a number in [0, 1] (the probability of "
                             f"zeroing an element), got {dropout!r}")
        if dropout > 0 and self.num_layers == 1:
            warnings.warn(f"{owner}: dropout={dropout} acts between layers, so with "
                          f"num_layers=1 it does nothing", UserWarning, stacklevel=3)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        dtype = _float_dtype(owner, dtype)
        gates = R.GATES[mode] * self.hidden_size
        directions = 2 if self.bidirectional else 1
        out_size = self._out_size()
        names: List[str] = []
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else directions * out_size
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes: List[Tuple[str, Tuple[int, ...]]] = [
                    ("weight_ih", (gates, layer_in)),
                    ("weight_hh", (gates, out_size))]
                if self.bias:
                    shapes += [("bias_ih", (gates,)), ("bias_hh", (gates,))]
                if self.proj_size > 0:
                    shapes.append(("weight_hr", (self.proj_size, self.hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + suffix, Parameter(np.empty(shape, dtype=dtype)))
                    names.append(name + suffix)
        self._flat_weights_names = names
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        _reset_uniform(self, self.hidden_size)

    def _out_size(self) -> int:
        """Features of the hidden state h (and of each direction's output): P or H."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    @property
    def all_weights(self) -> List[List[Tensor]]:
        """The parameters of each layer and direction, as PyTorch lists them
        (``w_ih, w_hh[, b_ih, b_hh][, w_hr]``)."""
        per = (4 if self.bias else 2) + (1 if self.proj_size > 0 else 0)
        names = self._flat_weights_names
        return [[self._parameters[n] for n in names[i:i + per]]
                for i in range(0, len(names), per)]

    def flatten_parameters(self) -> None:
        """Does nothing: PyTorch compacts the weights for cuDNN here, and on the CPU (dlcore's
        only device) it is a no-op there too. Kept so ported code that calls it runs."""

    def _weights(self) -> List[R.Weights]:
        groups = self.all_weights
        if self.bias:
            return [(g[0], g[1], g[2], g[3]) for g in groups]
        return [(g[0], g[1], None, None) for g in groups]

    def _projections(self) -> Optional[List[Tensor]]:
        """Each layer and direction's ``weight_hr`` ``(P, H)``, or None without ``proj_size``."""
        return [g[-1] for g in self.all_weights] if self.proj_size > 0 else None

    def _owner(self) -> str:
        return type(self).__name__

    def _sequence(self, input: Any) -> Tuple[Tensor, bool]:
        """The input as time-first ``(L, N, H_in)``, and whether it came unbatched."""
        owner = self._owner()
        x = _as_input(owner, input, self._parameters["weight_ih_l0"].dtype)
        layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        if x.ndim not in (2, 3):
            raise ValueError(f"{owner}: expected input of shape {layout} or unbatched "
                             f"(L, H_in), got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{owner}: input has shape {x.shape} with {x.shape[-1]} features "
                             f"in the last dimension, but input_size is {self.input_size}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[0] == 0:
            raise ValueError(f"{owner}: input of shape {_shape_of(input)} has an empty "
                             f"sequence; expected at least one time step")
        return x, unbatched

    def _state(self, name: str, value: Any, batch: int, unbatched: bool) -> Tensor:
        """An initial state as ``(D * num_layers, N, size)``, zeros when None; the size is
        ``proj_size`` for ``h_0`` of a projected LSTM, else ``hidden_size``."""
        owner = self._owner()
        dtype = self._parameters["weight_ih_l0"].dtype
        layers = (2 if self.bidirectional else 1) * self.num_layers
        size_name = "proj_size" if name == "h_0" and self.proj_size > 0 else "hidden_size"
        size = self._out_size() if name == "h_0" else self.hidden_size
        if value is None:
            return Tensor(np.zeros((layers, batch, size), dtype=dtype))
        s = _as_input(owner, value, dtype)
        expected = (layers, size) if unbatched else (layers, batch, size)
        if s.shape != expected:
            kind = "unbatched 2-D" if unbatched else "batched 3-D"
            raise ValueError(f"{owner}: {name} has shape {s.shape} but expected {expected} "
                             f"(num_layers * num_directions{'' if unbatched else ', batch'}, "
                             f"{size_name}) for {kind} input")
        return s.unsqueeze(1) if unbatched else s

    def _run(self, input: Any, hx: Any, cx: Any, mode: str
             ) -> Tuple[Output, Tensor, Optional[Tensor]]:
        if isinstance(input, PackedSequence):
            return self._run_packed(input, hx, cx, mode)
        x, unbatched = self._sequence(input)
        batch = x.shape[1]
        h0 = self._state("h_0", hx, batch, unbatched)
        c0 = self._state("c_0", cx, batch, unbatched) if mode == "LSTM" else None
        output, h_n, c_n = R.recurrent(mode, x, h0, c0, self._weights(), self.num_layers,
                                       self.bidirectional, self.dropout, self.training,
                                       self._projections())
        if unbatched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n, c_n

    def _run_packed(self, input: PackedSequence, hx: Any, cx: Any, mode: str
                    ) -> Tuple[PackedSequence, Tensor, Optional[Tensor]]:
        """``_run`` on packed sequences: states in (and out) in the original batch order,
        ranked for the loop over time; ``batch_first`` does not apply."""
        owner = self._owner()
        data = _as_input(owner, input.data, self._parameters["weight_ih_l0"].dtype)
        if data.ndim != 2 or data.shape[1] != self.input_size:
            raise ValueError(f"{owner}: packed input data has shape {data.shape} but expected "
                             f"(sum of lengths, {self.input_size}) (input_size "
                             f"{self.input_size})")
        batch_sizes = [int(size) for size in np.asarray(input.batch_sizes.data)]
        batch = batch_sizes[0]
        h0 = self._state("h_0", hx, batch, False)
        c0 = self._state("c_0", cx, batch, False) if mode == "LSTM" else None
        if input.sorted_indices is not None:
            h0 = h0.index_select(1, input.sorted_indices)
            c0 = None if c0 is None else c0.index_select(1, input.sorted_indices)
        output, h_n, c_n = recurrent_packed(mode, data, batch_sizes, h0, c0, self._weights(),
                                            self.num_layers, self.bidirectional, self.dropout,
                                            self.training, self._projections())
        if input.unsorted_indices is not None:
            h_n = h_n.index_select(1, input.unsorted_indices)
            c_n = None if c_n is None else c_n.index_select(1, input.unsorted_indices)
        return input._replace(data=output), h_n, c_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += f", bias={self.bias}"
        if self.batch_first:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """A multi-layer Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``
    (or ReLU), layer ``k > 0`` reading the outputs of layer ``k - 1``.

    Args:
        input_size: features of each input, H_in.
        hidden_size: features of the hidden state, H.
        num_layers: stacked layers.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        bias: learn ``bias_ih_l*`` and ``bias_hh_l*``.
        batch_first: input and output are ``(N, L, *)`` instead of ``(L, N, *)``
            (the hidden state stays ``(D * num_layers, N, H)``).
        dropout: probability of zeroing each output of every layer but the last, while
            training.
        bidirectional: also run each layer backwards in time; the two outputs are joined.
        dtype: parameter dtype (float32 by default); inputs are cast to it.

    Shape:
        input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``) or unbatched
        ``(L, H_in)``; h_0 ``(D * num_layers, N, H)`` or ``(D * num_layers, H)``, zeros if
        omitted -> ``(output, h_n)``: output ``(L, N, D * H)`` (batch first if asked) or
        ``(L, D * H)``, the last layer's state at every step; h_n as h_0, every layer's
        final state. D = 2 if bidirectional else 1.

        The input may also be a :class:`~dlcore.nn.utils.rnn.PackedSequence` of
        variable-length sequences (``batch_first`` does not apply to it): the output is then
        packed the same way, and h_n holds each sequence's state after its own last element
        (the backward direction starts there), in the original batch order, as PyTorch's.

    Example:
        >>> rnn = nn.RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(dlcore.randn(5, 3, 10))   # (5, 3, 20), (2, 3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float32) -> None:
        mode = _mode("RNN", nonlinearity)
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Optional[Any] = None) -> Tuple[Output, Tensor]:
        output, h_n, _ = self._run(input, hx, None, self.mode)
        return output, h_n


class LSTM(RNNBase):
    """A multi-layer long short-term memory network; each layer computes at every step::

        i, f, g, o = σ, σ, tanh, σ of the four H-wide slices of
                     x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

    and with ``proj_size`` P > 0, ``h_t = W_hr (o * tanh(c_t))``: the hidden state (fed back,
    output and passed to the next layer) has P features, the cell state keeps H.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        dtype: as :class:`RNN`.
        proj_size: P, 0 (no projection) or less than ``hidden_size``; adds the parameters
            ``weight_hr_lk`` (and ``weight_hr_lk_reverse``) ``(P, H)``, as PyTorch's.

    Shape:
        input as :class:`RNN`; hx ``(h_0, c_0)``: h_0 ``(D * num_layers, N, H_out)`` and c_0
        ``(D * num_layers, N, H)`` (without N unbatched), zeros if omitted ->
        ``(output, (h_n, c_n))``: output ``(L, N, D * H_out)`` (batch first if asked, or
        ``(L, D * H_out)`` unbatched), ``h_n`` shaped as ``h_0`` and ``c_n`` as ``c_0``.
        H_out is P if ``proj_size`` > 0 else H; D = 2 if bidirectional else 1. A
        :class:`~dlcore.nn.utils.rnn.PackedSequence` input is taken as by :class:`RNN`.

    Example:
        >>> lstm = nn.LSTM(28, 64, batch_first=True)
        >>> output, (h_n, c_n) = lstm(images)        # (N, 28, 28) -> (N, 28, 64)
        >>> logits = head(h_n[-1])
        >>> small = nn.LSTM(28, 64, proj_size=16)    # output (L, N, 16), c_n (1, N, 64)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = np.float32,
                 proj_size: int = 0) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype, proj_size)

    def forward(self, input: Any, hx: Optional[Tuple[Any, Any]] = None
                ) -> Tuple[Output, Tuple[Tensor, Tensor]]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        output, h_n, c_n = self._run(input, h0, c0, "LSTM")
        assert c_n is not None
        return output, (h_n, c_n)


class GRU(RNNBase):
    """A multi-layer gated recurrent unit network; each layer computes at every step::

        r, z = σ of the first two H-wide slices of x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
        n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn))
        h_t = (1 - z) * n + z * h_{t-1}

    Args and Shape: as :class:`RNN` (without ``nonlinearity``).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = np.float32) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)

    def forward(self, input: Any, hx: Optional[Any] = None) -> Tuple[Output, Tensor]:
        output, h_n, _ = self._run(input, hx, None, "GRU")
        return output, h_n
