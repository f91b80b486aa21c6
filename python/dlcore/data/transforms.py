"""Data augmentation on whole batches of images: random crops (shifts) and flips, drawn per
sample from dlcore's seeded generator, each one vectorised NumPy call per batch.

A transform takes a batch ``(N, C, H, W)`` (or ``(N, H, W)``) as a NumPy array or Tensor and
returns a new array of the same kind; ``TensorDataset(x, y, transform=...)`` applies it to
each batch of ``x`` the loader fetches, so every epoch sees freshly shifted images. PyTorch's
torchvision transforms work on one image at a time; these do the same per image, batched.

Example:
    >>> augment = transforms.Compose([transforms.RandomCrop(28, padding=2),
    ...                               transforms.RandomHorizontalFlip()])
    >>> loader = DataLoader(TensorDataset(x, y, transform=augment), batch_size=64,
    ...                     shuffle=True)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, Tuple, Union

import numpy as np

from ..random import default_generator
from ..tensor import Tensor
from .images import normalize


def _batch(images: Any, op: str) -> Tuple[np.ndarray, bool]:
    """The batch as an array with at least 3 dimensions, and whether it was a Tensor."""
    was_tensor = isinstance(images, Tensor)
    data = images.data if was_tensor else np.asarray(images)
    if data.ndim < 3:
        raise ValueError(f"{op}: expected a batch of images (N, C, H, W) or (N, H, W), got "
                         f"shape {data.shape}")
    return data, was_tensor


def _like(data: np.ndarray, was_tensor: bool) -> Any:
    return Tensor(data) if was_tensor else data


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {i} is not callable: {t!r}")
        self.transforms = list(transforms)

    def __call__(self, images: Any) -> Any:
        for t in self.transforms:
            images = t(images)
        return images

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, images: Any) -> Any:
        data, was_tensor = _batch(images, "RandomHorizontalFlip")
        flip = default_generator().random(len(data)) < self.p
        out = data.copy()
        out[flip] = data[flip][..., ::-1]
        return _like(out, was_tensor)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop:
    """Cut a random ``size`` window from each image, after padding it by ``padding`` pixels
    of ``fill`` on every side: with ``size`` equal to the image size this shifts each image
    by up to ``padding`` pixels in each direction (the usual MNIST/CIFAR augmentation).

    Args:
        size: output height and width, an int or a pair.
        padding: pixels added on each side before cropping (default 0).
        fill: the value of the added pixels (default 0, the background of MNIST digits).
    """

    def __init__(self, size: Union[int, Tuple[int, int]], padding: int = 0,
                 fill: float = 0.0) -> None:
        pair = (size, size) if isinstance(size, (int, np.integer)) else size
        if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in pair)):
            raise ValueError(f"RandomCrop: size must be a positive int or pair, got {size!r}")
        if padding < 0:
            raise ValueError(f"RandomCrop: padding must be non-negative, got {padding}")
        self.size = (int(pair[0]), int(pair[1]))
        self.padding = int(padding)
        self.fill = fill

    def __call__(self, images: Any) -> Any:
        data, was_tensor = _batch(images, "RandomCrop")
        pad = self.padding
        if pad:
            widths = [(0, 0)] * (data.ndim - 2) + [(pad, pad), (pad, pad)]
            data = np.pad(data, widths, constant_values=self.fill)
        (h, w), (ch, cw) = data.shape[-2:], self.size
        if ch > h or cw > w:
            raise ValueError(f"RandomCrop: size {self.size} is larger than the padded images "
                             f"({h}, {w})")
        rng = default_generator()
        top = rng.integers(0, h - ch + 1, len(data))
        left = rng.integers(0, w - cw + 1, len(data))
        # One fancy index for the whole batch: rows[n, i] = top[n] + i, cols[n, j] = left[n] + j.
        rows = (top[:, None] + np.arange(ch))[:, :, None]
        cols = (left[:, None] + np.arange(cw))[:, None, :]
        samples = np.arange(len(data))[:, None, None]
        moved = np.moveaxis(data, (-2, -1), (1, 2))            # (N, H, W, ...)
        out = np.moveaxis(moved[samples, rows, cols], (1, 2), (-2, -1))
        return _like(np.ascontiguousarray(out), was_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class Normalize:
    """:func:`dlcore.data.normalize` as a transform: ``(x[:, c] - mean[c]) / std[c]``."""

    def __init__(self, mean: Union[float, Sequence[float]], std: Union[float, Sequence[float]]
                 ) -> None:
        self.mean, self.std = mean, std

    def __call__(self, images: Any) -> Any:
        return normalize(images, self.mean, self.std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean!r}, std={self.std!r})"
