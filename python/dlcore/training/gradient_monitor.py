"""``GradientMonitor``: the gradient norm of every layer, epoch by epoch.

Backpropagation multiplies the gradient by one Jacobian per layer on its way to the input.
If those factors are mostly below 1 (saturated sigmoids, tiny weights) the gradient shrinks
geometrically with depth and the first layers stop learning: *vanishing gradients*. If they
are mostly above 1 it grows geometrically: *exploding gradients*. Both show at once in the
per-layer norms, which this callback records and checks.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .callbacks import Callback, Logs, _say
from .plotting import finish, new_figure


class GradientMonitor(Callback):
    """Record each layer's gradient norm per epoch; warn when gradients vanish or explode.

    A *layer* is a sub-module that owns parameters directly (a ``Linear``, a ``Conv2d``...);
    its gradient norm is the L2 norm of the gradients of all its parameters together,
    measured after every backward pass (before the optimizer step) and averaged over the
    epoch's batches. Layers are ordered as ``model.named_modules()`` lists them, which for a
    ``Sequential`` (and most models) runs from the input side to the output side.

    Args:
        vanishing_ratio: warn (once) when the input-side layer's norm is smaller than the
            output-side layer's norm times this.
        exploding_norm: warn (once) when any layer's norm exceeds this or is not finite, or
            when the input-side norm exceeds the output-side norm by ``1 / vanishing_ratio``.
        verbose: 1 prints the norms at the end of each epoch.

    Attributes:
        layers: layer names, input side first.
        norms: ``{layer: [norm per epoch]}``.
        epochs: the epoch numbers recorded.
        warnings: ``(epoch, kind, message)`` for every problem found (kind ``'vanishing'``
            or ``'exploding'``), also raised as ``RuntimeWarning`` once per kind.

    Example:
        >>> monitor = GradientMonitor()
        >>> model.fit(x, y, epochs=5, callbacks=[monitor])
        >>> monitor.norms["0"]          # first layer, one value per epoch
        >>> monitor.plot("gradients.png")
    """

    def __init__(self, vanishing_ratio: float = 1e-3, exploding_norm: float = 1e3,
                 verbose: int = 0) -> None:
        if not 0.0 < vanishing_ratio < 1.0:
            raise ValueError(f"GradientMonitor: vanishing_ratio must be in (0, 1), got "
                             f"{vanishing_ratio}")
        if not exploding_norm > 0:
            raise ValueError(f"GradientMonitor: exploding_norm must be positive, got "
                             f"{exploding_norm}")
        self.vanishing_ratio = float(vanishing_ratio)
        self.exploding_norm = float(exploding_norm)
        self.verbose = verbose
        self.layers: List[str] = []
        self.norms: Dict[str, List[float]] = {}
        self.epochs: List[int] = []
        self.warnings: List[Tuple[int, str, str]] = []

    def on_train_begin(self, logs: Logs = None) -> None:
        self._groups: List[Tuple[str, List[Any]]] = []
        for name, module in self.model.named_modules():
            params = [p for p in module._parameters.values()
                      if p is not None and p.requires_grad]
            if params:
                self._groups.append((name or type(module).__name__, params))
        self.layers = [name for name, _ in self._groups]
        for name in self.layers:
            self.norms.setdefault(name, [])
        self._warned: set = set()

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._sums = np.zeros(len(self._groups))
        self._batches = 0

    def on_after_backward(self, batch: int, logs: Logs = None) -> None:
        for i, (_, params) in enumerate(self._groups):
            squares = 0.0
            for p in params:
                if p.grad is not None:
                    g = p.grad.data.reshape(-1)
                    squares += float(np.dot(g, g))
            self._sums[i] += math.sqrt(squares) if math.isfinite(squares) else math.inf
        self._batches += 1

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self._batches == 0:
            return
        means = self._sums / self._batches
        self.epochs.append(epoch)
        for name, value in zip(self.layers, means):
            self.norms[name].append(float(value))
        if self.verbose:
            shown = ", ".join(f"{n}: {v:.2e}" for n, v in zip(self.layers, means))
            _say(f"Epoch {epoch + 1} gradient norms: {shown}")
        self._check(epoch, means)

    def _check(self, epoch: int, means: np.ndarray) -> None:
        if len(means) == 0:
            return
        profile = ", ".join(f"{n}: {v:.2e}" for n, v in zip(self.layers, means))
        worst = int(np.argmax(np.where(np.isfinite(means), means, np.inf)))
        if not np.all(np.isfinite(means)) or means[worst] > self.exploding_norm:
            self._report(epoch, "exploding",
                         f"exploding gradients: layer {self.layers[worst]!r} has gradient "
                         f"norm {means[worst]:.3g} (> {self.exploding_norm:g}) at epoch "
                         f"{epoch + 1}; per layer, input side first: {profile}. Try a "
                         "smaller learning rate, gradient clipping or normalisation layers.")
            return
        if len(means) < 2 or means[-1] <= 0:
            return
        ratio = means[0] / means[-1]
        if ratio < self.vanishing_ratio:
            self._report(epoch, "vanishing",
                         f"vanishing gradients: the norm falls from {means[-1]:.2e} at "
                         f"{self.layers[-1]!r} (output side) to {means[0]:.2e} at "
                         f"{self.layers[0]!r} (input side), a factor {ratio:.1e}, at epoch "
                         f"{epoch + 1}; per layer: {profile}. Try ReLU-family activations, "
                         "He/Xavier initialisation, normalisation or residual connections.")
        elif ratio > 1.0 / self.vanishing_ratio:
            self._report(epoch, "exploding",
                         f"exploding gradients: the norm grows from {means[-1]:.2e} at "
                         f"{self.layers[-1]!r} (output side) to {means[0]:.2e} at "
                         f"{self.layers[0]!r} (input side), a factor {ratio:.1e}, at epoch "
                         f"{epoch + 1}; per layer: {profile}.")

    def _report(self, epoch: int, kind: str, message: str) -> None:
        self.warnings.append((epoch, kind, message))
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(f"GradientMonitor: {message}", RuntimeWarning, stacklevel=2)

    def as_array(self) -> np.ndarray:
        """The records as an array ``(epochs, layers)``, layers input side first."""
        return np.array([self.norms[name] for name in self.layers]).T.reshape(
            len(self.epochs), len(self.layers))

    def plot(self, path: Optional[str] = None) -> Any:
        """Two panels: norm per layer over the epochs, and norm against depth per epoch
        (log scale). Saves a PNG at ``path`` if given; returns the matplotlib Figure."""
        if not self.epochs:
            raise ValueError("GradientMonitor.plot: nothing recorded yet (train first)")
        data = self.as_array()
        fig, (over_time, over_depth) = new_figure("GradientMonitor.plot", path, 2)
        epochs = [e + 1 for e in self.epochs]
        for j, name in enumerate(self.layers):
            over_time.plot(epochs, data[:, j], marker="o", markersize=3, label=name)
        over_time.set(title="gradient norm per layer", xlabel="epoch", yscale="log")
        over_time.legend(fontsize="small")
        depth = np.arange(1, len(self.layers) + 1)
        rows = sorted({0, len(epochs) // 2, len(epochs) - 1})
        for i in rows:
            over_depth.plot(depth, data[i], marker="o", markersize=3, label=f"epoch {epochs[i]}")
        over_depth.set(title="gradient norm through depth", xlabel="layer (input side first)",
                       yscale="log", xticks=depth)
        over_depth.set_xticklabels(self.layers, rotation=45, fontsize="small")
        over_depth.legend(fontsize="small")
        for ax in (over_time, over_depth):
            ax.grid(True, alpha=0.3)
        return finish(fig, path)
