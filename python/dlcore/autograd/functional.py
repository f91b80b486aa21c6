"""``grad``, ``value_and_grad`` and ``gradcheck``."""

from __future__ import annotations

from typing import Any, Callable, List, Sequence, Tuple, Union

import numpy as np

from .._grad_mode import enable_grad
from ..tensor import Tensor

ArgNums = Union[int, Sequence[int]]


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _as_float64_leaf(value: Any) -> Tensor:
    data = value.data if isinstance(value, Tensor) else np.asarray(value)
    return Tensor(np.array(data, dtype=np.float64), requires_grad=True)


def _scalar_output(out: Any, name: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: the function must return a dlcore Tensor, got "
                        f"{type(out).__name__}")
    if out.data.size != 1:
        raise ValueError(f"{name}: the function must return a single number, got shape "
                         f"{out.shape}")
    return out


def value_and_grad(f: Callable[..., Tensor], argnums: ArgNums = 0
                   ) -> Callable[..., Tuple[Any, Any]]:
    """Like :func:`grad`, but the returned function gives ``(f(*args), gradient)``."""
    single = isinstance(argnums, int)
    nums: Tuple[int, ...] = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    def wrapped(*args: Any) -> Tuple[Any, Any]:
        for n in nums:
            if not -len(args) <= n < len(args):
                raise ValueError(f"grad: argnums {n} is out of range for {len(args)} arguments")
        args_list: List[Any] = list(args)
        leaves = {}
        for n in nums:
            leaf = _as_float64_leaf(args[n])
            leaves[n] = leaf
            args_list[n] = leaf
        with enable_grad():
            out = _scalar_output(f(*args_list), "grad")
        if not out.requires_grad:
            raise RuntimeError(
                "grad: the function's result has no graph back to its inputs: it does not "
                "depend on them through dlcore operations. A constant's derivative is 0; a "
                "derivative of a derivative (grad(grad(f))) is not supported, because "
                "dlcore's backward passes compute in NumPy and are not themselves recorded")
        out.backward()
        grads = []
        for n in nums:
            g = leaves[n].grad
            g_data = np.zeros_like(leaves[n].data) if g is None else g.data
            original = args[n]
            if isinstance(original, (int, float, np.floating, np.integer)):
                grads.append(float(g_data))
            else:
                grads.append(Tensor(g_data))
        value = out.item()
        return value, (grads[0] if single else tuple(grads))

    return wrapped


def grad(f: Callable[..., Tensor], argnums: ArgNums = 0) -> Callable[..., Any]:
    """The derivative of ``f`` as a function.

    ``f`` takes tensors (or numbers) and returns a one-element tensor. Arguments are promoted
    to float64. With ``argnums`` a tuple, the result is a tuple of partial derivatives.
    Numbers in give floats out; arrays or tensors in give tensors out.

    Example:
        >>> dlcore.grad(lambda x: x ** 2)(3.0)
        6.0
        >>> dlcore.grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 5.0)
        (5.0, 2.0)
    """
    value_grad = value_and_grad(f, argnums)

    def wrapped(*args: Any) -> Any:
        return value_grad(*args)[1]

    wrapped.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return wrapped


def gradcheck(
    f: Callable[..., Tensor],
    inputs: Union[Any, Sequence[Any]],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Compare the gradients backpropagation gives with central finite differences.

    Every input is copied to float64. ``f`` may return any shape: it is reduced to the scalar
    ``sum(f(*inputs) * r)`` with a fixed random ``r``, so every output element is checked.
    Each input element ``x_i`` is nudged by ``±eps`` and
    ``(L(x + eps e_i) - L(x - eps e_i)) / (2 eps)`` compared with ``dL/dx_i`` from
    ``backward``, within ``atol + rtol * |numerical|``.

    Returns True when all agree; otherwise raises :class:`GradcheckError` (or returns False
    when ``raise_exception`` is False).
    """
    if isinstance(inputs, (Tensor, np.ndarray, float, int)):
        inputs = (inputs,)
    leaves = [_as_float64_leaf(x) for x in inputs]
    with enable_grad():
        out = f(*leaves)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: the function must return a Tensor, got {type(out).__name__}")
    weights = np.random.default_rng(seed).standard_normal(out.shape)

    def loss_value(arrays: List[np.ndarray]) -> float:
        with enable_grad():
            value = f(*[Tensor(a) for a in arrays])
        return float(np.sum(np.asarray(value.data, dtype=np.float64) * weights))

    with enable_grad():
        (out * Tensor(weights)).sum().backward()
    arrays = [leaf.data.copy() for leaf in leaves]
    for index, leaf in enumerate(leaves):
        analytic = np.zeros_like(leaf.data) if leaf.grad is None else leaf.grad.data
        # C order, so that reshape(-1) below is a view (zeros_like would keep a transposed
        # input's layout, and the writes would land in a copy).
        numeric = np.zeros(leaf.shape)
        flat = arrays[index].reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = loss_value(arrays)
            flat[i] = original - eps
            minus = loss_value(arrays)
            flat[i] = original
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            message = (
                f"gradcheck: input {index} (shape {leaf.shape}) has {int(bad.sum())} mismatching "
                f"gradient entries; first at {where}: analytic {analytic[where]:.8g} vs "
                f"numerical {numeric[where]:.8g}; max |difference| "
                f"{float(np.max(np.abs(analytic - numeric))):.3g}"
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
