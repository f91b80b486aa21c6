"""``DataLoader``: batches (optionally shuffled) from a dataset, with PyTorch's semantics."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, List, Optional, Sequence

import numpy as np

from ..tensor import Tensor
from .dataset import read_only_view


class DataLoader:
    """Iterate over a dataset in batches.

    Args:
        dataset: a map-style dataset (``__len__`` and ``__getitem__``), e.g. a
            :class:`TensorDataset`, or a NumPy array / Tensor (its rows are the samples).
        batch_size: samples per batch. ``None`` turns batching off and yields the samples
            one at a time, uncollated (as in PyTorch).
        shuffle: draw a new random order at the start of every pass.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        collate_fn: merges a list of samples into a batch (default :func:`default_collate`).
        generator: a ``numpy.random.Generator`` for shuffling. By default the loader draws
            from dlcore's global generator at the start of each pass, so
            ``dlcore.manual_seed`` makes the order reproducible and ``dlcore.get_rng_state``
            captures it in a checkpoint.
        seed: alternatively, a seed for a generator private to this loader.

    How batches are built: when the dataset can index a whole batch at once (a
    :class:`TensorDataset`, an array, or any dataset with ``get_batch``) and no
    ``collate_fn`` is given, each batch is one operation: a slice (a view, no copy) when not
    shuffling, one fancy-indexing copy per array when shuffling. Other datasets are read
    sample by sample and collated.

    Example:
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
        >>> for xb, yb in loader:
        ...     loss = F.cross_entropy(model(xb), yb)
    """

    def __init__(self, dataset: Any, batch_size: Optional[int] = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn: Optional[Callable[[List[Any]], Any]] = None,
                 generator: Optional[np.random.Generator] = None, *,
                 seed: Optional[int] = None) -> None:
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, (int, np.integer))
                                       or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, got "
                             f"{batch_size!r}")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: drop_last needs a batch_size (batching is off)")
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: give generator or seed, not both")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a numpy.random.Generator, got "
                            f"{type(generator).__name__}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must define __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = np.random.default_rng(seed) if seed is not None else generator

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def _order(self) -> Optional[np.ndarray]:
        """The sample order of one pass; None means 0..n-1 (so batches can be slices)."""
        n = len(self.dataset)
        if not self.shuffle or n <= 1:
            return None
        if self.generator is not None:
            return self.generator.permutation(n)
        from ..random import default_generator

        return default_generator().permutation(n)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = self._order()
        if self.batch_size is None:
            for i in range(n):
                yield self.dataset[int(i if order is None else order[i])]
            return
        fetch = batch_fetcher(self.dataset, self.collate_fn)
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            if self.drop_last and stop - start < self.batch_size:
                return
            yield fetch(slice(start, stop) if order is None else order[start:stop])

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")


def batch_fetcher(dataset: Any, collate_fn: Optional[Callable[[List[Any]], Any]] = None
                  ) -> Callable[[Any], Any]:
    """The function that builds the batch at an index (a slice or an integer array) of
    ``dataset``: one slice or fancy index for arrays, Tensors and datasets with
    ``get_batch``; else one read per sample, then ``collate_fn`` (``default_collate``)."""
    if collate_fn is None:
        if isinstance(dataset, np.ndarray):
            return dataset.__getitem__
        if isinstance(dataset, Tensor):
            return lambda index: Tensor(read_only_view(dataset.data, index))
        get_batch = getattr(dataset, "get_batch", None)
        if callable(get_batch):
            return get_batch
    collate = collate_fn or default_collate

    def fetch(index: Any) -> Any:
        positions = range(index.start, index.stop) if isinstance(index, slice) else index
        return collate([dataset[int(i)] for i in positions])

    return fetch


def default_collate(samples: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch, field by field.

    Arrays are stacked along a new first axis, Tensors into a Tensor, numbers into an
    array; tuples, lists and dicts are collated per field (a tuple of fields stays a tuple).
    Strings are returned as a list.
    """
    if len(samples) == 0:
        raise ValueError("default_collate: no samples to collate")
    first = samples[0]
    if isinstance(first, Tensor):
        return Tensor(np.stack([s.data for s in samples]))
    if isinstance(first, np.ndarray):
        return np.stack(samples)
    if isinstance(first, (bool, int, float, complex, np.generic)):
        return np.asarray(samples)
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        sizes = {len(s) for s in samples}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: samples have different numbers of fields "
                             f"{sorted(sizes)}")
        fields = [default_collate([s[i] for s in samples]) for i in range(len(first))]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; "
                    "pass a collate_fn")
