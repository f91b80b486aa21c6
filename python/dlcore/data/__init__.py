"""Feeding data to models: datasets, batching loaders and image conversion.

``TensorDataset`` and ``DataLoader`` follow PyTorch (``torch.utils.data``); a loader over
NumPy-backed data builds each batch with one slice or one fancy-indexing operation, never a
per-sample Python loop. Images arrive the way the field stores them (uint8, channels last)
and ``to_tensor_images`` / ``normalize`` turn them into what convolutions expect.
"""

from . import transforms
from .dataset import Dataset, TensorDataset
from .images import normalize, to_tensor_images
from .loader import DataLoader, default_collate
from .split import Subset, random_split

__all__ = [
    "DataLoader",
    "Dataset",
    "Subset",
    "TensorDataset",
    "default_collate",
    "normalize",
    "random_split",
    "to_tensor_images",
    "transforms",
]
