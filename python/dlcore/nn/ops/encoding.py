"""``one_hot`` and ``embedding``: integer labels as indicator rows, and as rows looked up
in a learned table."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ...tensor import ArrayLike, Tensor


def one_hot(labels: ArrayLike, num_classes: int = -1) -> Tensor:
    """Integer labels of shape ``(...)`` as one-hot rows of shape ``(..., num_classes)``,
    int64, as ``torch.nn.functional.one_hot`` (and Keras's ``to_categorical``).

    ``num_classes=-1`` takes the largest label plus one. Multiply by 1.0 or call
    ``.float()`` for float rows (targets for ``cross_entropy`` with probabilities).

    Example:
        >>> F.one_hot(np.array([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]], dtype=int64)
    """
    data = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if data.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {data.dtype}; cast them "
                        f"with .astype(np.int64)")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an int, got "
                        f"{type(num_classes).__name__}")
    if num_classes == -1:
        if data.size == 0:
            raise ValueError("one_hot: cannot infer the number of classes from no labels; "
                             "pass num_classes")
        num_classes = int(data.max()) + 1
    if num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be positive (or -1), got {num_classes}")
    _check_range("one_hot", data, num_classes, "label", "classes")
    out = np.zeros(data.shape + (int(num_classes),), dtype=np.int64)
    np.put_along_axis(out, data.astype(np.intp)[..., None], 1, axis=-1)
    return Tensor(out)


def _indices(op: str, input: ArrayLike, num_embeddings: int) -> np.ndarray:
    """``input`` as an integer index array, every entry in ``[0, num_embeddings)``."""
    data = input.data if isinstance(input, Tensor) else np.asarray(input)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {data.dtype} (shape "
                        f"{data.shape}); cast them with .long() or .astype(np.int64)")
    _check_range(op, data, num_embeddings, "index", "embeddings")
    return data


def _check_range(op: str, data: np.ndarray, count: int, item: str, of: str) -> None:
    """Raise a ValueError naming the first entry of ``data`` outside ``[0, count)``."""
    bad = (data < 0) | (data >= count)
    if bad.any():
        where = np.unravel_index(int(np.argmax(bad)), data.shape)
        raise ValueError(f"{op}: {item} {data[where]} at position {tuple(map(int, where))} is "
                         f"out of range for {count} {of} (expected 0 <= {item} < {count})")


def embedding(input: ArrayLike, weight: Tensor, padding_idx: Optional[int] = None) -> Tensor:
    """Look up rows of ``weight``: ``weight[input]``, as ``torch.nn.functional.embedding``.

    Shapes: ``input`` integers ``(*)``, ``weight`` ``(num_embeddings, embedding_dim)`` ->
    ``(*, embedding_dim)``.

    The gradient of ``weight`` adds each looked-up row's incoming gradient into that row (a
    row looked up twice gets both); the row ``padding_idx``, if given, gets none.
    """
    if not isinstance(weight, Tensor):
        weight = Tensor(np.asarray(weight))
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    rows = weight.shape[0]
    if padding_idx is not None:
        padding_idx = _padding_index("embedding", padding_idx, rows)
    index = _indices("embedding", input, rows)
    table = weight.data

    def embedding(g: np.ndarray) -> Tuple[Optional[np.ndarray]]:
        grad = np.zeros_like(table)
        np.add.at(grad, index.reshape(-1), g.reshape(-1, table.shape[1]))
        if padding_idx is not None:
            grad[padding_idx] = 0
        return (grad,)

    return Tensor._from_op(table[index], (weight,), embedding, fresh_grads=True)


def _padding_index(op: str, padding_idx: int, rows: int) -> int:
    """``padding_idx`` as a row in ``[0, rows)``; negative values count from the end."""
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
        raise TypeError(f"{op}: padding_idx must be an int or None, got "
                        f"{type(padding_idx).__name__}")
    if not -rows <= padding_idx < rows:
        raise ValueError(f"{op}: padding_idx {padding_idx} is out of range for {rows} "
                         f"embeddings")
    return int(padding_idx) % rows
