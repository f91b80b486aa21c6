"""Images as the field stores them (uint8, channels last) to what convolutions read."""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np

from ..tensor import Tensor

_CHANNELS = (1, 3, 4)


def to_tensor_images(array: Any) -> np.ndarray:
    """uint8 images, channels last, to float32 ``(N, C, H, W)`` in ``[0, 1]``.

    Args:
        array: a uint8 array (values 0..255) of shape ``(N, H, W)`` (grayscale, e.g. MNIST)
            or ``(N, H, W, C)`` with ``C`` = 1 (grayscale), 3 (RGB) or 4 (RGBA).

    Returns:
        A new C-contiguous float32 NumPy array ``(N, C, H, W)`` holding ``array / 255``
        (``C = 1`` for ``(N, H, W)`` input). Wrap it with ``dlcore.tensor`` if you need a
        Tensor; every dlcore op and ``fit`` also accept the array directly.

    Shape:
        ``(N, H, W) -> (N, 1, H, W)``; ``(N, H, W, C) -> (N, C, H, W)``.

    Raises:
        TypeError: the array is not uint8 (floats are ambiguous: 0..1 or 0..255?).
        ValueError: any other rank, or a last axis that is not a channel count (an array
            that is already channels-first, ``(N, C, H, W)``, is refused with that hint).

    Example:
        >>> images, labels = dlcore.datasets.load_mnist()
        >>> x = to_tensor_images(images)            # (5000, 1, 28, 28) float32
    """
    arr = array.data if isinstance(array, Tensor) else np.asarray(array)
    if arr.dtype != np.uint8:
        raise TypeError(
            f"to_tensor_images: expected uint8 pixels (0..255), got dtype {arr.dtype}; for "
            "integers in 0..255 use array.astype(np.uint8), for floats already in [0, 1] "
            "move the channel axis yourself with np.moveaxis(array, -1, 1)"
        )
    if arr.ndim == 3:
        out = arr[:, None, :, :].astype(np.float32)
    elif arr.ndim == 4:
        channels = arr.shape[-1]
        if channels not in _CHANNELS:
            hint = ""
            if arr.shape[1] in _CHANNELS:
                hint = " (it looks channels-first already: convert it with .astype / 255)"
            raise ValueError(
                f"to_tensor_images: expected channels-last images (N, H, W, C) with C in "
                f"{_CHANNELS}, got shape {arr.shape}{hint}"
            )
        out = np.ascontiguousarray(np.moveaxis(arr, -1, 1), dtype=np.float32)
    else:
        raise ValueError(
            f"to_tensor_images: expected (N, H, W) or (N, H, W, C) uint8 images, got shape "
            f"{arr.shape} (for one image add the batch axis: array[None])"
        )
    out *= np.float32(1.0 / 255.0)
    return out


def normalize(x: Any, mean: Union[float, Sequence[float]],
              std: Union[float, Sequence[float]]) -> Any:
    """Standardise per channel: ``(x[:, c] - mean[c]) / std[c]``.

    Args:
        x: ``(N, C, H, W)`` or ``(C, H, W)`` float images (channels are axis -3), a NumPy
            array or a Tensor.
        mean: one number for all channels, or a sequence of ``C`` numbers.
        std: likewise; every entry must be positive.

    Returns:
        The same kind as ``x`` (array -> new array of ``x``'s float dtype; Tensor -> Tensor,
        differentiable with respect to ``x``). Shape unchanged.

    Example:
        >>> x = normalize(to_tensor_images(images), mean=[0.1307], std=[0.3081])  # MNIST
    """
    is_tensor = isinstance(x, Tensor)
    data = x.data if is_tensor else np.asarray(x)
    if data.dtype.kind != "f":
        raise TypeError(f"normalize: expected float images, got dtype {data.dtype} (convert "
                        "uint8 images with to_tensor_images first)")
    if data.ndim not in (3, 4):
        raise ValueError(f"normalize: expected (N, C, H, W) or (C, H, W) images, got shape "
                         f"{data.shape}")
    channels = data.shape[-3]
    mean_c = _per_channel(mean, "mean", channels, data.shape, data.dtype)
    std_c = _per_channel(std, "std", channels, data.shape, data.dtype)
    if np.any(~(std_c > 0)):
        raise ValueError(f"normalize: std must be positive, got {std_c.ravel().tolist()}")
    if is_tensor:
        return (x - mean_c) / std_c
    return (data - mean_c) / std_c


def _per_channel(value: Any, name: str, channels: int, shape: Any, dtype: Any) -> np.ndarray:
    values = np.asarray(value, dtype=dtype).reshape(-1)
    if values.size == 1:
        values = np.repeat(values, channels)
    if values.size != channels:
        raise ValueError(f"normalize: {name} has {values.size} values but the images {shape} "
                         f"have {channels} channels (axis -3)")
    return values.reshape(channels, 1, 1)
