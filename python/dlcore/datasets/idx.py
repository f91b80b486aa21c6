"""Reading the IDX files MNIST and Fashion-MNIST are distributed in.

An IDX file is a big-endian header followed by raw values: two zero bytes, a type byte
(0x08 = uint8, ...), a byte with the number of dimensions, one 4-byte size per dimension,
then the data in C order. MNIST image files have the magic number 2051 (0x00000803: uint8,
3 dimensions N x 28 x 28) and label files 2049 (0x00000801: uint8, 1 dimension N).
"""

from __future__ import annotations

import math
import os
import zlib
from typing import Optional, Tuple

import numpy as np

from .mnist import load_mnist_subset

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: str) -> np.ndarray:
    """Read one IDX file (plain or gzip-compressed, detected from its first bytes).

    Returns the array in native byte order. Raises ValueError naming the file when the
    header is invalid or the data is shorter or longer than the header says.
    """
    _, array = _read_idx_with_magic(path)
    return array


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    import gzip  # here, not at the top: ``import dlcore`` stays fast

    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: the gzip stream is corrupted or truncated ({err})") from None


def _read_idx_with_magic(path: str) -> Tuple[int, np.ndarray]:
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in _IDX_TYPES or ndim == 0:
        raise ValueError(f"{path}: not an IDX file (magic number {magic} = 0x{magic:08x}; "
                         f"expected 0x0000TTDD with a known type TT and DD >= 1 dimensions)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: the header declares {ndim} dimensions but the file ends "
                         f"after {len(raw)} bytes")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(f"{path}: file is {problem}: shape {shape} of {dtype.name} needs "
                         f"{expected} bytes, found {len(raw)}")
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return magic, array.astype(dtype.newbyteorder("="))


def _find(directory: str, stem: str) -> str:
    # The official names use dashes (train-images-idx3-ubyte); some mirrors write a dot
    # before "idx" (train-images.idx3-ubyte).
    dotted = stem.replace("-idx", ".idx")
    candidates = [name + suffix for name in (stem, dotted) for suffix in ("", ".gz")]
    for name in candidates:
        full = os.path.join(directory, name)
        if os.path.isfile(full):
            return full
    raise FileNotFoundError(f"no {stem} file in {directory!r}; looked for: "
                            f"{', '.join(candidates)}")


def _load_pair(path: str, kind: str, dataset: str) -> Tuple[np.ndarray, np.ndarray]:
    if kind not in _PREFIX:
        raise ValueError(f"{dataset}: kind must be 'train' or 'test', got {kind!r}")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{dataset}: {path!r} is not a directory")
    prefix = _PREFIX[kind]
    images_path = _find(path, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(path, f"{prefix}-labels-idx1-ubyte")
    images_magic, images = _read_idx_with_magic(images_path)
    if images_magic != IMAGES_MAGIC:
        raise ValueError(f"{images_path}: magic number {images_magic}, expected "
                         f"{IMAGES_MAGIC} (uint8 images N x rows x cols)"
                         + (" — this is a labels file" if images_magic == LABELS_MAGIC else ""))
    labels_magic, labels = _read_idx_with_magic(labels_path)
    if labels_magic != LABELS_MAGIC:
        raise ValueError(f"{labels_path}: magic number {labels_magic}, expected "
                         f"{LABELS_MAGIC} (uint8 labels N)"
                         + (" — this is an images file" if labels_magic == IMAGES_MAGIC else ""))
    if len(images) != len(labels):
        raise ValueError(f"{dataset}: {images_path} holds {len(images)} images but "
                         f"{labels_path} holds {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: labels must be 0..9, found {int(labels.max())}")
    return images, labels


def load_mnist(path: Optional[str] = None, kind: str = "train"
               ) -> Tuple[np.ndarray, np.ndarray]:
    """MNIST digits as ``(images, labels)``.

    Args:
        path: a directory holding the official IDX files (``train-images-idx3-ubyte``,
            ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
            ``t10k-labels-idx1-ubyte``, each plain or ``.gz``). ``None``: the 5,000-image
            subset bundled with dlcore (taken from the training set, sorted by class).
        kind: ``'train'`` (60,000 images) or ``'test'`` (10,000 images, the ``t10k`` files).

    Returns:
        uint8 ``images (N, 28, 28)`` (0 = background, 255 = ink) and ``labels (N,)`` (0..9).

    Raises:
        FileNotFoundError: the directory or a file is missing (the message lists the names
            tried). ValueError: a wrong magic number (2051 images, 2049 labels), a truncated
            or corrupted file, or image and label counts that differ.
    """
    if path is None:
        if kind != "train":
            raise ValueError("load_mnist: the bundled subset holds training images only; "
                             "pass path= to a directory with the t10k files for kind='test'")
        return load_mnist_subset()
    return _load_pair(os.fspath(path), kind, "load_mnist")


def load_fashion_mnist(path: str, kind: str = "train") -> Tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Zalando) from its IDX files, which use MNIST's file names and format.

    Args:
        path: a directory with ``train-images-idx3-ubyte(.gz)``, ``train-labels-...``,
            ``t10k-images-...`` and ``t10k-labels-...`` as distributed.
        kind: ``'train'`` (60,000 images) or ``'test'`` (10,000).

    Returns and raises as :func:`load_mnist`; labels are the 10 clothing classes 0..9
    (``FASHION_MNIST_CLASSES`` names them).
    """
    return _load_pair(os.fspath(path), kind, "load_fashion_mnist")


FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
