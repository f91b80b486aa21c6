"""The bundled MNIST subset is the real data, intact."""

import hashlib

import numpy as np

import dlcore


def test_mnist_subset_shapes_dtypes_and_checksums():
    images, labels = dlcore.datasets.load_mnist_subset()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.uint8
    assert hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest() == (
        "2913c6b6527114b7307e1086335a7665e3f94c74aba3d67525e6f116bf5ae20f")
    assert hashlib.sha256(labels.tobytes()).hexdigest() == (
        "41b7b0a9d94690a3a2f54a1d01a9f1cc1b9512e3954fb737ad5ed9f66972403d")
    assert np.array_equal(np.bincount(labels), np.full(10, 500))
    assert np.all(labels[:500] == 0) and np.all(labels[-500:] == 9)
