"""Convolution as the textbooks draw it: a hand-set vertical Sobel filter finds the left and
right edges of the strokes of a handwritten digit.

The filter ``[[1, 0, -1], [2, 0, -2], [1, 0, -1]]`` takes the difference between the pixels
left and right of each position (weighting the middle row twice): negative where the values
rise from left to right (the left edge of an ink stroke), positive where they fall (its
right edge), zero on flat regions and on horizontal edges.
``F.conv2d`` slides it over the image. The result is printed as text, and saved as a PNG
next to the input when matplotlib is installed.
"""

from __future__ import annotations

import sys
from typing import Optional

import numpy as np

import dlcore
import dlcore.nn.functional as F

SOBEL_VERTICAL = np.array([[1, 0, -1],
                           [2, 0, -2],
                           [1, 0, -1]], dtype=np.float32)


def edge_map(image: np.ndarray) -> np.ndarray:
    """Vertical-edge response of a ``(H, W)`` image scaled to [0, 1], same size (padding 1)."""
    x = image.astype(np.float32)[None, None]          # (1, 1, H, W): one image, one channel
    weight = SOBEL_VERTICAL[None, None]               # (1, 1, 3, 3): one filter
    return F.conv2d(x, weight, padding=1).numpy()[0, 0]


def as_text(a: np.ndarray, scale: Optional[float] = None) -> str:
    """Signed values as characters: ``+`` strong positive, ``-`` strong negative, ``.`` weak."""
    scale = scale or float(np.abs(a).max()) or 1.0
    chars = []
    for row in a / scale:
        chars.append("".join("+" if v > 0.25 else "-" if v < -0.25 else "." if abs(v) > 0.05
                             else " " for v in row))
    return "\n".join(chars)


def main(index: int = 0, png: Optional[str] = "edge_filters.png") -> np.ndarray:
    images, labels = dlcore.datasets.load_mnist_subset()
    digit = images[index] / 255.0
    edges = edge_map(digit)
    print(f"digit {labels[index]} (# = ink):")
    print("\n".join("".join("#" if v > 0.5 else " " for v in row) for row in digit))
    print("\nvertical Sobel response (- : left edge of a stroke, + : right edge):")
    print(as_text(edges))
    if png:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return edges
        fig, axes = plt.subplots(1, 2, figsize=(6, 3))
        axes[0].imshow(digit, cmap="gray")
        axes[0].set_title(f"digit {labels[index]}")
        limit = float(np.abs(edges).max())
        axes[1].imshow(edges, cmap="RdBu", vmin=-limit, vmax=limit)
        axes[1].set_title("vertical Sobel")
        for ax in axes:
            ax.axis("off")
        fig.savefig(png, bbox_inches="tight")
        print(f"\nsaved {png}")
    return edges


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
