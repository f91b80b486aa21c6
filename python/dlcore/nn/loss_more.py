"""Ranking, embedding, margin and likelihood loss modules (PyTorch's names and signatures).

Each is a thin module over its function in :mod:`dlcore.nn.functional`, where the formulas,
shapes and gradients are documented. Options that PyTorch places after its deprecated
``size_average`` / ``reduce`` arguments are keyword-only.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from ..tensor import Tensor
from . import functional as F
from .loss import _Loss, _WeightedLoss


def _options(loss: _Loss, **options: Any) -> str:
    """``name=value`` for each option, then the reduction when it is not the default."""
    parts = [f"{name}={value!r}" for name, value in options.items()]
    parts.append(_Loss.extra_repr(loss))
    return ", ".join(p for p in parts if p)


class MarginRankingLoss(_Loss):
    """``max(0, -y (x1 - x2) + margin)``: rank ``x1`` above ``x2`` where ``y = 1``, below
    where ``y = -1``.

    Shape: ``(N,)`` (or any, the same number of dimensions, broadcasting) for ``input1``,
    ``input2`` and ``target``. See :func:`dlcore.nn.functional.margin_ranking_loss`.

    Example:
        >>> loss = nn.MarginRankingLoss(margin=0.5)(scores_a, scores_b, y)   # y in {1, -1}
    """

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1: Any, input2: Any, target: Any) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin,
                                     reduction=self.reduction)

    def extra_repr(self) -> str:
        return _options(self, margin=self.margin)


class HingeEmbeddingLoss(_Loss):
    """``x`` where ``y = 1``, ``max(0, margin - x)`` where ``y = -1`` (``x`` a distance).

    Shape: ``input`` any, ``target`` the same. See
    :func:`dlcore.nn.functional.hinge_embedding_loss`.
    """

    def __init__(self, margin: float = 1.0, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)

    def extra_repr(self) -> str:
        return _options(self, margin=self.margin)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) - margin)`` where ``y = -1``.

    Shape: ``input1``, ``input2`` ``(N, D)`` and ``target`` ``(N,)``, or ``(D,)`` and a label.
    See :func:`dlcore.nn.functional.cosine_embedding_loss`.
    """

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1: Any, input2: Any, target: Any) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, self.margin,
                                       reduction=self.reduction)

    def extra_repr(self) -> str:
        return _options(self, margin=self.margin)


class TripletMarginLoss(_Loss):
    """``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the pairwise ``p``-norm distance.

    Args:
        margin: the gap wanted between the negative and the positive distance.
        p: the norm's degree.
        eps: added to each difference before the norm (keeps gradients finite).
        swap: use ``min(d(a, n), d(p, n))`` as the negative distance.

    Shape: ``anchor``, ``positive``, ``negative`` ``(N, D)`` or ``(D,)``. See
    :func:`dlcore.nn.functional.triplet_margin_loss`.
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if not p > 0:
            raise ValueError(f"TripletMarginLoss: p must be positive, got {p}")
        self.margin, self.p, self.eps, self.swap = float(margin), float(p), float(eps), bool(swap)

    def forward(self, anchor: Any, positive: Any, negative: Any) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps,
                                     self.swap, reduction=self.reduction)

    def extra_repr(self) -> str:
        return _options(self, margin=self.margin, p=self.p, eps=self.eps, swap=self.swap)


class SoftMarginLoss(_Loss):
    """Two-class logistic loss ``log(1 + exp(-y x))`` for labels ``y`` of 1 / -1, stable for
    any ``x``. Shape: ``input`` any, ``target`` the same. See
    :func:`dlcore.nn.functional.soft_margin_loss`.
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Per-class binary logistic loss averaged over the classes of each sample.

    Args:
        weight: ``(C,)`` rescaling of each class (a buffer, saved in ``state_dict``).

    Shape: ``input`` and ``target`` ``(N, C)`` (targets in [0, 1]). See
    :func:`dlcore.nn.functional.multilabel_soft_margin_loss`.
    """

    def __init__(self, weight: Optional[Any] = None, *, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                             reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss ``w[y] / C * sum_{j != y} max(0, margin - x[y] + x[j]) ** p``.

    Args:
        p: 1 or 2.
        margin: the gap wanted between the true class's score and the others.
        weight: ``(C,)`` rescaling of each class (a buffer, saved in ``state_dict``).

    Shape: ``input`` ``(N, C)``, ``target`` ``(N,)`` integer labels. See
    :func:`dlcore.nn.functional.multi_margin_loss`.
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Optional[Any] = None, *,
                 reduction: str = "mean") -> None:
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got {p!r}")
        super().__init__(weight, reduction)
        self.p, self.margin = int(p), float(margin)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.multi_margin_loss(input, target, self.p, self.margin, weight=self.weight,
                                   reduction=self.reduction)

    def extra_repr(self) -> str:
        return _options(self, p=self.p, margin=self.margin)


class PoissonNLLLoss(_Loss):
    """Negative log-likelihood of counts under a Poisson distribution of the predicted rate.

    Args:
        log_input: the input is the log of the rate (``exp(x) - t x``); otherwise the rate
            itself (``x - t log(x + eps)``).
        full: add Stirling's approximation of ``log(t!)`` (where ``t > 1``).
        eps: keeps ``log(x + eps)`` finite when ``log_input`` is False.

    Shape: ``input`` any, ``target`` the same. See
    :func:`dlcore.nn.functional.poisson_nll_loss`.
    """

    def __init__(self, log_input: bool = True, full: bool = False, *, eps: float = 1e-8,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.log_input, self.full, self.eps = bool(log_input), bool(full), float(eps)

    def forward(self, log_input: Any, target: Any) -> Tensor:
        return F.poisson_nll_loss(log_input, target, self.log_input, self.full, eps=self.eps,
                                  reduction=self.reduction)

    def extra_repr(self) -> str:
        return _options(self, log_input=self.log_input, full=self.full, eps=self.eps)


class GaussianNLLLoss(_Loss):
    """Negative log-likelihood of the target under ``N(input, var)``, ``var`` predicted too.

    Args:
        full: add the constant ``0.5 log(2 pi)``.
        eps: ``var`` is clamped to at least this (its gradient still passes, as PyTorch).

    Shape: ``input`` ``(N, *)``, ``target`` the same, ``var`` the same or one per sample
    (``(N, *)`` without the last dimension, or with it 1), or a number. See
    :func:`dlcore.nn.functional.gaussian_nll_loss`.
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"
                 ) -> None:
        super().__init__(reduction)
        if not eps >= 0:
            raise ValueError(f"GaussianNLLLoss: eps must be non-negative, got {eps}")
        self.full, self.eps = bool(full), float(eps)

    def forward(self, input: Any, target: Any, var: Union[float, Any]) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)

    def extra_repr(self) -> str:
        return _options(self, full=self.full, eps=self.eps)
