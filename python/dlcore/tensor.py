"""``Tensor``: a NumPy array that remembers how it was computed, for reverse-mode autograd.

Every differentiable operation has one shape (as in micrograd): compute the output array,
define ``backward(g)`` that maps the gradient of the output to one gradient per input (the
chain rule, one link), and return ``Tensor._from_op(out, parents, backward)``. Calling
``loss.backward()`` walks the recorded graph in reverse topological order and adds each
input's gradient into ``.grad`` of the leaves.
"""

from __future__ import annotations

import math
from heapq import heappop, heappush
from itertools import count
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._grad_mode import _state as _grad_state

ArrayLike = Union["Tensor", np.ndarray, float, int, Sequence[Any]]
Backward = Callable[[np.ndarray], Sequence[Optional[np.ndarray]]]

# PyTorch's dtype names, as the NumPy types the arrays hold (``dlcore.float``, ``dlcore.int``
# and ``dlcore.bool``, which would shadow Python's built-ins here, are set in __init__).
float32 = np.float32
float64 = np.float64
int64 = np.int64
int32 = np.int32
int16 = np.int16
int8 = np.int8
uint8 = np.uint8
double = float64
long = int64
short = int16

_FLOAT_KINDS = "f"
_RUST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_ndarray = np.ndarray

# Numbers every recorded op in creation order. An op's inputs exist before it does, so
# visiting nodes from the highest number down is a topological order of any graph.
_op_sequence = count()


class _InPlaceLog:
    """Whether any tensor was ever written in place (``tensor_inplace.py`` stamps each write
    with ``_op_sequence``): until then backward skips the check for such writes."""

    any = False


_in_place_log = _InPlaceLog()


def check_real_dtype(dtype: np.dtype, op: str, what: str) -> None:
    """Refuse what dlcore cannot compute with: text, objects, dates and complex numbers.

    Raises TypeError naming ``op``, ``what`` and the dtype. Complex values are refused
    rather than cast, which would drop their imaginary parts without a word.
    """
    if dtype.kind == "c":
        raise TypeError(f"{op}: {what} must be real, got dtype {dtype} (dlcore has no complex "
                        f"tensors; pass .real or abs() of it)")
    if dtype.kind not in "fiub":
        raise TypeError(f"{op}: {what} must be numeric, got dtype {dtype}")


def _to_array(data: Any, dtype: Any = None, copy: bool = False) -> np.ndarray:
    """Convert ``data`` to an ndarray; Python floats and nested lists become float32."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        check_real_dtype(data.dtype, "tensor", "data")
        if dtype is not None:
            check_real_dtype(np.dtype(dtype), "tensor", "dtype")
        arr = data.astype(dtype) if dtype is not None and data.dtype != dtype else data
        return arr.copy() if copy and arr is data else arr
    arr = np.asarray(data)
    check_real_dtype(arr.dtype, "tensor", "data")
    if dtype is not None:
        check_real_dtype(np.dtype(dtype), "tensor", "dtype")
        return arr.astype(dtype)
    if arr.dtype == np.float64:
        # Python floats (and lists of them) default to float32, as in PyTorch.
        return arr.astype(np.float32)
    return arr


def _unbroadcast(grad: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes NumPy broadcasting added or stretched to reach its shape."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _normalize_axis(axis: Any, ndim: int) -> Optional[Tuple[int, ...]]:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    return tuple(out)


def _expand_reduced(g: np.ndarray, shape: Tuple[int, ...], axes: Optional[Tuple[int, ...]],
                    keepdims: bool) -> np.ndarray:
    """Reshape the gradient of a reduction so it broadcasts against the input's shape."""
    if axes is None:
        return np.broadcast_to(np.reshape(g, (1,) * len(shape)), shape)
    if not keepdims:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


class _Size(int):
    """What ``Tensor.size`` gives: the number of elements, an int as in NumPy, which called
    as in PyTorch gives the shape (``x.size()``) or one dimension's length (``x.size(0)``)."""

    _shape: Tuple[int, ...]

    def __new__(cls, shape: Tuple[int, ...]) -> _Size:
        size = super().__new__(cls, math.prod(shape))
        size._shape = shape
        return size

    def __reduce__(self) -> Tuple[Any, Tuple[Tuple[int, ...]]]:
        # Pickle and copy rebuild it from the shape (int's own reduce would pass the count).
        return (_Size, (self._shape,))

    def __call__(self, dim: Optional[int] = None) -> Any:
        if dim is None:
            return self._shape
        return self._shape[_dim_index(dim, len(self._shape), "size")]


