"""Datasets: the MNIST subset bundled with dlcore, and readers for the official IDX files."""

from .idx import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist, read_idx
from .mnist import load_mnist_subset

__all__ = [
    "FASHION_MNIST_CLASSES",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_subset",
    "read_idx",
]
