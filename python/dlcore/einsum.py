"""``einsum``: products and sums written as index equations, differentiable.

The derivative of an einsum with respect to one operand is another einsum: the output's
gradient contracted with the other operands, keeping that operand's indices. Indices that
only that operand has were summed away, so its gradient is the same along them (broadcast);
an index it repeats (a diagonal, ``"ii->i"``) gets the gradient on that diagonal only.
"""

from __future__ import annotations

import string
from typing import Any, List, Sequence, Tuple

import numpy as np

from .tensor import Tensor, as_tensor


def einsum(equation: str, *operands: Any) -> Tensor:
    """Evaluate ``equation`` over ``operands``, as ``torch.einsum`` and ``numpy.einsum``.

    ``"ij,jk->ik"`` is a matrix product, ``"bij,bjk->bik"`` a batched one, ``"i,j->ij"`` an
    outer product, ``"ii->"`` a trace, ``"...ij->...ji"`` a transpose of the last two
    dimensions. Without ``->`` the output takes the indices that appear once, in alphabetical
    order (after ``...``). Dimensions of size 1 broadcast. Operands may also come as one list.

    Shapes: one letter per dimension of each operand (``...`` stands for any leading ones);
    the output has one dimension per output letter.
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a str, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    tensors = [as_tensor(x) for x in operands]
    inputs, output = _parse(equation, [t.shape for t in tensors])
    arrays = [t.data for t in tensors]
    spec = ",".join(inputs) + "->" + output
    try:
        out = np.asarray(np.einsum(spec, *arrays, optimize=len(arrays) > 2))
    except ValueError as err:
        raise ValueError(f"einsum: {equation!r} does not fit operands of shapes "
                         f"{[t.shape for t in tensors]} ({err})") from None

    def einsum(g: np.ndarray) -> List[Any]:
        return [_operand_grad(g, i, inputs, output, arrays) if t.requires_grad else None
                for i, t in enumerate(tensors)]

    return Tensor._from_op(out, tuple(tensors), einsum)


def _operand_grad(g: np.ndarray, i: int, inputs: Sequence[str], output: str,
                  arrays: Sequence[np.ndarray]) -> np.ndarray:
    """d(sum(g * einsum))/d(operand i), in operand i's shape."""
    sub, shape = inputs[i], arrays[i].shape
    others = [j for j in range(len(arrays)) if j != i]
    unique = "".join(dict.fromkeys(sub))
    elsewhere = set(output).union(*(inputs[j] for j in others))
    kept = "".join(c for c in unique if c in elsewhere)
    spec = ",".join([output] + [inputs[j] for j in others]) + "->" + kept
    grad = np.einsum(spec, g, *(arrays[j] for j in others), optimize=len(others) > 1)
    # Broadcast along the indices only this operand has, in its order of first appearance.
    size = dict(zip(sub, shape))
    grad = grad.reshape([grad.shape[kept.index(c)] if c in kept else 1 for c in unique])
    sizes = [size[c] if c not in kept else n for c, n in zip(unique, grad.shape)]
    grad = np.broadcast_to(grad, sizes)
    # Dimensions of size 1 that broadcast against the others: sum back to size 1.
    ones = tuple(k for k, c in enumerate(unique) if size[c] == 1 and grad.shape[k] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    if len(unique) == len(sub):
        return np.array(grad)
    full = np.zeros(shape, dtype=np.result_type(grad))
    np.einsum(f"{sub}->{unique}", full)[...] = grad  # a writeable view of the diagonal
    return full


def _parse(equation: str, shapes: Sequence[Tuple[int, ...]]) -> Tuple[List[str], str]:
    """The operands' subscripts and the output's, with every ``...`` spelled out in letters
    the equation does not use (right-aligned, so that they broadcast as NumPy's dims do)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {equation!r} has {len(terms)} operand subscripts but "
                         f"{len(shapes)} operands were given")
    for term in terms + [rhs]:
        letters = term.replace("...", "")
        if not all(c in string.ascii_letters for c in letters) or term.count("...") > 1:
            raise ValueError(f"einsum: subscripts are letters with at most one '...'; got "
                             f"{term!r} in {equation!r}")
    spare = [c for c in string.ascii_letters if c not in eq]
    ellipsis_dims = [len(shape) - len(t.replace("...", "")) if "..." in t else 0
                     for t, shape in zip(terms, shapes)]
    widest = max(ellipsis_dims, default=0)
    fill = "".join(spare[:widest])
    inputs = []
    for term, shape, dims in zip(terms, shapes, ellipsis_dims):
        expanded = term.replace("...", fill[widest - dims:] if dims > 0 else "")
        if dims < 0 or len(expanded) != len(shape):
            raise ValueError(f"einsum: operand subscripts {term!r} do not fit an operand of "
                             f"shape {shape} ({len(shape)} dimensions)")
        inputs.append(expanded)
    if arrow:
        output = rhs.replace("...", fill)
    else:
        counts = "".join(t.replace("...", "") for t in terms)
        output = fill + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    return inputs, output



# ------------------------------------------------------- products written as einsums
def bmm(input: Any, mat2: Any) -> Tensor:
    """Batched matrix product, as ``torch.bmm``: ``(B, N, K) @ (B, K, M) -> (B, N, M)``, no
    broadcasting (``@`` broadcasts)."""
    a, b = as_tensor(input), as_tensor(mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: expected (B, N, K) and (B, K, M), got shapes {a.shape} and "
                         f"{b.shape}")
    return a @ b


def outer(input: Any, vec2: Any) -> Tensor:
    """Outer product of two vectors: ``(N,), (M,) -> (N, M)``, ``out[i, j] = a[i] b[j]``."""
    a, b = as_tensor(input), as_tensor(vec2)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return einsum("i,j->ij", a, b)


def dot(input: Any, other: Any) -> Tensor:
    """Dot product of two vectors of the same length: ``(N,), (N,) -> ()``."""
    a, b = as_tensor(input), as_tensor(other)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"dot: expected two 1-D tensors of the same length, got shapes "
                         f"{a.shape} and {b.shape}")
    return einsum("i,i->", a, b)


def diagonal(input: Any, offset: int = 0) -> Tensor:
    """The diagonal of a matrix, ``offset`` above it (below if negative): ``(N, M) -> (K,)``.
    Its gradient lands on that diagonal. (dlcore takes matrices only; PyTorch's ``dim1`` and
    ``dim2`` for larger tensors are not offered.)"""
    x = as_tensor(input)
    if x.ndim != 2:
        raise ValueError(f"diagonal: expected a 2-D tensor, got shape {x.shape}")
    rows, cols = x.shape
    k = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    square = x[:k, offset:offset + k] if offset >= 0 else x[-offset:-offset + k, :k]
    return einsum("ii->i", square)


def trace(input: Any) -> Tensor:
    """The sum of a matrix's main diagonal: ``(N, M) -> ()``; its gradient is the identity."""
    x = as_tensor(input)
    if x.ndim != 2:
        raise ValueError(f"trace: expected a 2-D tensor, got shape {x.shape}")
    return diagonal(x).sum()