class Tensor:
    """An n-dimensional array with an optional gradient.

    Args:
        data: array-like. NumPy arrays keep their dtype; Python floats become float32.
        requires_grad: record operations on this tensor so ``backward`` can reach it.
        dtype: optional NumPy dtype to convert to.

    Example:
        >>> x = dlcore.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x ** 2).sum().backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_retains_grad",
                 "_seq", "_fresh_grads", "_stamp", "__weakref__")
    # Make ``ndarray <op> Tensor`` defer to the Tensor's reflected operator.
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: Optional[Tensor] = None
        self._parents: Tuple[Tensor, ...] = ()
        self._backward: Optional[Backward] = None
        self._retains_grad = False
        self._stamp = -1
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ----------------------------------------------------------------- graph plumbing
    @staticmethod
    def _from_op(data: np.ndarray, parents: Tuple[Tensor, ...], backward: Backward,
                 fresh_grads: bool = False) -> Tensor:
        """Wrap an op's output; record ``backward`` only if some parent needs a gradient.

        ``fresh_grads=True`` promises that ``backward`` returns new arrays that nothing else
        references (one per parent, none of them ``g`` or a saved array): a leaf's ``.grad``
        can then take them as they are instead of a copy (Linear's weight gradients, say).
        """
        # This runs for every operation, so it avoids calls and generators.
        out = _new_tensor(Tensor)
        out.data = data
        out.grad = None
        out._retains_grad = False
        out._stamp = -1
        if _grad_state.enabled:
            for p in parents:
                if p.requires_grad:
                    out.requires_grad = True
                    out._parents = parents
                    out._backward = backward
                    out._seq = next(_op_sequence)
                    out._fresh_grads = fresh_grads
                    return out
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        return out

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (only float tensors can have gradients)."""
        if requires_grad and self.data.dtype.kind not in _FLOAT_KINDS:
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by an op that records grads."""
        return self._backward is None

    @property
    def grad_fn(self) -> Any:
        """The op that made this tensor, as recorded for backward: a node whose ``name`` is
        the op's (``MulBackward``) and whose ``next_functions`` lead to its inputs' nodes;
        None for a leaf. ``dlcore.autograd.print_graph`` draws the whole graph."""
        if self._backward is None:
            return None
        from .autograd.graph import Node

        return Node(self)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after ``backward``."""
        self._retains_grad = True

    def backward(self, gradient: Optional[ArrayLike] = None, retain_graph: bool = False) -> None:
        """Add d(self)/d(leaf) times ``gradient`` into ``.grad`` of every leaf that needs it.

        Args:
            gradient: the gradient of some scalar with respect to ``self``; may be omitted
                when ``self`` has exactly one element (it is then 1).
            retain_graph: keep the graph so ``backward`` can run through it again.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph; create the "
                "inputs with requires_grad=True (or use parameters of a Module)"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: gradient can be implied only for a one-element tensor, got "
                    f"shape {self.shape}; pass gradient= of that shape"
                )
            seed = np.ones(self.data.shape, dtype=self.data.dtype)
        else:
            seed = _to_array(gradient, self.data.dtype)
            if seed.shape != self.data.shape:
                raise ValueError(
                    f"backward: gradient has shape {seed.shape} but the tensor has shape "
                    f"{self.shape}"
                )
        _run_backward(self, seed, retain_graph)

    # ----------------------------------------------------------------- conversion
    @property
    def shape(self) -> Tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> _Size:
        """The number of elements, an int as NumPy's ``ndarray.size``; called, as PyTorch's
        ``Tensor.size``: ``x.size()`` is the shape and ``x.size(d)`` dimension ``d``'s length."""
        return _Size(self.data.shape)

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    # PyTorch's older names.
    ndimension = dim
    nelement = numel

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> Union[float, int, bool]:
        if self.data.size != 1:
            raise ValueError(f"item: tensor has {self.data.size} elements, expected exactly 1")
        return self.data.reshape(()).item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut off from the graph."""
        return Tensor(self.data)

    def clone(self) -> Tensor:
        """A copy that stays in the graph (its gradient flows back to ``self``)."""
        return Tensor._from_op(self.data.copy(), (self,), lambda g: (g,))

    def astype(self, dtype: Any) -> Tensor:
        """Convert to ``dtype``; differentiable between float dtypes. ``to("cpu")`` (what
        ported PyTorch code writes) returns the tensor itself: dlcore runs on the CPU."""
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        if dtype.kind not in _FLOAT_KINDS:
            return Tensor(self.data.astype(dtype))
        return Tensor._from_op(self.data.astype(dtype), (self,), lambda g: (g,))

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``; a device (``"cpu"``, or ``to("cpu", dtype)``, ``to(device=...)``)
        is accepted for ported PyTorch code, and any device but the CPU is refused."""
        dtype = _dtype_after_device("Tensor.to", args, kwargs)
        return self if dtype is None else self.astype(dtype)

    def cpu(self) -> Tensor:
        """The tensor itself: dlcore tensors live in main memory."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        raise RuntimeError(_NO_GPU)

    @property
    def device(self) -> str:
        """Always ``"cpu"``."""
        return "cpu"

    def bmm(self, mat2: ArrayLike) -> Tensor:
        """Batched matrix product, ``(B, N, K) @ (B, K, M) -> (B, N, M)``."""
        return _einsum.bmm(self, mat2)

    def outer(self, vec2: ArrayLike) -> Tensor:
        """Outer product of two vectors, ``(N,), (M,) -> (N, M)``."""
        return _einsum.outer(self, vec2)

    def dot(self, other: ArrayLike) -> Tensor:
        """Dot product of two vectors of the same length, ``(N,), (N,) -> ()``."""
        return _einsum.dot(self, other)

    def diagonal(self, offset: int = 0) -> Tensor:
        """A matrix's diagonal, ``offset`` above (below if negative) the main one."""
        return _einsum.diagonal(self, offset)

    def trace(self) -> Tensor:
        """The sum of a matrix's main diagonal."""
        return _einsum.trace(self)

    def unbind(self, dim: int = 0) -> Tuple[Tensor, ...]:
        """The slices along ``dim``, each without that dimension, as a tuple."""
        if self.ndim == 0:
            raise ValueError("unbind: a 0-d tensor has no dimension to unbind")
        axis = _normalize_axis(dim, self.ndim)[0]
        lead = (slice(None),) * axis
        return tuple(self[lead + (i,)] for i in range(self.shape[axis]))

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def long(self) -> Tensor:
        """As int64 (class labels); outside the graph."""
        return self.astype(np.int64)

    def int(self) -> Tensor:
        """As int32; outside the graph."""
        return self.astype(np.int32)

    def bool(self) -> Tensor:
        """Whether each element is non-zero."""
        return self.astype(np.bool_)

    # New tensors of this one's dtype (PyTorch's ``new_*``): outside the graph.
    def new_zeros(self, *size: Any) -> Tensor:
        return Tensor(np.zeros(_math._sizes(size), dtype=self.dtype))

    def new_ones(self, *size: Any) -> Tensor:
        return Tensor(np.ones(_math._sizes(size), dtype=self.dtype))

    def new_full(self, size: Any, fill_value: float) -> Tensor:
        return Tensor(np.full(_math._sizes((size,)), fill_value, dtype=self.dtype))

    def new_tensor(self, data: ArrayLike) -> Tensor:
        return Tensor(np.array(_raw(data), dtype=self.dtype))


    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous"
            )
        return bool(self.data.reshape(()).item())

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"``: a one-element tensor formats as its number; without a spec,
        any tensor formats as its ``str``."""
        if not spec:
            return str(self)
        if self.data.size != 1:
            raise TypeError(
                f"format: the spec {spec!r} needs a one-element tensor, got shape {self.shape}; "
                f"format its elements (x.numpy()) instead"
            )
        return format(self.data.reshape(()).item(), spec)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != np.float32:
            extra += f", dtype={self.data.dtype}"
        if self._backward is not None:
            extra += f", grad_fn={self.grad_fn!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    # ----------------------------------------------------------------- arithmetic
    def __add__(self, other: ArrayLike) -> Tensor:
        return add(self, other)

    def __radd__(self, other: ArrayLike) -> Tensor:
        return add(other, self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return sub(self, other)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return sub(other, self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return mul(self, other)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return mul(other, self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return div(self, other)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return div(other, self)

    def __pow__(self, other: ArrayLike) -> Tensor:
        return pow(self, other)

    def __rpow__(self, other: ArrayLike) -> Tensor:
        return pow(other, self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return matmul(other, self)

    # Method forms, as PyTorch code writes them: ``x.mul(w)``, ``x.pow(2)``, ``x.mm(w)``.
    def add(self, other: ArrayLike) -> Tensor:
        return add(self, other)

    def sub(self, other: ArrayLike) -> Tensor:
        return sub(self, other)

    def mul(self, other: ArrayLike) -> Tensor:
        return mul(self, other)

    def div(self, other: ArrayLike) -> Tensor:
        return div(self, other)

    def pow(self, exponent: ArrayLike) -> Tensor:
        return pow(self, exponent)

    def matmul(self, other: ArrayLike) -> Tensor:
        return matmul(self, other)

    def mm(self, other: ArrayLike) -> Tensor:
        return mm(self, other)

    def neg(self) -> Tensor:
        return -self

    # ----------------------------------------------------------------- in place
    # ``p -= lr * p.grad`` and ``p.add_(p.grad, alpha=-lr)`` under ``no_grad`` update ``p``
    # itself, as in PyTorch; the rules are in tensor_inplace.py.
    def __iadd__(self, other: ArrayLike) -> Tensor:
        return _inplace.update(self, "+=", np.add, add, other)

    def __isub__(self, other: ArrayLike) -> Tensor:
        return _inplace.update(self, "-=", np.subtract, sub, other)

    def __imul__(self, other: ArrayLike) -> Tensor:
        return _inplace.update(self, "*=", np.multiply, mul, other)

    def __itruediv__(self, other: ArrayLike) -> Tensor:
        return _inplace.update(self, "/=", np.true_divide, div, other)

    def __setitem__(self, index: Any, value: ArrayLike) -> None:
        _inplace.setitem(self, index, value)

    def add_(self, other: ArrayLike, alpha: float = 1) -> Tensor:
        return _inplace.add_(self, other, alpha)

    def sub_(self, other: ArrayLike, alpha: float = 1) -> Tensor:
        return _inplace.sub_(self, other, alpha)

    def mul_(self, other: ArrayLike) -> Tensor:
        return _inplace.mul_(self, other)

    def div_(self, other: ArrayLike) -> Tensor:
        return _inplace.div_(self, other)

    def clamp_(self, min: Optional[float] = None, max: Optional[float] = None) -> Tensor:
        return _inplace.clamp_(self, min, max)

    def fill_(self, value: ArrayLike) -> Tensor:
        return _inplace.fill_(self, value)

    def zero_(self) -> Tensor:
        return _inplace.zero_(self)

    def copy_(self, src: ArrayLike) -> Tensor:
        return _inplace.copy_(self, src)

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        return _inplace.normal_(self, mean, std)

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        return _inplace.uniform_(self, a, b)

    def __neg__(self) -> Tensor:
        return Tensor._from_op(-self.data, (self,), lambda g: (-g,))

    def __pos__(self) -> Tensor:
        return self

    # Comparisons give boolean tensors outside the graph, as in PyTorch.
    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor(self.data == _raw(other))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor(self.data != _raw(other))

    def __lt__(self, other: ArrayLike) -> Tensor:
        return Tensor(self.data < _raw(other))

    def __le__(self, other: ArrayLike) -> Tensor:
        return Tensor(self.data <= _raw(other))

    def __gt__(self, other: ArrayLike) -> Tensor:
        return Tensor(self.data > _raw(other))

    def __ge__(self, other: ArrayLike) -> Tensor:
        return Tensor(self.data >= _raw(other))

    # The comparisons by name, as PyTorch spells them (``pred.eq(target).sum()``).
    def eq(self, other: ArrayLike) -> Tensor:
        return self == other

    def ne(self, other: ArrayLike) -> Tensor:
        return self != other

    def lt(self, other: ArrayLike) -> Tensor:
        return self < other

    def le(self, other: ArrayLike) -> Tensor:
        return self <= other

    def gt(self, other: ArrayLike) -> Tensor:
        return self > other

    def ge(self, other: ArrayLike) -> Tensor:
        return self >= other

    # ----------------------------------------------------------------- reductions
    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Optional[bool] = None) -> Tensor:
        """Sum over ``axis`` (``dim`` is accepted as a PyTorch-style alias)."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        axes = _normalize_axis(axis, self.ndim)
        shape = self.shape
        out = self.data.sum(axis=axes, keepdims=keepdims)
        return Tensor._from_op(np.asarray(out), (self,),
                               lambda g: (_expand_reduced(g, shape, axes, keepdims),))

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: Optional[bool] = None) -> Tensor:
        """Mean over ``axis``; the gradient spreads evenly over the averaged elements."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        axes = _normalize_axis(axis, self.ndim)
        shape = self.shape
        count = self.data.size if axes is None else int(np.prod([shape[a] for a in axes]))
        out = np.asarray(self.data.mean(axis=axes, keepdims=keepdims))
        if out.dtype != self.data.dtype and self.data.dtype.kind == "f":
            out = out.astype(self.data.dtype)
        return Tensor._from_op(
            out, (self,),
            lambda g: (_expand_reduced(g, shape, axes, keepdims) / max(count, 1),))

    def var(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Optional[bool] = None, correction: int = 1,
            unbiased: Optional[bool] = None) -> Tensor:
        """Variance over ``axis``: ``sum((x - mean)**2) / (count - correction)``.

        ``correction=1`` (the default, as in PyTorch) is the unbiased sample variance; 0 is
        NumPy's ``var``. PyTorch's older ``unbiased=False`` means ``correction=0``. Built from
        differentiable ops, so its gradient is the chain rule's.
        """
        if unbiased is not None:
            correction = 1 if unbiased else 0
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        axes = _normalize_axis(axis, self.ndim)
        count = self.data.size if axes is None else math.prod(self.shape[a] for a in axes)
        if count - correction <= 0:
            raise ValueError(f"var: {count} value(s) per result leave no degrees of freedom "
                             f"with correction={correction} (input shape {self.shape})")
        centred = self - self.mean(axes, keepdims=True)
        return (centred * centred).sum(axes, keepdims=keepdims) / (count - correction)

    def std(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Optional[bool] = None, correction: int = 1,
            unbiased: Optional[bool] = None) -> Tensor:
        """Standard deviation over ``axis``: the square root of :meth:`var`."""
        return self.var(axis, keepdims, dim=dim, keepdim=keepdim, correction=correction,
                        unbiased=unbiased).sqrt()

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Optional[bool] = None) -> Tensor:
        """Maximum over ``axis``. Values only; ties share the gradient equally."""
        return _extremum(self, np.max, axis, keepdims, dim, keepdim)

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Optional[bool] = None) -> Tensor:
        """Minimum over ``axis``. Values only; ties share the gradient equally."""
        return _extremum(self, np.min, axis, keepdims, dim, keepdim)

    # PyTorch's names for the value-only reductions (its max(dim) returns indices too).
    amax = max
    amin = min

    def argmax(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: Optional[bool] = None) -> Tensor:
        """Index of the largest value along ``axis`` (of the flattened tensor when None)."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        return Tensor(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def argmin(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: Optional[bool] = None) -> Tensor:
        """Index of the smallest value along ``axis`` (of the flattened tensor when None)."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        return Tensor(np.argmin(self.data, axis=axis, keepdims=keepdims))

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        try:
            out = self.data.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {self.shape} "
                f"({self.data.size} elements) into shape {tuple(shape)}"
            ) from None
        original = self.shape
        return Tensor._from_op(out, (self,), lambda g: (g.reshape(original),))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        start = _dim_index(start_dim, self.ndim, "flatten")
        end = _dim_index(end_dim, self.ndim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                             f"for shape {self.shape}")
        shape = self.shape[:start] + (-1,) + self.shape[end + 1:]
        return self.reshape(shape)

    def permute(self, *dims: Any) -> Tensor:
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if sorted(int(d) % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of {self.ndim} dimensions")
        inverse = tuple(np.argsort([int(d) % self.ndim for d in dims]))
        return Tensor._from_op(self.data.transpose(dims), (self,),
                               lambda g: (g.transpose(inverse),))

    def transpose(self, *dims: int) -> Tensor:
        """``transpose(d0, d1)`` swaps two dimensions (PyTorch); no arguments reverses all."""
        if not dims:
            return self.permute(tuple(reversed(range(self.ndim))))
        if len(dims) != 2:
            return self.permute(*dims)
        order = list(range(self.ndim))
        a, b = (_dim_index(d, self.ndim, "transpose") for d in dims)
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def t(self) -> Tensor:
        """The transpose of a matrix (a 0-D or 1-D tensor is returned as it is)."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with at most 2 dimensions, got shape "
                             f"{self.shape}; use transpose(dim0, dim1) or permute")
        return self.transpose() if self.ndim == 2 else self

    def squeeze(self, axis: Any = None) -> Tensor:
        return self.reshape(np.squeeze(self.data, axis=axis).shape)

    def unsqueeze(self, dim: int) -> Tensor:
        return self.reshape(np.expand_dims(self.data, dim).shape)

    def __getitem__(self, index: Any) -> Tensor:
        return getitem(self, index)

    # ----------------------------------------------------------------- elementwise math
    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return Tensor._from_op(out, (self,), lambda g: (g * out,))

    def log(self) -> Tensor:
        x = self.data
        return Tensor._from_op(np.log(x), (self,), lambda g: (g / x,))

    def sqrt(self) -> Tensor:
        out = np.sqrt(self.data)
        return Tensor._from_op(out, (self,), lambda g: (g / (2 * out),))

    def abs(self) -> Tensor:
        x = self.data
        return Tensor._from_op(np.abs(x), (self,), lambda g: (g * np.sign(x),))

    def sin(self) -> Tensor:
        x = self.data
        return Tensor._from_op(np.sin(x), (self,), lambda g: (g * np.cos(x),))

    def cos(self) -> Tensor:
        x = self.data
        return Tensor._from_op(np.cos(x), (self,), lambda g: (-g * np.sin(x),))

    def clamp(self, min: Optional[float] = None, max: Optional[float] = None) -> Tensor:
        """Limit values to ``[min, max]``; the gradient passes where the input is inside."""
        if min is None and max is None:
            raise ValueError("clamp: give at least one of min and max")
        x = self.data
        out = np.clip(x, min, max)
        if out.dtype != x.dtype:
            out = out.astype(x.dtype)

        def backward(g: np.ndarray) -> Tuple[np.ndarray]:
            inside = np.ones(x.shape, dtype=bool)
            if min is not None:
                inside &= x >= min
            if max is not None:
                inside &= x <= max
            return (g * inside,)

        return Tensor._from_op(out, (self,), backward)

    clip = clamp

    def square(self) -> Tensor:
        return _math.square(self)

    def log1p(self) -> Tensor:
        return _math.log1p(self)

    def expm1(self) -> Tensor:
        return _math.expm1(self)

    def sign(self) -> Tensor:
        return _math.sign(self)

    def floor(self) -> Tensor:
        return _math.floor(self)

    def ceil(self) -> Tensor:
        return _math.ceil(self)

    def round(self, decimals: int = 0) -> Tensor:
        return _math.round(self, decimals)

    def maximum(self, other: ArrayLike) -> Tensor:
        return _math.maximum(self, other)

    def minimum(self, other: ArrayLike) -> Tensor:
        return _math.minimum(self, other)

    def logsumexp(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _math.logsumexp(self, dim, keepdim)

    def prod(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _math.prod(self, dim, keepdim)

    def norm(self, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _math.norm(self, p, dim, keepdim)

    def cumsum(self, dim: int) -> Tensor:
        return _math.cumsum(self, dim)

    def sort(self, dim: int = -1, descending: bool = False) -> Tuple[Tensor, Tensor]:
        return _math.sort(self, dim, descending)

    def argsort(self, dim: int = -1, descending: bool = False) -> Tensor:
        return _math.argsort(self, dim, descending)

    def topk(self, k: int, dim: int = -1, largest: bool = True,
             sorted: bool = True) -> Tuple[Tensor, Tensor]:
        return _math.topk(self, k, dim, largest, sorted)

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _math.all(self, dim, keepdim)

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _math.any(self, dim, keepdim)

    def expand(self, *sizes: Any) -> Tensor:
        return _math.expand(self, *sizes)

    # The ``*_as`` forms take the shape (or dtype) of another tensor or array.
    def view_as(self, other: ArrayLike) -> Tensor:
        return self.reshape(np.shape(_raw(other)))

    reshape_as = view_as

    def expand_as(self, other: ArrayLike) -> Tensor:
        return self.expand(*np.shape(_raw(other)))

    def type_as(self, other: ArrayLike) -> Tensor:
        return self.astype(np.asarray(_raw(other)).dtype)

    def repeat(self, *repeats: Any) -> Tensor:
        return _math.repeat(self, *repeats)

    def flip(self, dims: Any) -> Tensor:
        return _math.flip(self, dims)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> Tuple[Tensor, ...]:
        return _math.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> Tuple[Tensor, ...]:
        return _math.chunk(self, chunks, dim)

    def contiguous(self) -> Tensor:
        """The tensor with its elements in C order: itself if they already are, else a copy
        (the gradient passes through). Ported code calls it before ``view``; dlcore's
        ``view`` copies when it has to, so it is never needed for that."""
        if self.data.flags.c_contiguous:
            return self
        return Tensor._from_op(np.ascontiguousarray(self.data), (self,), lambda g: (g,))

    # NaN and infinity tests give boolean tensors outside the graph, as comparisons do.
    def isnan(self) -> Tensor:
        return Tensor(np.isnan(self.data))

    def isinf(self) -> Tensor:
        return Tensor(np.isinf(self.data))

    def isfinite(self) -> Tensor:
        return Tensor(np.isfinite(self.data))

    def masked_fill(self, mask: ArrayLike, value: float) -> Tensor:
        return _math.masked_fill(self, mask, value)

    def gather(self, dim: int, index: ArrayLike) -> Tensor:
        return _math.gather(self, dim, index)

    # More of PyTorch's ops (tensor_extra.py, tensor_index.py).
    def tril(self, diagonal: int = 0) -> Tensor:
        return _extra.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return _extra.triu(self, diagonal)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        return _extra.roll(self, shifts, dims)

    def cumprod(self, dim: int) -> Tensor:
        return _extra.cumprod(self, dim)

    def rsqrt(self) -> Tensor:
        return _extra.rsqrt(self)

    def reciprocal(self) -> Tensor:
        return _extra.reciprocal(self)

    def nan_to_num(self, nan: float = 0.0, posinf: Optional[float] = None,
                   neginf: Optional[float] = None) -> Tensor:
        return _extra.nan_to_num(self, nan, posinf, neginf)

    def lerp(self, end: ArrayLike, weight: Any) -> Tensor:
        return _extra.lerp(self, end, weight)

    def addmm(self, mat1: ArrayLike, mat2: ArrayLike, beta: float = 1,
              alpha: float = 1) -> Tensor:
        return _extra.addmm(self, mat1, mat2, beta, alpha)

    def index_select(self, dim: int, index: ArrayLike) -> Tensor:
        return _index.index_select(self, dim, index)

    def masked_select(self, mask: ArrayLike) -> Tensor:
        return _index.masked_select(self, mask)

    def scatter(self, dim: int, index: ArrayLike, src: Any = None, *,
                value: Optional[float] = None) -> Tensor:
        return _index.scatter(self, dim, index, src, value=value)

    def scatter_add(self, dim: int, index: ArrayLike, src: ArrayLike) -> Tensor:
        return _index.scatter_add(self, dim, index, src)

    # Elementwise ops in place (tensor_inplace.py): the same rules as add_ and clamp_.
    def abs_(self) -> Tensor:
        return _inplace.abs_(self)

    def neg_(self) -> Tensor:
        return _inplace.neg_(self)

    def exp_(self) -> Tensor:
        return _inplace.exp_(self)

    def log_(self) -> Tensor:
        return _inplace.log_(self)

    def sqrt_(self) -> Tensor:
        return _inplace.sqrt_(self)

    def rsqrt_(self) -> Tensor:
        return _inplace.rsqrt_(self)

    def reciprocal_(self) -> Tensor:
        return _inplace.reciprocal_(self)

    def square_(self) -> Tensor:
        return _inplace.square_(self)

    def sin_(self) -> Tensor:
        return _inplace.sin_(self)

    def cos_(self) -> Tensor:
        return _inplace.cos_(self)

    def log1p_(self) -> Tensor:
        return _inplace.log1p_(self)

    def expm1_(self) -> Tensor:
        return _inplace.expm1_(self)

    def sign_(self) -> Tensor:
        return _inplace.sign_(self)

    def floor_(self) -> Tensor:
        return _inplace.floor_(self)

    def ceil_(self) -> Tensor:
        return _inplace.ceil_(self)

    def round_(self, decimals: int = 0) -> Tensor:
        return _inplace.round_(self, decimals)

    def relu_(self) -> Tensor:
        return _inplace.relu_(self)

    def sigmoid_(self) -> Tensor:
        return _inplace.sigmoid_(self)

    def tanh_(self) -> Tensor:
        return _inplace.tanh_(self)

    def nan_to_num_(self, nan: float = 0.0, posinf: Optional[float] = None,
                    neginf: Optional[float] = None) -> Tensor:
        return _inplace.nan_to_num_(self, nan, posinf, neginf)

    def tril_(self, diagonal: int = 0) -> Tensor:
        return _inplace.tril_(self, diagonal)

    def triu_(self, diagonal: int = 0) -> Tensor:
        return _inplace.triu_(self, diagonal)

    def masked_fill_(self, mask: ArrayLike, value: float) -> Tensor:
        return _inplace.masked_fill_(self, mask, value)

    def relu(self) -> Tensor:
        return _activation(self, "relu")

    def sigmoid(self) -> Tensor:
        return _activation(self, "sigmoid")

    def tanh(self) -> Tensor:
        return _activation(self, "tanh")

    def softmax(self, dim: int = -1) -> Tensor:
        return softmax(self, dim)

    def log_softmax(self, dim: int = -1) -> Tensor:
        return log_softmax(self, dim)


# --------------------------------------------------------------------- the backward pass
def _accumulate_leaf(leaf: Tensor, grad: np.ndarray, owned: bool = False) -> None:
    """Add ``grad`` into ``leaf.grad``; ``owned`` says no one else holds ``grad``."""
    if leaf.grad is None:
        if not owned or grad.dtype != leaf.data.dtype:
            # The op may hand the same array to several parents: own a private copy.
            grad = np.array(grad, dtype=leaf.data.dtype, copy=True)
        leaf.grad = _wrap(grad)
    else:
        leaf.grad.data = leaf.grad.data + grad


def _wrap(array: np.ndarray) -> Tensor:
    """A leaf tensor around ``array`` (what ``Tensor(array)`` gives, without its checks)."""
    t = _new_tensor(Tensor)
    t.data = array
    t.grad = None
    t.requires_grad = False
    t._parents = ()
    t._backward = None
    t._retains_grad = False
    t._stamp = -1
    return t


def _run_backward(root: Tensor, seed: np.ndarray, retain_graph: bool) -> None:
    """Propagate ``seed`` from ``root`` to every leaf that requires grad.

    Nodes are visited from the most recently created down (a max-heap on ``_seq``): every
    op that consumes a node was created after it, so by the time a node is popped all of the
    gradient flowing into it has been summed. Leaves are accumulated at the end, once each,
    so a backward pass that fails half-way leaves every ``.grad`` untouched.
    """
    if root._backward is None:
        _accumulate_leaf(root, seed)
        return
    grads = {id(root): seed}
    pending, received = grads.pop, grads.get
    heap = [(-root._seq, root)]
    leaves = []
    owned = set()  # leaves whose pending gradient no one else references
    summed = set()  # nodes whose pending gradient this pass allocated: it may add in place
    while heap:
        node = heappop(heap)[1]
        if _in_place_log.any:
            _check_not_written(node)
        grad = pending(id(node))
        if node._retains_grad:
            _accumulate_leaf(node, grad)
        parents = node._parents
        fresh = node._fresh_grads
        parent_grads = node._backward(grad)
        if not retain_graph:
            # Free the saved arrays now; a second backward through this graph is an error.
            node._backward = _graph_freed
            node._parents = ()
        i = -1
        for pgrad in parent_grads:  # (indexing beats zip for the usual one to three parents)
            i += 1
            if pgrad is None:
                continue
            try:
                parent = parents[i]
            except IndexError:  # more gradients than parents: ignored, as zip would
                break
            if not parent.requires_grad:
                continue
            data = parent.data
            key = id(parent)
            previous = received(key)
            if type(pgrad) is _SliceGrad:
                if key in summed:
                    buffer = previous
                elif previous is None:
                    buffer = np.zeros(data.shape, dtype=data.dtype)
                else:
                    buffer = np.array(previous, dtype=data.dtype)
                pgrad.add_into(buffer)
                grads[key] = buffer
                summed.add(key)
                owned.add(key)
                if previous is not None:
                    continue
            else:
                if type(pgrad) is not _ndarray:
                    pgrad = np.asarray(pgrad)
                if pgrad.shape != data.shape:
                    pgrad = _unbroadcast(pgrad, data.shape)
                if pgrad.dtype != data.dtype:
                    pgrad = pgrad.astype(data.dtype)
                if previous is not None:
                    if key in summed:
                        previous += pgrad
                    else:
                        grads[key] = previous + pgrad
                        summed.add(key)
                        owned.add(key)
                    continue
                grads[key] = pgrad
            if parent._backward is None:
                leaves.append(parent)
                if fresh:
                    owned.add(key)
            else:
                heappush(heap, (-parent._seq, parent))
    for leaf in leaves:
        key = id(leaf)
        _accumulate_leaf(leaf, grads[key], key in owned)


def _check_not_written(node: Tensor) -> None:
    """Refuse to differentiate an op whose input or output was written in place after the op
    was recorded: the values it saved for its derivative may be gone."""
    seq = node._seq
    for t in (node, *node._parents):
        if t._stamp > seq:
            raise RuntimeError(
                f"backward: a tensor of shape {t.shape} that {node.grad_fn!r} used was changed "
                f"in place after that op was recorded (by an optimizer step, load_state_dict, "
                f"nn.init or an in-place op such as add_), so the values saved for its gradient "
                f"may be gone; run backward before the change, or change a copy (x.clone())"
            )


def _graph_freed(g: np.ndarray) -> Sequence[Optional[np.ndarray]]:
    raise RuntimeError(
        "backward: this graph was already used by a backward pass and freed; pass "
        "retain_graph=True to the first backward call to run through it twice"
    )


# --------------------------------------------------------------------- helpers
_new_tensor = object.__new__


def _raw(x: Any) -> Any:
    """The NumPy value of a Tensor, or ``x`` itself (scalars stay weakly typed)."""
    return x.data if isinstance(x, Tensor) else x


def as_tensor(x: ArrayLike, dtype: Any = None) -> Tensor:
    """``x`` as a Tensor without copying when it already is one (or an ndarray)."""
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)
    return Tensor(x, dtype=dtype)


_NO_GPU = ("dlcore runs on the CPU only; leave out .cuda()/.to('cuda') (tensors and models "
           "are on the CPU already)")


def _dtype_after_device(op: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    """The dtype among ``to``'s arguments (None if only a device was given), after checking
    that any device named is the CPU."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None), kwargs.pop("copy", None)
    if kwargs:
        raise TypeError(f"{op}: unexpected arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, str) and not _is_dtype_name(arg):
            device = arg
        elif dtype is None:
            dtype = arg
        else:
            raise TypeError(f"{op}: expected a dtype and/or a device, got {args!r}")
    if device is not None and str(device).split(":")[0] != "cpu":
        raise RuntimeError(f"{op}({device!r}): " + _NO_GPU)
    return dtype


def _is_dtype_name(name: str) -> bool:
    try:
        np.dtype(name)
    except TypeError:
        return False
    return True


def _dim_index(dim: Any, ndim: int, op: str) -> int:
    """``dim`` as an index in ``[0, ndim)``; negative dims count from the end."""
    if not -ndim <= dim < ndim:
        raise ValueError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return int(dim) % ndim


def _axis_args(axis: Any, keepdims: bool, dim: Any, keepdim: Optional[bool]) -> Tuple[Any, bool]:
    if dim is not None:
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, bool(keepdims)


def _extremum(x: Tensor, fn: Callable[..., Any], axis: Any, keepdims: bool, dim: Any,
              keepdim: Optional[bool]) -> Tensor:
    axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
    axes = _normalize_axis(axis, x.ndim)
    if x.data.size == 0:
        raise ValueError(f"{fn.__name__}: cannot reduce an empty tensor of shape {x.shape}")
    out = np.asarray(fn(x.data, axis=axes, keepdims=True))
    data = x.data

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        mask = data == out
        count = mask.sum(axis=axes, keepdims=True)
        g = g if keepdims else (np.reshape(g, out.shape))
        return (mask * (g / count),)

    result = out if keepdims else np.asarray(np.squeeze(out, axis=axes) if axes is not None
                                             else out.reshape(()))
    return Tensor._from_op(result, (x,), backward)


def _binary(a: ArrayLike, b: ArrayLike) -> Tuple[Any, Any, Tuple[Tensor, ...]]:
    """Raw operands and the Tensor parents among them."""
    parents = tuple(t for t in (a, b) if isinstance(t, Tensor))
    return _weak(_raw(a)), _weak(_raw(b)), parents


def _weak(x: Any) -> Any:
    """A NumPy float scalar as a Python float. NumPy 2 lets ``np.float64(2.0)`` (what
    ``np.sqrt`` or ``np.mean`` of a Python value returns) turn a float32 tensor into float64;
    PyTorch, and dlcore, treat it as the Python number it stands for."""
    return x.item() if isinstance(x, np.floating) else x


def _grads_for(a: ArrayLike, b: ArrayLike, ga: Any, gb: Any) -> Tuple[Any, ...]:
    out = []
    if isinstance(a, Tensor):
        out.append(ga() if ga is not None else None)
    if isinstance(b, Tensor):
        out.append(gb() if gb is not None else None)
    return tuple(out)


def _check_numeric(x: Any, op: str) -> None:
    """A raw operand (ndarray or Python scalar) must be real (see ``check_real_dtype``)."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fiub":  # the common case costs one test (every binary op)
            check_real_dtype(x.dtype, op, "operand")
    elif isinstance(x, (np.generic, complex)):
        check_real_dtype(np.asarray(x).dtype, op, "operand")


def _broadcast_error(op: str, a: Any, b: Any) -> ValueError:
    return ValueError(
        f"{op}: shapes {np.shape(a)} and {np.shape(b)} cannot be broadcast together"
    )


def _elementwise(op: str, fn: Callable[[Any, Any], np.ndarray], a: Any, b: Any) -> np.ndarray:
    _check_numeric(a, op)
    _check_numeric(b, op)
    try:
        return np.asarray(fn(a, b))
    except ValueError as err:
        try:
            np.broadcast_shapes(np.shape(a), np.shape(b))
        except ValueError:
            raise _broadcast_error(op, a, b) from None
        raise ValueError(f"{op}: {err}") from None


def add(a: ArrayLike, b: ArrayLike) -> Tensor:
    x, y, parents = _binary(a, b)
    out = _elementwise("add", np.add, x, y)
    return Tensor._from_op(out, parents, lambda g: _grads_for(a, b, lambda: g, lambda: g))


def sub(a: ArrayLike, b: ArrayLike) -> Tensor:
    x, y, parents = _binary(a, b)
    out = _elementwise("sub", np.subtract, x, y)
    return Tensor._from_op(out, parents, lambda g: _grads_for(a, b, lambda: g, lambda: -g))


def mul(a: ArrayLike, b: ArrayLike) -> Tensor:
    x, y, parents = _binary(a, b)
    out = _elementwise("mul", np.multiply, x, y)
    return Tensor._from_op(out, parents,
                           lambda g: _grads_for(a, b, lambda: g * y, lambda: g * x))


def div(a: ArrayLike, b: ArrayLike) -> Tensor:
    x, y, parents = _binary(a, b)
    out = _elementwise("div", np.true_divide, x, y)
    return Tensor._from_op(out, parents,
                           lambda g: _grads_for(a, b, lambda: g / y, lambda: -g * out / y))


def pow(a: ArrayLike, b: ArrayLike) -> Tensor:
    """``a ** b``; d/da = b a^(b-1), d/db = a^b ln a (taken as 0 where a <= 0)."""
    x, y, parents = _binary(a, b)
    out = _elementwise("pow", np.power, x, y)

    def backward(g: np.ndarray) -> Tuple[Any, ...]:
        def grad_base() -> np.ndarray:
            return g * y * np.power(x, y - 1)

        def grad_exponent() -> np.ndarray:
            positive = np.asarray(x) > 0
            return g * out * np.log(np.where(positive, x, 1))

        return _grads_for(a, b, grad_base, grad_exponent)

    return Tensor._from_op(out, parents, backward)


def _matmul_arrays(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """2-D float products run in dlcore's Rust GEMM; the rest in NumPy."""
    if x.ndim == 2 and y.ndim == 2 and x.dtype == y.dtype and x.dtype in _RUST_DTYPES:
        try:
            # The GEMM reads any non-negative strides in place (transposes are free) ...
            return _core.matmul(x, y)
        except ValueError:
            # ... and refuses negative or unaligned ones: give it copies (a shape error
            # raises again from here).
            return _core.matmul(np.ascontiguousarray(x), np.ascontiguousarray(y))
    return np.matmul(x, y)


def matmul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Matrix product with NumPy's ``@`` semantics (1-D operands and batch broadcasting).

    Shape: ``(..., n, k) @ (..., k, m) -> (..., n, m)``.
    """
    ta, tb = as_tensor(a), as_tensor(b)
    x, y = ta.data, tb.data
    _check_numeric(x, "matmul")
    _check_numeric(y, "matmul")
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{x.shape} and {y.shape}")
    k_left = x.shape[-1]
    k_right = y.shape[-2] if y.ndim >= 2 else y.shape[0]
    if k_left != k_right:
        raise ValueError(
            f"matmul: shapes {x.shape} and {y.shape} are not aligned: {k_left} (last dim of "
            f"the left) != {k_right} (the right's {'second-to-last' if y.ndim >= 2 else 'only'}"
            f" dim)"
        )
    if x.dtype != y.dtype and x.dtype.kind == "f" and y.dtype.kind == "f":
        common = np.promote_types(x.dtype, y.dtype)
        x, y = x.astype(common), y.astype(common)
    try:
        out = _matmul_arrays(x, y)
    except ValueError:
        raise ValueError(f"matmul: shapes {x.shape} and {y.shape} cannot be multiplied") from None

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        g2 = g
        if y.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        if x.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        gx = _matmul_arrays(g2, np.swapaxes(y2, -1, -2)) if ta.requires_grad else None
        gy = _matmul_arrays(np.swapaxes(x2, -1, -2), g2) if tb.requires_grad else None
        if gx is not None and x.ndim == 1:
            gx = _unbroadcast(gx, (1,) * (gx.ndim - 1) + x.shape).reshape(x.shape)
        if gy is not None and y.ndim == 1:
            gy = _unbroadcast(gy, (1,) * (gy.ndim - 2) + (y.shape[0], 1)).reshape(y.shape)
        return gx, gy

    return Tensor._from_op(out, (ta, tb), backward)


def mm(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Matrix product of two 2-D tensors: ``(n, k) @ (k, m) -> (n, m)``."""
    ta, tb = as_tensor(a), as_tensor(b)
    if ta.ndim != 2 or tb.ndim != 2:
        raise ValueError(f"mm: both operands must be 2-D, got shapes {ta.shape} and "
                         f"{tb.shape} (matmul takes other ranks)")
    return matmul(ta, tb)


def _is_advanced(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (list, np.ndarray, Tensor)) for i in items)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` for basic slicing and integer/boolean array indexing."""
    if isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, Tensor):
        index = index.data
    try:
        out = x.data[index]
    except IndexError as err:
        raise IndexError(f"index {index!r} is out of range for shape {x.shape}: {err}") from None
    shape, dtype = x.shape, x.dtype
    advanced = _is_advanced(index)

    def backward(g: np.ndarray) -> Tuple[_SliceGrad]:
        return (_SliceGrad(index, g, advanced, shape, dtype),)

    return Tensor._from_op(np.asarray(out), (x,), backward)


class _SliceGrad:
    """The gradient that ``x[index]`` sends back to ``x``: ``values`` at ``index``, zero
    elsewhere. The backward pass adds it into ``x``'s gradient in place rather than making a
    zero array of ``x``'s shape per slice: reading the L steps of a sequence one by one (an
    RNN) would otherwise cost O(L^2) in the backward."""

    __slots__ = ("index", "values", "advanced", "shape", "dtype")

    def __init__(self, index: Any, values: np.ndarray, advanced: bool,
                 shape: Tuple[int, ...], dtype: np.dtype) -> None:
        self.index, self.values, self.advanced = index, values, advanced
        self.shape, self.dtype = shape, dtype

    def add_into(self, target: np.ndarray) -> None:
        """``target[index] += values``, repeated indices accumulating."""
        if self.advanced:
            np.add.at(target, self.index, self.values)
        else:
            target[self.index] += self.values

    def dense(self) -> np.ndarray:
        """The gradient as an array of ``x``'s shape."""
        full = np.zeros(self.shape, dtype=self.dtype)
        self.add_into(full)
        return full


def _activation(x: Tensor, name: str, param: float = 0.0, param2: float = 0.0) -> Tensor:
    """An elementwise activation computed (forward and backward) by the Rust kernel."""
    data = x.data
    if data.dtype not in _RUST_DTYPES:
        data = data.astype(np.float32)
    try:
        out = _core.activation_forward(name, data, None, param, param2)
    except ValueError:  # the kernel takes C-contiguous arrays only
        data = np.ascontiguousarray(data)
        out = _core.activation_forward(name, data, None, param, param2)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        try:
            return (_core.activation_backward(name, data, out, g, None, param, param2),)
        except (TypeError, ValueError):  # a gradient of another dtype or layout
            g = np.ascontiguousarray(g, dtype=data.dtype)
            return (_core.activation_backward(name, data, out, g, None, param, param2),)

    # The kernel returns a new gradient array: a leaf may keep it without a copy.
    return Tensor._from_op(out, (x,), backward, True)


def _rows_view(x: np.ndarray, dim: int,
               op: str) -> Tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """``x`` as contiguous 2-D rows along ``dim``, and how to undo it."""
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have at least one dimension")
    dim = _dim_index(dim, x.ndim, op)
    moved = np.moveaxis(x, dim, -1)
    rows = np.ascontiguousarray(moved).reshape(math.prod(moved.shape[:-1]), x.shape[dim])
    moved_shape = moved.shape

    def restore(r: np.ndarray) -> np.ndarray:
        return np.moveaxis(r.reshape(moved_shape), -1, dim)

    return rows, restore


def softmax(x: ArrayLike, dim: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x), dim)``, computed stably (the maximum is subtracted first)."""
    t = as_tensor(x)
    data = t.data if t.dtype in _RUST_DTYPES else t.data.astype(np.float32)
    rows, restore = _rows_view(data, dim, "softmax")
    out = restore(_core.softmax_rows(rows))

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        return (out * (g - (g * out).sum(axis=dim, keepdims=True)),)

    return Tensor._from_op(out, (t,), backward)


def log_softmax(x: ArrayLike, dim: int = -1) -> Tensor:
    """``x - logsumexp(x, dim)``: finite even when ``softmax`` underflows to 0."""
    t = as_tensor(x)
    data = t.data if t.dtype in _RUST_DTYPES else t.data.astype(np.float32)
    rows, restore = _rows_view(data, dim, "log_softmax")
    out = restore(_core.log_softmax(rows))

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        return (g - np.exp(out) * g.sum(axis=dim, keepdims=True),)

    return Tensor._from_op(out, (t,), backward)


# --------------------------------------------------------------------- creation
def tensor(data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data`` (NumPy dtypes kept; Python floats -> float32)."""
    return Tensor(_to_array(data, dtype, copy=True), requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (changes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def _shape_args(shape: Tuple[Any, ...]) -> Tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"shape {shape} must be non-negative integers")
    return tuple(int(n) for n in shape)


def zeros(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape_args(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape_args(shape), dtype=dtype), requires_grad=requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = np.float32,
         requires_grad: bool = False) -> Tensor:
    return Tensor(np.full(_shape_args((shape,)), fill_value, dtype=dtype),
                  requires_grad=requires_grad)


def zeros_like(x: ArrayLike, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    arr = _raw(x) if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(np.zeros_like(arr, dtype=dtype), requires_grad=requires_grad)


def ones_like(x: ArrayLike, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    arr = _raw(x) if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(np.ones_like(arr, dtype=dtype), requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from dlcore's seeded generator."""
    from .random import default_generator

    data = default_generator().standard_normal(_shape_args(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from dlcore's seeded generator."""
    from .random import default_generator

    data = default_generator().random(_shape_args(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def arange(start: float, stop: Optional[float] = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    data = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is not None:
        data = data.astype(dtype)
    elif data.dtype == np.float64:
        data = data.astype(np.float32)
    return Tensor(data, requires_grad=requires_grad)


def stack(tensors: Iterable[ArrayLike], axis: int = 0, *, dim: Optional[int] = None) -> Tensor:
    """Join tensors along a new axis (``dim`` is accepted as a PyTorch-style alias)."""
    axis = axis if dim is None else dim
    ts = [as_tensor(t) for t in tensors]
    out = np.stack([t.data for t in ts], axis=axis)
    return Tensor._from_op(out, tuple(ts),
                           lambda g: tuple(np.take(g, i, axis=axis) for i in range(len(ts))))


def cat(tensors: Iterable[ArrayLike], axis: int = 0, *, dim: Optional[int] = None) -> Tensor:
    """Join tensors along an existing axis (``dim`` is accepted as a PyTorch-style alias)."""
    axis = axis if dim is None else dim
    ts = [as_tensor(t) for t in tensors]
    out = np.concatenate([t.data for t in ts], axis=axis)
    bounds = np.cumsum([t.shape[axis] for t in ts])[:-1]
    return Tensor._from_op(out, tuple(ts), lambda g: tuple(np.split(g, bounds, axis=axis)))


def where(condition: ArrayLike, a: ArrayLike, b: ArrayLike) -> Tensor:
    cond = np.asarray(_raw(condition), dtype=bool)
    x, y, parents = _binary(a, b)
    out = np.where(cond, x, y)
    return Tensor._from_op(np.asarray(out), parents, lambda g: _grads_for(
        a, b, lambda: np.where(cond, g, 0), lambda: np.where(cond, 0, g)))


# The ops in tensor_math.py, tensor_inplace.py and einsum.py use this module's helpers, so
# they are imported last; the methods above call them through these names.
from . import einsum as _einsum  # noqa: E402
from . import tensor_extra as _extra  # noqa: E402
from . import tensor_index as _index  # noqa: E402
from . import tensor_inplace as _inplace  # noqa: E402
from . import tensor_math as _math  # noqa: E402
