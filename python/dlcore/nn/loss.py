"""Loss modules: ``loss_fn = nn.CrossEntropyLoss(); loss = loss_fn(logits, labels)``.

``get_loss`` resolves the names Keras users write (``'mse'``, ``'sparse_categorical_crossentropy'``,
...) and PyTorch class names to these modules.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np

from ..tensor import Tensor, as_tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    _reductions: Tuple[str, ...] = ("mean", "sum", "none")

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in self._reductions:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{self._reductions}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class _WeightedLoss(_Loss):
    """A loss with a ``weight`` buffer (saved in ``state_dict`` like PyTorch's)."""

    def __init__(self, weight: Optional[Any] = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", None if weight is None else as_tensor(weight))


class MSELoss(_Loss):
    """Mean squared error ``mean((input - target)^2)``; shapes must match.

    Example:
        >>> loss = nn.MSELoss()(model(x), y)    # regression, y of the output's shape
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error (MAE) ``mean(|input - target|)``; sub-gradient 0 where equal."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Squared error for ``|d| <= delta``, absolute error (shifted) beyond: robust regression.

    See :func:`dlcore.nn.functional.huber_loss`.
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = float(delta)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self) -> str:
        return f"delta={self.delta}"


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence from log-probabilities to a target distribution
    (knowledge distillation, variational models); ``reduction='batchmean'`` gives the
    divergence per sample.

    See :func:`dlcore.nn.functional.kl_div`.
    """

    _reductions = ("mean", "sum", "none", "batchmean")

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = bool(log_target)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        parts = [super().extra_repr(), "log_target=True" if self.log_target else ""]
        return ", ".join(p for p in parts if p)


class SmoothL1Loss(_Loss):
    """Squared error (over ``beta``) for ``|d| < beta``, absolute error beyond.

    See :func:`dlcore.nn.functional.smooth_l1_loss`.
    """

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = float(beta)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


class RMSELoss(_Loss):
    """Root mean squared error ``sqrt(mean((input - target)^2) + eps)``.

    Not in PyTorch (Keras has it as a metric). ``eps`` keeps the gradient finite at a perfect
    fit; see :func:`dlcore.nn.functional.rmse_loss`. Only ``reduction='mean'``.
    """

    def __init__(self, eps: float = 1e-8, reduction: str = "mean") -> None:
        if reduction != "mean":
            raise ValueError(f"RMSELoss: reduction must be 'mean' (RMSE is the root of a mean), "
                             f"got {reduction!r}")
        if not eps >= 0:
            raise ValueError(f"RMSELoss: eps must be non-negative, got {eps}")
        super().__init__(reduction)
        self.eps = float(eps)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.rmse_loss(input, target, eps=self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1] (after a sigmoid); logs clamped at -100.

    Prefer :class:`BCEWithLogitsLoss` on raw scores: same loss, exact for saturated sigmoids.
    """

    def __init__(self, weight: Optional[Any] = None, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid and binary cross-entropy in one stable formula, on raw scores (logits).

    Args:
        weight: per-element rescaling, broadcast to the input.
        pos_weight: weight of positive examples per class (last dimension).

    Example:
        >>> loss = nn.BCEWithLogitsLoss()(model(x).reshape(-1), y.astype(np.float32))
    """

    def __init__(self, weight: Optional[Any] = None, reduction: str = "mean",
                 pos_weight: Optional[Any] = None) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", None if pos_weight is None else as_tensor(pos_weight))

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits ``(N, C)`` against integer labels ``(N,)`` (sparse
    categorical) or probability / one-hot rows ``(N, C)`` (categorical).

    Args:
        weight: ``(C,)`` per-class rescaling.
        ignore_index: label of samples that add no loss (integer labels only).
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        label_smoothing: mix the targets with the uniform distribution by this amount.

    See :func:`dlcore.nn.functional.cross_entropy`.
    """

    def __init__(self, weight: Optional[Any] = None, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing}")
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Tensor:
        # The weight buffer is read from its registry: ``self.weight`` would first fail the
        # normal attribute lookup, a few microseconds per step.
        return F.cross_entropy(input, target, weight=self._buffers.get("weight"),
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities ``(N, C)`` at labels ``(N,)``."""

    def __init__(self, weight: Optional[Any] = None, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class _ProbabilityCrossEntropy(_Loss):
    """Keras' ``(sparse_)categorical_crossentropy`` with ``from_logits=False``: the model
    already ends in a softmax. Probabilities are clipped to ``[eps, 1 - eps]`` (Keras' 1e-7)
    before the log, so a 0 gives a large finite loss."""

    def __init__(self, sparse: bool, eps: float = 1e-7, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.sparse = sparse
        self.eps = eps

    def forward(self, input: Any, target: Any) -> Tensor:
        log_probs = as_tensor(input).clamp(self.eps, 1 - self.eps).log()
        if self.sparse:
            return F.nll_loss(log_probs, target, reduction=self.reduction)
        target_array = target.data if isinstance(target, Tensor) else np.asarray(target)
        losses = -(log_probs * target_array.astype(log_probs.dtype)).sum(axis=1)
        return losses.mean() if self.reduction == "mean" else (
            losses.sum() if self.reduction == "sum" else losses)

    def __repr__(self) -> str:
        name = "sparse_categorical_crossentropy" if self.sparse else "categorical_crossentropy"
        return f"ProbabilityCrossEntropy({name}, from_logits=False)"


def _cross_entropy_for(sparse: bool) -> Callable[..., Module]:
    def make(from_logits: bool, **kwargs: Any) -> Module:
        if from_logits:
            return CrossEntropyLoss(**kwargs)
        return _ProbabilityCrossEntropy(sparse=sparse, **kwargs)

    return make


def _binary_cross_entropy(from_logits: bool, **kwargs: Any) -> Module:
    return BCEWithLogitsLoss(**kwargs) if from_logits else BCELoss(**kwargs)


def _plain(cls: Callable[..., Module]) -> Callable[..., Module]:
    def make(from_logits: bool, **kwargs: Any) -> Module:
        return cls(**kwargs)

    return make


# Keras names, their long forms, PyTorch class names and dlcore.nn.functional names (looked up
# in lower case).
_LOSSES: Dict[str, Callable[..., Module]] = {
    "mse": _plain(MSELoss),
    "mean_squared_error": _plain(MSELoss),
    "mseloss": _plain(MSELoss),
    "mae": _plain(L1Loss),
    "mean_absolute_error": _plain(L1Loss),
    "l1": _plain(L1Loss),
    "l1loss": _plain(L1Loss),
    "huber": _plain(HuberLoss),
    "huber_loss": _plain(HuberLoss),
    "huberloss": _plain(HuberLoss),
    "rmse": _plain(RMSELoss),
    "root_mean_squared_error": _plain(RMSELoss),
    "rmseloss": _plain(RMSELoss),
    "binary_crossentropy": _binary_cross_entropy,
    "bceloss": _plain(BCELoss),
    "bcewithlogitsloss": _plain(BCEWithLogitsLoss),
    "categorical_crossentropy": _cross_entropy_for(sparse=False),
    "sparse_categorical_crossentropy": _cross_entropy_for(sparse=True),
    "crossentropyloss": _plain(CrossEntropyLoss),
    "nllloss": _plain(NLLLoss),
    # The names of the functions in dlcore.nn.functional, with those functions' inputs.
    "mse_loss": _plain(MSELoss),
    "l1_loss": _plain(L1Loss),
    "rmse_loss": _plain(RMSELoss),
    "cross_entropy": _plain(CrossEntropyLoss),
    "nll_loss": _plain(NLLLoss),
    "binary_cross_entropy": _plain(BCELoss),
    "binary_cross_entropy_with_logits": _plain(BCEWithLogitsLoss),
}


def get_loss(loss: Union[str, Module, Callable[..., Any]], from_logits: bool = True,
             **kwargs: Any) -> Any:
    """The loss module for a Keras-style name, a PyTorch class name, or a loss itself.

    Names: ``'mse'``, ``'mae'``, ``'huber'``, ``'rmse'``, ``'binary_crossentropy'``,
    ``'categorical_crossentropy'``, ``'sparse_categorical_crossentropy'`` (and their long
    Keras forms such as ``'mean_squared_error'``), ``'MSELoss'``, ``'CrossEntropyLoss'``...,
    or the names of the functions in ``dlcore.nn.functional`` (``'cross_entropy'``,
    ``'mse_loss'``, ``'binary_cross_entropy'``...), which take what those functions take.
    A module or any callable is returned unchanged. ``kwargs`` go to the loss's constructor.

    Args:
        from_logits: dlcore models end in a ``Linear`` layer and output raw scores (logits),
            so the cross-entropy names assume logits by default, unlike Keras (whose default
            is ``from_logits=False``): ``'binary_crossentropy'`` is ``BCEWithLogitsLoss`` and
            ``'(sparse_)categorical_crossentropy'`` is ``CrossEntropyLoss`` (which takes integer
            labels or one-hot/probability rows). Pass ``from_logits=False`` for a model whose
            last layer is a ``Sigmoid``/``Softmax``: you then get ``BCELoss``, or a
            cross-entropy of clipped probabilities as Keras computes it.

    Example:
        >>> nn.get_loss("sparse_categorical_crossentropy")
        CrossEntropyLoss()
        >>> nn.get_loss("huber", delta=2.0)
        HuberLoss(delta=2.0)
    """
    if isinstance(loss, Module) or (callable(loss) and not isinstance(loss, str)):
        return loss
    if not isinstance(loss, str):
        raise TypeError(f"get_loss: expected a loss name, a Module or a callable, got "
                        f"{type(loss).__name__}")
    make = _LOSSES.get(loss.lower())
    if make is None:
        names = ", ".join(sorted(k for k in _LOSSES if "_" in k or not k.endswith("loss")))
        raise ValueError(f"get_loss: unknown loss {loss!r}; known names: {names} (or a "
                         f"PyTorch class name such as 'CrossEntropyLoss')")
    return make(from_logits, **kwargs)
