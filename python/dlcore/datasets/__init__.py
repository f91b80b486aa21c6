"""Datasets that need no network: the MNIST subset bundled with dlcore."""

from .mnist import load_mnist_subset

__all__ = ["load_mnist_subset"]
