"""In-place updates of tensors: ``p.add_(p.grad, alpha=-lr)``, ``w.fill_(0)``, ``x[mask] = 0``,
``p -= lr * p.grad``. ``Tensor``'s methods of those names call these.

They write into ``x.data``, and two rules keep gradients right, as in PyTorch:

- A tensor that requires grad changes in place only under ``dlcore.no_grad()`` (a manual
  optimizer step, an initialisation). With grad mode on the methods raise; the operators
  (``x -= v``) write in place only under ``no_grad`` and otherwise build a new tensor, as
  ``x = x - v`` would.
- Batches that a ``DataLoader`` slices out of a ``TensorDataset`` view the dataset's arrays
  and are read-only: an in-place method on one raises instead of changing the dataset.
- Every write is stamped with the op counter, and ``backward`` refuses to go through an op
  whose input or output was written after the op recorded it: the values it saved for its
  derivative are gone, and the gradient would be silently wrong. PyTorch checks only the
  tensors an op saved; dlcore does not track which those are, so it checks all of them.
  Nor does it track storage: a write through a view (``y = x[0]; y += 1``) changes ``x``
  too, as in NumPy and PyTorch, but only ``y`` is stamped.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import numpy as np

from . import tensor as _tensor
from ._grad_mode import _state as _grad_state
from .random import default_generator
from .tensor import ArrayLike, Tensor, _raw


def mark_written(x: Tensor) -> None:
    """Stamp ``x`` as changed now: ops recorded before this may no longer differentiate it."""
    x._stamp = next(_tensor._op_sequence)
    _tensor._in_place_log.any = True


def mark_all_written(tensors: Iterable[Tensor]) -> None:
    """Stamp each of ``tensors`` as changed now (one optimizer step, one state dict load)."""
    stamp = next(_tensor._op_sequence)
    for x in tensors:
        x._stamp = stamp
    _tensor._in_place_log.any = True


def _check_writable(x: Tensor, op: str) -> None:
    if not (_grad_state.enabled and x.requires_grad):
        return
    if x._backward is None:
        raise RuntimeError(
            f"{op}: in-place update of a leaf tensor that requires grad (shape {x.shape}); do "
            f"it under `with dlcore.no_grad():` (a manual optimizer step or an initialisation)"
        )
    raise RuntimeError(
        f"{op}: in-place update of a tensor that is part of the graph (shape {x.shape}, from "
        f"{x.grad_fn!r}); backward may need its values: compute a new tensor instead "
        f"(x = x + v, x.clamp(...), dlcore.where(mask, v, x))"
    )


def _write(x: Tensor, op: str, value: Any, write: Callable[[np.ndarray, Any], None]) -> Tensor:
    """``write(x.data, value)`` after the checks, with a ValueError naming the shapes if the
    value does not fit; stamps ``x``."""
    _check_writable(x, op)
    if not x.data.flags.writeable:
        raise ValueError(
            f"{op}: the tensor's array (shape {x.shape}) is read-only: a batch that views its "
            f"dataset, or a read-only NumPy array; write into a copy (x = x.clone())"
        )
    try:
        write(x.data, value)
    except (ValueError, TypeError) as err:
        # NumPy's casting refusals are TypeErrors (UFuncTypeError), shape clashes ValueErrors.
        kind = type(err) if type(err) in (ValueError, TypeError) else TypeError
        raise kind(
            f"{op}: cannot update a tensor of shape {x.shape} and dtype {x.dtype} in place with "
            f"a value of shape {np.shape(value)} and dtype {np.asarray(value).dtype} ({err})"
        ) from None
    mark_written(x)
    return x


def update(x: Tensor, symbol: str, ufunc: Any, op: Callable[[Any, Any], Tensor],
           other: ArrayLike) -> Tensor:
    """``x <symbol> other`` (``+=`` and friends). Under ``no_grad``, in place on ``x.data``
    (the manual optimizer step). While a graph is being recorded, a new tensor, as ``x = x
    <op> other`` would give: writing into ``x`` could destroy values saved for backward, or
    write through a batch into its dataset; and an error for a leaf that requires grad,
    whose update belongs under ``no_grad``. A read-only array (a batch viewing its dataset)
    also gets a new tensor."""
    if _grad_state.enabled:
        if x.requires_grad and x._backward is None:
            _check_writable(x, symbol)  # raises
        return op(x, other)
    if not x.data.flags.writeable:
        return op(x, other)
    return _write(x, symbol, _raw(other),
                  lambda data, v: ufunc(data, v, out=data, casting="same_kind"))


def _requires_grad(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


def _operand(value: ArrayLike, op: str) -> Any:
    """The raw value to write; refused if it would carry a gradient the write would drop."""
    if _grad_state.enabled and _requires_grad(value):
        raise RuntimeError(
            f"{op}: the value requires grad, and an in-place write does not record it on the "
            f"graph, so its gradient would be lost; build a new tensor (x + v, dlcore.where, "
            f"dlcore.cat) or write v.detach()"
        )
    return _raw(value)


def _scaled(other: ArrayLike, alpha: float, op: str) -> Any:
    value = _operand(other, op)
    return value if alpha == 1 else np.multiply(value, alpha)


def add_(x: Tensor, other: ArrayLike, alpha: float = 1) -> Tensor:
    """``x += alpha * other`` in place; ``other`` broadcasts to ``x.shape``."""
    return _write(x, "add_", _scaled(other, alpha, "add_"),
                  lambda d, v: np.add(d, v, out=d, casting="same_kind"))


def sub_(x: Tensor, other: ArrayLike, alpha: float = 1) -> Tensor:
    """``x -= alpha * other`` in place."""
    return _write(x, "sub_", _scaled(other, alpha, "sub_"),
                  lambda d, v: np.subtract(d, v, out=d, casting="same_kind"))


def mul_(x: Tensor, other: ArrayLike) -> Tensor:
    """``x *= other`` in place."""
    return _write(x, "mul_", _operand(other, "mul_"),
                  lambda d, v: np.multiply(d, v, out=d, casting="same_kind"))


def div_(x: Tensor, other: ArrayLike) -> Tensor:
    """``x /= other`` in place (float tensors)."""
    return _write(x, "div_", _operand(other, "div_"),
                  lambda d, v: np.true_divide(d, v, out=d, casting="same_kind"))


def clamp_(x: Tensor, min: Optional[float] = None, max: Optional[float] = None) -> Tensor:
    """Limit ``x`` to ``[min, max]`` in place."""
    if min is None and max is None:
        raise ValueError("clamp_: give at least one of min and max")
    return _write(x, "clamp_", (min, max),
                  lambda d, v: np.clip(d, v[0], v[1], out=d, casting="same_kind"))


def fill_(x: Tensor, value: ArrayLike) -> Tensor:
    """Set every element of ``x`` to the number ``value``."""
    raw = _operand(value, "fill_")
    if np.ndim(raw) != 0:
        raise ValueError(f"fill_: value must be a number, got an array of shape {np.shape(raw)}")
    return _write(x, "fill_", raw, lambda d, v: np.copyto(d, v, casting="same_kind"))


def zero_(x: Tensor) -> Tensor:
    """Set every element of ``x`` to zero."""
    return _write(x, "zero_", 0, lambda d, v: d.fill(v))


def copy_(x: Tensor, src: ArrayLike) -> Tensor:
    """Copy ``src`` (broadcast to ``x.shape``, cast within its kind) into ``x``."""
    return _write(x, "copy_", _operand(src, "copy_"),
                  lambda d, v: np.copyto(d, v, casting="same_kind"))


def _check_float(x: Tensor, op: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point tensor, got dtype {x.dtype}")


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill ``x`` with draws from N(mean, std^2), from dlcore's seeded generator."""
    _check_float(x, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    draw = default_generator().normal(mean, std, size=x.shape)
    return _write(x, "normal_", draw, lambda d, v: np.copyto(d, v, casting="same_kind"))


def uniform_(x: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill ``x`` with draws from U[a, b), from dlcore's seeded generator."""
    _check_float(x, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: needs a <= b, got a={a}, b={b}")
    draw = default_generator().uniform(a, b, size=x.shape)
    return _write(x, "uniform_", draw, lambda d, v: np.copyto(d, v, casting="same_kind"))


def setitem(x: Tensor, index: Any, value: ArrayLike) -> None:
    """``x[index] = value``, with NumPy's indexing (basic, integer-array and boolean)."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)

    def write(data: np.ndarray, v: Any) -> None:
        # NumPy's item assignment casts unsafely (1.7 into an int array is 1); refuse what
        # ``same_kind`` would, as the other in-place ops do.
        v = np.asarray(v)
        if not np.can_cast(v.dtype, data.dtype, casting="same_kind"):
            raise TypeError(f"cannot cast {v.dtype} to {data.dtype}")
        data[index] = v

    _write(x, "__setitem__", _operand(value, "__setitem__"), write)


# ----------------------------------------------------------------- elementwise, in place
# ``x.exp_()`` and friends: the out-of-place op's values (the same kernel, so the two agree
# exactly) written back into ``x.data``, under the rules above. A result of another kind than
# ``x`` holds (``exp_`` of an int tensor) is refused, as in PyTorch.
def _apply(x: Tensor, op: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    _check_writable(x, op)
    try:
        value = compute(Tensor(x.data)).data  # a leaf without grad: nothing is recorded
    except (TypeError, ValueError) as err:
        # Name the method called ("tril_: ..."), not the op that computed the values.
        message = str(err)
        if message.startswith(op[:-1] + ":"):
            raise type(err)(op + message[len(op) - 1:]) from None
        raise
    if not np.can_cast(value.dtype, x.dtype, casting="same_kind"):
        raise TypeError(
            f"{op}: the result has dtype {value.dtype}, which a tensor of dtype {x.dtype} "
            f"cannot hold in place; compute a new tensor (x = x.{op[:-1]}()) or convert first "
            f"(x = x.float())"
        )
    return _write(x, op, value, lambda d, v: np.copyto(d, v, casting="same_kind"))


def abs_(x: Tensor) -> Tensor:
    """``|x|`` in place."""
    return _apply(x, "abs_", Tensor.abs)


def neg_(x: Tensor) -> Tensor:
    """``-x`` in place."""
    return _apply(x, "neg_", Tensor.__neg__)


def exp_(x: Tensor) -> Tensor:
    """``e ** x`` in place (float tensors)."""
    return _apply(x, "exp_", Tensor.exp)


def log_(x: Tensor) -> Tensor:
    """Natural logarithm in place (float tensors)."""
    return _apply(x, "log_", Tensor.log)


def sqrt_(x: Tensor) -> Tensor:
    """Square root in place (float tensors)."""
    return _apply(x, "sqrt_", Tensor.sqrt)


def rsqrt_(x: Tensor) -> Tensor:
    """``1 / sqrt(x)`` in place (float tensors)."""
    return _apply(x, "rsqrt_", Tensor.rsqrt)


def reciprocal_(x: Tensor) -> Tensor:
    """``1 / x`` in place (float tensors)."""
    return _apply(x, "reciprocal_", Tensor.reciprocal)


def square_(x: Tensor) -> Tensor:
    """``x ** 2`` in place."""
    return _apply(x, "square_", Tensor.square)


def sin_(x: Tensor) -> Tensor:
    """Sine in place (float tensors)."""
    return _apply(x, "sin_", Tensor.sin)


def cos_(x: Tensor) -> Tensor:
    """Cosine in place (float tensors)."""
    return _apply(x, "cos_", Tensor.cos)


def log1p_(x: Tensor) -> Tensor:
    """``log(1 + x)`` in place (float tensors)."""
    return _apply(x, "log1p_", Tensor.log1p)


def expm1_(x: Tensor) -> Tensor:
    """``exp(x) - 1`` in place (float tensors)."""
    return _apply(x, "expm1_", Tensor.expm1)


def sign_(x: Tensor) -> Tensor:
    """-1, 0 or 1 by sign, in place."""
    return _apply(x, "sign_", Tensor.sign)


def floor_(x: Tensor) -> Tensor:
    """Round down in place (float tensors)."""
    return _apply(x, "floor_", Tensor.floor)


def ceil_(x: Tensor) -> Tensor:
    """Round up in place (float tensors)."""
    return _apply(x, "ceil_", Tensor.ceil)


def round_(x: Tensor, decimals: int = 0) -> Tensor:
    """Round half to even, to ``decimals`` places, in place (float tensors)."""
    return _apply(x, "round_", lambda t: t.round(decimals))


def relu_(x: Tensor) -> Tensor:
    """``max(x, 0)`` in place; integer tensors stay integers, as in PyTorch."""
    if x.dtype.kind != "f":
        return _apply(x, "relu_", lambda t: t.clamp(min=0))
    return _apply(x, "relu_", Tensor.relu)


def sigmoid_(x: Tensor) -> Tensor:
    """``1 / (1 + e ** -x)`` in place (float tensors)."""
    return _apply(x, "sigmoid_", Tensor.sigmoid)


def tanh_(x: Tensor) -> Tensor:
    """Hyperbolic tangent in place (float tensors)."""
    return _apply(x, "tanh_", Tensor.tanh)


def nan_to_num_(x: Tensor, nan: float = 0.0, posinf: Optional[float] = None,
                neginf: Optional[float] = None) -> Tensor:
    """NaN and infinities replaced in place (see ``dlcore.nan_to_num``)."""
    return _apply(x, "nan_to_num_", lambda t: t.nan_to_num(nan, posinf, neginf))


def tril_(x: Tensor, diagonal: int = 0) -> Tensor:
    """Zero the elements above the ``diagonal``-th diagonal, in place."""
    return _apply(x, "tril_", lambda t: t.tril(diagonal))


def triu_(x: Tensor, diagonal: int = 0) -> Tensor:
    """Zero the elements below the ``diagonal``-th diagonal, in place."""
    return _apply(x, "triu_", lambda t: t.triu(diagonal))


def masked_fill_(x: Tensor, mask: ArrayLike, value: float) -> Tensor:
    """``value`` written where the bool ``mask`` (broadcast to ``x``'s shape) is true."""
    raw = _operand(value, "masked_fill_")
    return _apply(x, "masked_fill_", lambda t: t.masked_fill(mask, raw))
