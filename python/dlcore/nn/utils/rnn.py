"""Variable-length sequences for the recurrent layers, with ``torch.nn.utils.rnn``'s names,
arguments and layouts.

A :class:`PackedSequence` holds a batch of sequences of different lengths without padding:
the sequences are ranked longest first and ``data`` stacks, time step by time step, the
elements of the sequences still running at that step, so step ``t`` contributes
``batch_sizes[t]`` rows. ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` take one and advance each
sequence only over its own elements.

Every function here is differentiable: gradients flow from ``data`` back to the padded input
and from the padded output back to ``data``.

Example:
    >>> padded = dlcore.randn(5, 3, 8)                     # (L, N, H_in), zero-padded
    >>> packed = pack_padded_sequence(padded, [5, 2, 3], enforce_sorted=False)
    >>> output, (h_n, c_n) = nn.LSTM(8, 16)(packed)        # h_n at each sequence's end
    >>> padded_out, lengths = pad_packed_sequence(output)  # (5, 3, 16), [5, 2, 3]
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Iterable, List, NamedTuple, Optional, Tuple

import numpy as np

from ...tensor import _NO_GPU, ArrayLike, Tensor, _dtype_after_device, as_tensor


class _PackedFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor]
    unsorted_indices: Optional[Tensor]


class PackedSequence(_PackedFields):
    """A batch of variable-length sequences, packed (as PyTorch's).

    Fields:
        data: ``(sum(lengths), *)``, the elements of step 0 of every sequence, then of step
            1 of the sequences at least 2 long, ..., sequences ranked longest first.
        batch_sizes: int64 ``(max(lengths),)``, how many sequences run at each step
            (non-increasing).
        sorted_indices: int64 ``(N,)``, the original batch position of the sequence at each
            rank, or None when the batch came sorted.
        unsorted_indices: its inverse, the rank of each original sequence (worked out from
            ``sorted_indices`` when omitted).

    Build one with :func:`pack_padded_sequence` or :func:`pack_sequence` rather than by hand.

    As PyTorch's, ``to``, ``double``, ``float``, ``half``, ``long``, ``int``, ``cpu`` and
    ``detach`` convert ``data`` only (differentiably between float dtypes) and keep
    ``batch_sizes`` and the indices (int64) as they are; ``is_cuda`` is False.
    """

    __slots__ = ()

    def __new__(cls, data: ArrayLike, batch_sizes: ArrayLike,
                sorted_indices: Optional[ArrayLike] = None,
                unsorted_indices: Optional[ArrayLike] = None) -> PackedSequence:
        data = as_tensor(data)
        sizes = _int_array("PackedSequence", "batch_sizes", batch_sizes)
        if sizes.ndim != 1 or sizes.size == 0 or sizes.min() < 1 or np.any(np.diff(sizes) > 0):
            raise ValueError(f"PackedSequence: batch_sizes must be a non-empty 1-D sequence of "
                             f"positive, non-increasing counts, got {_show(sizes)}")
        if data.ndim < 1 or data.shape[0] != sizes.sum():
            raise ValueError(f"PackedSequence: data has shape {data.shape} but batch_sizes "
                             f"sum to {sizes.sum()}; expected ({sizes.sum()}, *)")
        order = None if sorted_indices is None else _permutation(
            "sorted_indices", sorted_indices, int(sizes[0]))
        inverse = None if unsorted_indices is None else _permutation(
            "unsorted_indices", unsorted_indices, int(sizes[0]))
        if order is not None and inverse is None:
            inverse = invert_permutation(order)
        return super().__new__(cls, data, Tensor(sizes), order, inverse)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data`` converted as :meth:`Tensor.to` converts it: ``to(dtype)``, with a device
        (``"cpu"``, ``to("cpu", dtype)``, ``to(device=...)``) accepted for ported code and any
        other device refused. The sequence itself when nothing changes, as PyTorch's."""
        dtype = _dtype_after_device("PackedSequence.to", args, dict(kwargs))
        data = self.data if dtype is None else self.data.astype(dtype)
        return self if data is self.data else self._replace(data=data)

    def double(self) -> PackedSequence:
        return self.to(np.float64)

    def float(self) -> PackedSequence:
        return self.to(np.float32)

    def half(self) -> PackedSequence:
        return self.to(np.float16)

    def long(self) -> PackedSequence:
        """``data`` as int64 (outside the graph, as :meth:`Tensor.long`)."""
        return self.to(np.int64)

    def int(self) -> PackedSequence:
        """``data`` as int32 (outside the graph, as :meth:`Tensor.int`)."""
        return self.to(np.int32)

    def cpu(self) -> PackedSequence:
        """The sequence itself: dlcore runs on the CPU."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> PackedSequence:
        raise RuntimeError(_NO_GPU)

    @property
    def is_cuda(self) -> bool:
        """Always False: dlcore runs on the CPU."""
        return False

    def detach(self) -> PackedSequence:
        """The same sequences with ``data`` cut off from the graph."""
        return self._replace(data=self.data.detach())


def invert_permutation(permutation: Optional[Tensor]) -> Optional[Tensor]:
    """The inverse of a 1-D permutation of ``0..N-1`` (None for None)."""
    if permutation is None:
        return None
    order = _int_array("invert_permutation", "permutation", permutation)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size, dtype=order.dtype)
    return Tensor(inverse)


# ------------------------------------------------------------------ packing and unpacking
def pack_padded_sequence(input: ArrayLike, lengths: ArrayLike, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch of variable-length sequences.

    Args:
        input: ``(L, N, *)``, or ``(N, L, *)`` with ``batch_first``; sequence ``i`` is
            ``input[:lengths[i], i]`` and what follows it is padding (never read).
        lengths: ``N`` ints in ``[1, L]`` (list, array or int tensor).
        batch_first: whether ``input`` is batch first.
        enforce_sorted: require ``lengths`` in decreasing order; with False the batch is
            ranked here and the ranking kept in ``sorted_indices``.

    Shape:
        ``(L, N, *)`` -> data ``(sum(lengths), *)``, batch_sizes ``(max(lengths),)``.

    Example:
        >>> packed = pack_padded_sequence(dlcore.randn(4, 2, 3), [4, 2])
        >>> packed.batch_sizes                             # [2, 2, 1, 1]
    """
    op = "pack_padded_sequence"
    x = as_tensor(input)
    layout = "(N, L, *)" if batch_first else "(L, N, *)"
    if x.ndim < 2:
        raise ValueError(f"{op}: input has shape {x.shape} but expected {layout}")
    batch_dim, time_dim = (0, 1) if batch_first else (1, 0)
    batch, steps = x.shape[batch_dim], x.shape[time_dim]
    sizes = _int_array(op, "lengths", lengths)
    if sizes.shape != (batch,):
        raise ValueError(f"{op}: lengths has shape {sizes.shape} but input of shape {x.shape} "
                         f"{layout} holds {batch} sequences; expected ({batch},)")
    if batch == 0:
        raise ValueError(f"{op}: input of shape {x.shape} holds no sequences")
    bad = np.flatnonzero((sizes < 1) | (sizes > steps))
    if bad.size:
        raise ValueError(f"{op}: every length must be in [1, {steps}] (the padded length of "
                         f"input of shape {x.shape}), got lengths {_show(sizes)} with "
                         f"{_show(sizes[bad])} at positions {_show(bad)}")
    order: Optional[np.ndarray] = None
    if enforce_sorted:
        if np.any(np.diff(sizes) > 0):
            raise ValueError(f"{op}: lengths {_show(sizes)} are not sorted in decreasing "
                             f"order; sort the batch longest first or pass "
                             f"enforce_sorted=False")
        ranked = sizes
    else:
        order = np.argsort(-sizes, kind="stable")
        ranked = sizes[order]
    # Step t runs the sequences longer than t; -ranked is ascending, so count by bisection.
    batch_sizes = np.searchsorted(-ranked, -np.arange(ranked[0]), side="left").astype(np.int64)
    times, ranks = _positions(batch_sizes)
    place = _place(times, ranks if order is None else order[ranks], batch_first)
    data = _take(x, place)
    sorted_indices = None if order is None else Tensor(order.astype(np.int64))
    return PackedSequence(data, batch_sizes, sorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: Optional[int] = None
                        ) -> Tuple[Tensor, Tensor]:
    """Unpack a :class:`PackedSequence` into a padded batch, in the original batch order
    (the inverse of :func:`pack_padded_sequence`).

    Args:
        sequence: the packed batch.
        batch_first: return ``(N, T, *)`` instead of ``(T, N, *)``.
        padding_value: the value after each sequence's end.
        total_length: pad to this many steps (at least the longest length; default the
            longest length), e.g. to match the input of a ``DataParallel``-style split.

    Returns:
        ``(padded, lengths)``: padded ``(T, N, *)`` (or batch first) and lengths int64
        ``(N,)``.
    """
    op = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{op}: sequence must be a PackedSequence, got "
                        f"{type(sequence).__name__}")
    data = sequence.data
    batch_sizes = _int_array(op, "batch_sizes", sequence.batch_sizes)
    longest, batch = batch_sizes.size, int(batch_sizes[0])
    steps = longest
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, numbers.Integral):
            raise TypeError(f"{op}: total_length must be an int or None, got "
                            f"{total_length!r}")
        if total_length < longest:
            raise ValueError(f"{op}: total_length {total_length} is less than the longest "
                             f"sequence's length {longest}")
        steps = int(total_length)
    times, ranks = _positions(batch_sizes)
    order = sequence.sorted_indices
    place = _place(times, ranks if order is None else order.data[ranks], batch_first)
    shape = ((batch, steps) if batch_first else (steps, batch)) + data.shape[1:]
    padded = _put(data, place, shape, padding_value, op)
    ranked = np.searchsorted(-batch_sizes, -np.arange(batch), side="left").astype(np.int64)
    inverse = sequence.unsorted_indices
    lengths = ranked if inverse is None else ranked[inverse.data]
    return padded, Tensor(lengths)


