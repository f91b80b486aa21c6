"""``one_hot``: integer class labels as indicator rows."""

from __future__ import annotations

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
    bad = (data < 0) | (data >= num_classes)
    if bad.any():
        where = np.unravel_index(int(np.argmax(bad)), data.shape)
        raise ValueError(f"one_hot: label {data[where]} at position {tuple(map(int, where))} is "
                         f"out of range for {num_classes} classes (expected 0 <= label < "
                         f"{num_classes})")
    out = np.zeros(data.shape + (int(num_classes),), dtype=np.int64)
    np.put_along_axis(out, data.astype(np.intp)[..., None], 1, axis=-1)
    return Tensor(out)
