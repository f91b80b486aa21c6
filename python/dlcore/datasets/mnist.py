"""The MNIST subset shipped inside the package."""

from __future__ import annotations

from typing import Tuple

import numpy as np

try:  # Python 3.9+: importlib.resources.files
    from importlib.resources import files as _files
except ImportError:  # pragma: no cover
    from importlib_resources import files as _files  # type: ignore[no-redef]

_SUBSET = "mnist_5k.npz"


def load_mnist_subset() -> Tuple[np.ndarray, np.ndarray]:
    """The bundled 5,000-image MNIST subset (500 per digit; credit: MNIST, CC BY-SA 3.0).

    Returns:
        ``(images, labels)``: uint8 arrays of shapes ``(5000, 28, 28)`` (0 = background,
        255 = ink) and ``(5000,)`` (digits 0..9).

    The rows are sorted by class: shuffle them (seeded) before splitting.
    """
    resource = _files("dlcore.datasets").joinpath("data", _SUBSET)
    with resource.open("rb") as handle, np.load(handle) as archive:
        images = np.array(archive["images"], dtype=np.uint8)
        labels = np.array(archive["labels"], dtype=np.uint8)
    return images, labels
