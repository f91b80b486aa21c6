"""``Subset`` and ``random_split``, as in ``torch.utils.data``: a training/validation split
of one dataset without copying it."""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence

import numpy as np

from .dataset import Dataset
from .loader import batch_fetcher


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``subset[i]`` is
    ``dataset[indices[i]]``. Nothing is copied.

    Batches keep the underlying dataset's fast path: a ``DataLoader`` over a subset of a
    ``TensorDataset`` (or of an array) still builds each batch with one fancy index.
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        index = np.asarray(indices)
        if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
            raise TypeError(f"Subset: indices must be a 1-D sequence of ints, got "
                            f"{index.dtype} of shape {index.shape}")
        n = len(dataset)
        if index.size and (index.min() < -n or index.max() >= n):
            bad = index[(index < -n) | (index >= n)][0]
            raise IndexError(f"Subset: index {bad} is out of range for a dataset of {n} "
                             f"samples")
        self.dataset = dataset
        self.indices = index.astype(np.intp)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, index: Any) -> Any:
        """The samples at ``index`` (a slice or an integer array of subset positions)."""
        return batch_fetcher(self.dataset)(self.indices[index])


def random_split(dataset: Any, lengths: Sequence[float],
                 generator: Optional[np.random.Generator] = None) -> List[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    ``lengths`` are counts that add up to ``len(dataset)``, or fractions that add up to 1
    (then each gets ``floor(fraction * n)`` samples and the samples left over go one each to
    the first subsets, as PyTorch does). The shuffle comes from ``generator``, else from
    dlcore's generator, so ``dlcore.manual_seed`` makes the split reproducible.

    Example:
        >>> train, val = random_split(TensorDataset(x, y), [4000, 1000])
        >>> train, val = random_split(dataset, [0.8, 0.2])
    """
    n = len(dataset)
    values = list(lengths)
    if not values:
        raise ValueError("random_split: lengths is empty")
    if any(isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))
           for v in values):
        raise TypeError(f"random_split: lengths must be numbers, got {values!r}")
    if any(v < 0 for v in values):
        raise ValueError(f"random_split: lengths must be non-negative, got {values!r}")
    if all(isinstance(v, (int, np.integer)) for v in values) and sum(values) != 1:
        counts = [int(v) for v in values]
    elif math.isclose(float(sum(values)), 1.0, abs_tol=1e-9) and all(v <= 1 for v in values):
        counts = [math.floor(float(v) * n) for v in values]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        raise ValueError(f"random_split: lengths must be counts that add up to the "
                         f"dataset's {n} samples, or fractions that add up to 1; got "
                         f"{values!r}")
    if sum(counts) != n:
        raise ValueError(f"random_split: lengths add up to {sum(counts)} but the dataset has "
                         f"{n} samples")
    if generator is None:
        from ..random import default_generator

        generator = default_generator()
    order = generator.permutation(n)
    bounds = np.cumsum([0] + counts)
    return [Subset(dataset, order[start:stop]) for start, stop in zip(bounds[:-1], bounds[1:])]
