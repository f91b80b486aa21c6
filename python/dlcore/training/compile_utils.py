"""Resolving what ``compile`` is given: optimizer, loss and metric names to objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple

from . import metrics as metrics_module

# Keras' optimizer names -> dlcore.optim class names.
_OPTIMIZERS = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "adamax": "Adamax",
    "nadam": "NAdam",
    "radam": "RAdam",
}


@dataclass
class CompiledConfig:
    """What ``compile`` stored on the model (kept out of the module registries)."""

    optimizer: Any
    loss: Optional[Callable[..., Any]]
    metrics: List[metrics_module.Metric] = field(default_factory=list)
    from_logits: bool = False
    binary: bool = False


def resolve_optimizer(spec: Any, model: Any) -> Any:
    """An optimizer over ``model``'s parameters from a name, a class or an instance."""
    if isinstance(spec, str) or isinstance(spec, type):
        try:
            from .. import optim
        except ImportError:
            raise ImportError("compile: dlcore.optim is not available in this build") from None
        if isinstance(spec, str):
            key = spec.lower()
            if key not in _OPTIMIZERS or not hasattr(optim, _OPTIMIZERS[key]):
                known = ", ".join(k for k in _OPTIMIZERS if hasattr(optim, _OPTIMIZERS[k]))
                raise ValueError(f"compile: unknown optimizer {spec!r}; known names: {known} "
                                 "(or pass a dlcore.optim optimizer)")
            spec = getattr(optim, _OPTIMIZERS[key])
        return spec(model.parameters())
    if not hasattr(spec, "step") or not hasattr(spec, "param_groups"):
        raise TypeError(f"compile: optimizer must be a name such as 'adam' or an optimizer "
                        f"with step() and param_groups, got {type(spec).__name__}")
    owned = {id(p) for p in model.parameters()}
    given = [p for group in spec.param_groups for p in group["params"]]
    if given and not any(id(p) in owned for p in given):
        raise ValueError("compile: none of the optimizer's parameters belong to this model; "
                         "build it with model.parameters()")
    return spec


def resolve_loss(spec: Any) -> Optional[Callable[..., Any]]:
    """A callable ``loss(input, target)`` from a Keras/PyTorch name, a loss module or a
    function (called in PyTorch order: predictions first, targets second)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        from .. import nn

        return nn.get_loss(spec)
    if isinstance(spec, type):
        spec = spec()
    if not callable(spec):
        raise TypeError(f"compile: loss must be a name, a loss module or a function, got "
                        f"{type(spec).__name__}")
    return spec


def loss_traits(loss: Any) -> Tuple[bool, bool]:
    """``(from_logits, binary)`` as far as the loss tells: metrics use them to threshold
    binary predictions at 0 (logits) or 0.5 (probabilities) and to treat every output as a
    yes/no decision after a binary cross-entropy."""
    if loss is None:
        return False, False
    name = getattr(loss, "__name__", None) or type(loss).__name__
    lowered = name.lower()
    explicit = getattr(loss, "from_logits", None)
    binary = lowered.startswith(("bce", "binary")) or "binary_cross" in lowered
    if isinstance(explicit, bool):
        return explicit, binary
    from_logits = "withlogits" in lowered.replace("_", "")
    return from_logits, binary


def resolve_metrics(specs: Any, loss: Any) -> Tuple[List[metrics_module.Metric], bool, bool]:
    from_logits, binary = loss_traits(loss)
    if specs is None:
        return [], from_logits, binary
    if isinstance(specs, (str, metrics_module.Metric)) or callable(specs):
        specs = [specs]
    resolved = [metrics_module.get(s, from_logits=from_logits, binary=binary) for s in specs]
    names = [m.name for m in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1} | ({"loss"} & set(names)))
    if duplicates:
        raise ValueError(f"compile: metric names must be unique and not 'loss', got "
                         f"{duplicates}")
    return resolved, from_logits, binary