def pad_sequence(sequences: Iterable[ArrayLike], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences of different lengths into one padded tensor.

    Args:
        sequences: tensors ``(L_i, *)`` with the same trailing dimensions ``*``.
        batch_first: return ``(N, T, *)`` instead of ``(T, N, *)``.
        padding_value: the value of the padding.
        padding_side: ``'right'`` (pad after each sequence) or ``'left'`` (before it).

    Shape:
        ``N`` tensors ``(L_i, *)`` -> ``(T, N, *)`` with ``T = max(L_i)``; the result has
        the sequences' common (promoted) dtype.
    """
    op = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise ValueError(f"{op}: padding_side must be 'left' or 'right', got "
                         f"{padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = [sequences[i] for i in range(sequences.shape[0])] if sequences.ndim else [
            sequences]
    seqs = [as_tensor(s) for s in sequences]
    if not seqs:
        raise ValueError(f"{op}: sequences is empty; expected at least one tensor (L_i, *)")
    trailing = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim < 1 or s.shape[1:] != trailing:
            raise ValueError(f"{op}: sequences[{i}] has shape {s.shape} but sequences[0] has "
                             f"shape {seqs[0].shape}; expected (L_i, *) with * = {trailing} "
                             f"for all")
    steps = max(s.shape[0] for s in seqs)
    dtype = np.result_type(*[s.dtype for s in seqs])
    shape = ((len(seqs), steps) if batch_first else (steps, len(seqs))) + trailing
    out = _filled(shape, padding_value, dtype, op)
    places = []
    for i, s in enumerate(seqs):
        rows = (slice(0, s.shape[0]) if padding_side == "right"
                else slice(steps - s.shape[0], steps))
        place = (i, rows) if batch_first else (rows, i)
        out[place] = s.data
        places.append(place)

    def backward(g: np.ndarray) -> Tuple[np.ndarray, ...]:
        return tuple(g[place].astype(s.dtype, copy=False) for place, s in zip(places, seqs))

    return Tensor._from_op(out, tuple(seqs), backward)


def unpad_sequence(padded_sequences: ArrayLike, lengths: ArrayLike,
                   batch_first: bool = False) -> List[Tensor]:
    """The sequences of a right-padded batch, unpadded (the inverse of
    :func:`pad_sequence`).

    Shape: ``(T, N, *)`` (or ``(N, T, *)``) and ``N`` lengths -> ``N`` tensors ``(L_i, *)``.
    """
    op = "unpad_sequence"
    x = as_tensor(padded_sequences)
    if x.ndim < 2:
        raise ValueError(f"{op}: padded_sequences has shape {x.shape} but expected "
                         f"{'(N, T, *)' if batch_first else '(T, N, *)'}")
    if not batch_first:
        x = x.transpose(0, 1)
    sizes = _int_array(op, "lengths", lengths)
    if sizes.shape != (x.shape[0],) or np.any((sizes < 0) | (sizes > x.shape[1])):
        raise ValueError(f"{op}: lengths {_show(sizes)} do not fit padded_sequences of shape "
                         f"{tuple(as_tensor(padded_sequences).shape)}: expected {x.shape[0]} "
                         f"lengths in [0, {x.shape[1]}]")
    return [x[i, :int(n)] for i, n in enumerate(sizes)]


def pack_sequence(sequences: Iterable[ArrayLike], enforce_sorted: bool = True
                  ) -> PackedSequence:
    """Pack a list of sequences ``(L_i, *)`` of different lengths (each at least 1 long);
    with ``enforce_sorted`` they must come longest first."""
    seqs = [as_tensor(s) for s in sequences]
    lengths = [s.shape[0] if s.ndim else 0 for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> List[Tensor]:
    """The sequences of a :class:`PackedSequence`, unpadded, in the original batch order
    (the inverse of :func:`pack_sequence`)."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


# ------------------------------------------------------------------ helpers
Place = Tuple[np.ndarray, np.ndarray]


def _positions(batch_sizes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """For every row of packed data, its time step and the rank of its sequence."""
    starts = np.cumsum(batch_sizes) - batch_sizes
    times = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    ranks = np.arange(int(batch_sizes.sum())) - np.repeat(starts, batch_sizes)
    return times, ranks


def _place(times: np.ndarray, batch: np.ndarray, batch_first: bool) -> Place:
    return (batch, times) if batch_first else (times, batch)


def _take(x: Tensor, place: Place) -> Tensor:
    """``x[place]`` (distinct positions), its gradient scattered back into zeros."""
    shape = x.shape

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        full = np.zeros(shape, dtype=g.dtype)
        full[place] = g
        return (full,)

    return Tensor._from_op(x.data[place], (x,), backward, fresh_grads=True)


def _put(data: Tensor, place: Place, shape: Tuple[int, ...], padding_value: float,
         op: str) -> Tensor:
    """A ``shape`` tensor of ``padding_value`` with ``data`` at ``place``."""
    out = _filled(shape, padding_value, data.dtype, op)
    out[place] = data.data

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        return (g[place],)

    return Tensor._from_op(out, (data,), backward, fresh_grads=True)


def _filled(shape: Tuple[int, ...], value: Any, dtype: np.dtype, op: str) -> np.ndarray:
    """A ``shape`` array of ``value``, refusing a value the dtype would change (NaN or 2.5
    in an int tensor) rather than padding with something else."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NaN -> int warns, then we refuse
            stored = np.asarray(value).astype(dtype)
        exact = stored.ndim == 0 and (stored == value or (np.isnan(value) and np.isnan(stored)))
    except (ValueError, TypeError, OverflowError):
        exact = False
    if not exact:
        raise ValueError(f"{op}: padding_value {value!r} cannot be stored in the sequences' "
                         f"dtype {np.dtype(dtype)}")
    return np.full(shape, stored, dtype=dtype)


def _int_array(op: str, name: str, value: Any) -> np.ndarray:
    """``value`` (list, array or tensor of ints) as an int64 array."""
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.size == 0 and array.dtype.kind == "f":
        array = array.astype(np.int64)  # ``[]`` arrives as float64
    if array.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _permutation(name: str, value: Any, size: int) -> Tensor:
    order = _int_array("PackedSequence", name, value)
    if order.shape != (size,) or not np.array_equal(np.sort(order), np.arange(size)):
        raise ValueError(f"PackedSequence: {name} must be a permutation of 0..{size - 1} "
                         f"(batch_sizes[0] = {size}), got {_show(order)}")
    return Tensor(order)


def _show(array: np.ndarray) -> str:
    return np.array2string(np.asarray(array), separator=", ", threshold=24, edgeitems=6)


__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]
