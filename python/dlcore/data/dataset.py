"""Datasets: anything with ``__len__`` and ``__getitem__``; ``TensorDataset`` wraps arrays."""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple, Union

import numpy as np

from ..tensor import Tensor

Index = Union[slice, np.ndarray]


class Dataset:
    """Base class of map-style datasets, as in PyTorch: subclasses define ``__getitem__(i)``
    returning one sample and ``__len__``.

    A dataset that can also return a whole batch at once defines ``get_batch(index)``, where
    ``index`` is a ``slice`` or an integer array, returning the batch already stacked (the
    form ``default_collate`` would give). ``DataLoader`` then makes one call per batch
    instead of one per sample.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays: ``dataset[i] == (a[i], b[i], ...)``.

    Args:
        *tensors: NumPy arrays or dlcore Tensors with the same first dimension (the sample
            axis). Each is kept as given, not copied; a batch of a Tensor is a Tensor (outside
            any autograd graph), a batch of an array is an array.
        transform: optional function applied to every batch (and single sample) of the
            first array, the inputs: data augmentation such as
            ``dlcore.data.transforms.RandomCrop``, drawn afresh on every fetch. A single
            sample is passed to it as a batch of one.

    Example:
        >>> ds = TensorDataset(images, labels)      # (N, 1, 28, 28), (N,)
        >>> x0, y0 = ds[0]
        >>> xb, yb = ds.get_batch(np.array([3, 1, 4]))   # one fancy-indexing per array
    """

    def __init__(self, *tensors: Any, transform: Optional[Callable[[Any], Any]] = None) -> None:
        if transform is not None and not callable(transform):
            raise TypeError(f"TensorDataset: transform must be callable, got {transform!r}")
        self.transform = transform
        if not tensors:
            raise ValueError("TensorDataset: give at least one array")
        stored = []
        for position, t in enumerate(tensors):
            if not isinstance(t, (np.ndarray, Tensor)):
                t = np.asarray(t)
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {position} is a scalar; every "
                                 "argument needs a first (sample) dimension")
            stored.append(t)
        lengths = [len(t) for t in stored]
        if len(set(lengths)) != 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in stored)
            raise ValueError(f"TensorDataset: all arrays need the same number of samples "
                             f"(first dimension), got shapes {shapes}")
        self.tensors: Tuple[Any, ...] = tuple(stored)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> Tuple[Any, ...]:
        sample = tuple(_take(t, index) for t in self.tensors)
        if self.transform is None:
            return sample
        first = sample[0]
        batch_of_one = first[None] if isinstance(first, np.ndarray) else first.unsqueeze(0)
        return (self.transform(batch_of_one)[0],) + sample[1:]

    def get_batch(self, index: Index) -> Tuple[Any, ...]:
        """The samples at ``index`` (a slice gives views, an integer array one copy each)."""
        batch = tuple(_take(t, index) for t in self.tensors)
        if self.transform is None:
            return batch
        return (self.transform(batch[0]),) + batch[1:]


def _take(t: Any, index: Any) -> Any:
    if isinstance(t, Tensor):
        return Tensor(read_only_view(t.data, index))
    return t[index]


def read_only_view(data: np.ndarray, index: Any) -> np.ndarray:
    """``data[index]``; when that is a view (a slice, one sample), made read-only, so an
    in-place op on a batch (``x.add_(noise)``) raises instead of changing the dataset."""
    part = data[index]
    if isinstance(part, np.ndarray) and np.may_share_memory(part, data):
        part.flags.writeable = False
    return part
