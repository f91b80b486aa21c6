"""``Dropout1d`` and ``AlphaDropout`` layers: random while training, identity in eval mode."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .dropout import _DropoutNd


class Dropout1d(_DropoutNd):
    """Zero whole channels of ``(N, C, L)`` sequences with probability ``p`` while training,
    scaling the rest by ``1/(1-p)``. Neighbouring time steps are correlated, so dropping
    single steps after a ``Conv1d`` barely regularises; dropping channels does.

    Shape: ``(N, C, L) -> (N, C, L)`` or ``(C, L) -> (C, L)``. Seeded by
    ``dlcore.manual_seed``.
    """

    def forward(self, x: Any) -> Tensor:
        return F.dropout1d(x, self.p, self.training)


class AlphaDropout(_DropoutNd):
    """Dropout for self-normalising (SELU) networks: dropped units take SELU's saturation
    value and an affine correction keeps mean 0 and variance 1; see
    :func:`dlcore.nn.functional.alpha_dropout`. The identity after ``.eval()``.

    Shape: any -> same.

    Example:
        >>> model = nn.Sequential(nn.Linear(64, 64), nn.SELU(), nn.AlphaDropout(0.1),
        ...                       nn.Linear(64, 10))
    """

    def forward(self, x: Any) -> Tensor:
        return F.alpha_dropout(x, self.p, self.training)
