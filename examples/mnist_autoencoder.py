"""A convolutional autoencoder on the bundled MNIST digits: two strided convolutions squeeze
each 28x28 image into a 16x7x7 code (784 numbers -> 784, but spatially 16x smaller), two
transposed convolutions grow it back, and training minimises the pixel-wise squared error
between the input and its reconstruction. No labels are used.

Run:  python examples/mnist_autoencoder.py
Prints the validation reconstruction error before and after training and one digit next to
its reconstruction as text.
"""

from __future__ import annotations

import numpy as np

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim


def build() -> nn.Module:
    """Encoder 1x28x28 -> 8x14x14 -> 16x7x7; decoder back to 1x28x28 in [0, 1]."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        # output_padding=1 picks 14 (not 13) as the size a stride-2 conv maps back to 7.
        nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid(),
    )


def ascii_image(image: np.ndarray) -> list:
    """A 28x28 image in [0, 1] as 14 text rows (two pixel rows per character row)."""
    shades = " .:-=+*#%@"
    rows = []
    for r in range(0, 28, 2):
        pair = (image[r] + image[r + 1]) / 2
        rows.append("".join(shades[min(int(v * len(shades)), len(shades) - 1)] for v in pair))
    return rows


def main(epochs: int = 5, samples: int = 5000, verbose: int = 1) -> dict:
    dlcore.manual_seed(0)
    images, _ = dlcore.datasets.load_mnist_subset()
    order = np.random.default_rng(0).permutation(len(images))[:samples]
    x = images[order, None].astype(np.float32) / 255          # (N, 1, 28, 28) in [0, 1]
    split = int(0.8 * len(x))
    train, val = x[:split], x[split:]

    model = build()
    model.compile(optimizer=optim.Adam(model.parameters(), lr=3e-3), loss="mse")
    with dlcore.no_grad():
        before = F.mse_loss(model.eval()(val), val).item()
    model.fit(train, train, epochs=epochs, batch_size=64, shuffle=True, verbose=verbose)
    with dlcore.no_grad():
        reconstruction = model.eval()(val).numpy()
    after = float(np.mean((reconstruction - val) ** 2))

    print(f"validation reconstruction MSE: {before:.4f} before training, {after:.4f} after")
    print("a validation digit and its reconstruction:")
    for left, right in zip(ascii_image(val[0, 0]), ascii_image(reconstruction[0, 0])):
        print(f"  {left}   {right}")
    return {"before": before, "after": after}


if __name__ == "__main__":
    main()
