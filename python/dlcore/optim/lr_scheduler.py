"""Learning-rate schedules with PyTorch's semantics.

A scheduler changes ``group["lr"]`` of its optimizer's parameter groups each time its
``step()`` is called (usually once per epoch, after the optimizer's steps). Construction
counts as epoch 0 and leaves the learning rate at its initial value.

Example:
    >>> opt = optim.SGD(model.parameters(), lr=0.1)
    >>> scheduler = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    >>> for epoch in range(90):
    ...     train_one_epoch(); scheduler.step()      # lr 0.1, then 0.01 from 30, 0.001 from 60
"""

from __future__ import annotations

import math
import types
from collections import Counter
from typing import Any, Callable, Dict, List, Sequence, Union

from .optimizer import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
]


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


class LRScheduler:
    """Base class of epoch-indexed schedules: subclasses give ``get_lr()``, the learning
    rates for epoch ``last_epoch`` computed from the current ones (so schedules chain).

    Args:
        optimizer: the optimizer whose learning rates to set.
        last_epoch: index of the last epoch when resuming; -1 (the default) starts afresh and
            records each group's current lr as ``initial_lr``.
    """

    #: Whether ``step()`` belongs after every batch (OneCycleLR) rather than every epoch;
    #: ``fit``'s ``LearningRateScheduler`` callback steps it accordingly.
    per_batch = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming an optimizer")
        self.base_lrs: List[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()

    def get_lr(self) -> List[float]:
        raise NotImplementedError(f"{type(self).__name__} must define get_lr()")

    def get_last_lr(self) -> List[float]:
        """The learning rates the last ``step`` set."""
        return self._last_lr

    def step(self) -> None:
        """Advance one epoch and set the learning rates of that epoch."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> Dict[str, Any]:
        """The scheduler's state (everything but the optimizer)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.__dict__.update(state_dict)

    def _current_lrs(self) -> List[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(epoch)``.

    Args:
        optimizer: the optimizer.
        lr_lambda: a function of the epoch index, or a list of them, one per parameter group.
        last_epoch: see ``LRScheduler``.

    Example:
        >>> scheduler = LambdaLR(opt, lr_lambda=lambda epoch: 0.95 ** epoch)
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Union[Callable[[int], float], Sequence[Callable[[int], float]]],
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"Expected {n} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        return [base * fn(self.last_epoch) for base, fn in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self) -> Dict[str, Any]:
        """The state without the lambdas (functions are not data); a lambda that is a
        callable object has its ``__dict__`` saved, as PyTorch does."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(state)
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs:
    ``lr = initial_lr * gamma ** (epoch // step_size)``.

    Args:
        optimizer: the optimizer.
        step_size: epochs between decays.
        gamma: the decay factor (default 0.1).
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"Invalid step_size: {step_size} (expected a positive integer)")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each milestone epoch:
    ``lr = initial_lr * gamma ** (number of milestones <= epoch)``.

    Args:
        optimizer: the optimizer.
        milestones: epoch indices at which to decay (any order; a repeated one decays twice).
        gamma: the decay factor (default 0.1).
        last_epoch: see ``LRScheduler``.

    Example:
        >>> scheduler = MultiStepLR(opt, milestones=[30, 80], gamma=0.1)
        >>> # lr 0.1 for epochs 0-29, 0.01 for 30-79, 0.001 from 80
    """

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if isinstance(milestones, (int, float)) or not all(
                int(m) == m and m >= 1 for m in milestones):
            raise ValueError(f"Invalid milestones: {milestones!r} (expected a sequence of "
                             "positive epoch indices)")
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self._step_count == 1 and self.last_epoch > 0:
            # Resumed at a later epoch: the closed form.
            passed = sum(n for m, n in self.milestones.items() if m <= self.last_epoch)
            return [base * self.gamma ** passed for base in self.base_lrs]
        times = self.milestones.get(self.last_epoch, 0)
        return [lr * self.gamma ** times for lr in self._current_lrs()]


class LinearLR(LRScheduler):
    """Scale the learning rate by a factor that moves linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` steps, then stays: the usual warm-up.
    ``lr = initial_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``.
    Unlike the decays, construction already applies ``start_factor`` (as in PyTorch).

    Args:
        optimizer: the optimizer.
        start_factor: the factor at step 0, in (0, 1] (default 1/3).
        end_factor: the factor from step ``total_iters`` on, in [0, 1] (default 1).
        total_iters: steps of the ramp (default 5).
        last_epoch: see ``LRScheduler``.

    Example:
        >>> warmup = LinearLR(opt, start_factor=0.1, total_iters=5)   # 10% -> 100% in 5 epochs
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"Invalid start_factor: {start_factor} (expected 0 < start_factor "
                             "<= 1)")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"Invalid end_factor: {end_factor} (expected 0 <= end_factor <= 1)")
        if int(total_iters) != total_iters or total_iters < 1:
            raise ValueError(f"Invalid total_iters: {total_iters} (expected a positive integer)")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def _factor(self, epoch: int) -> float:
        progress = min(epoch, self.total_iters) / self.total_iters
        return self.start_factor + (self.end_factor - self.start_factor) * progress

    def get_lr(self) -> List[float]:
        epoch = self.last_epoch
        if self._step_count == 1 and epoch > 0:
            # Resumed at a later epoch: the closed form.
            return [base * self._factor(epoch) for base in self.base_lrs]
        if epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if epoch > self.total_iters:
            return self._current_lrs()
        # The ratio of this step's factor to the last one's, so other changes to lr compose.
        ratio = self._factor(epoch) / self._factor(epoch - 1)
        return [lr * ratio for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr = initial_lr * gamma**epoch``.

    Args:
        optimizer: the optimizer.
        gamma: the decay factor.
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self.last_epoch == 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the initial learning rate down to ``eta_min`` over ``T_max``
    epochs (SGDR without restarts):

    .. code-block:: text

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    Computed recursively from the current learning rate, as PyTorch does, so it composes with
    other changes to ``lr``; past ``T_max`` the cosine continues (the rate climbs back).

    Args:
        optimizer: the optimizer.
        T_max: epochs of the half cosine period.
        eta_min: the minimum learning rate (default 0).
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if T_max <= 0:
            raise ValueError(f"Invalid T_max: {T_max} (expected a positive number of epochs)")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        epoch, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        lrs = self._current_lrs()
        if epoch == 0:
            return lrs
        if self._step_count == 1 and epoch > 0:
            # Resumed at a later epoch: the closed form.
            return [eta_min + (base - eta_min) * (1 + math.cos(epoch * math.pi / t_max)) / 2
                    for base in self.base_lrs]
        if (epoch - 1 - t_max) % (2 * t_max) == 0:
            # The cosine's minimum: the recursion's denominator would vanish.
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for lr, base in zip(lrs, self.base_lrs)]
        ratio = (1 + math.cos(math.pi * epoch / t_max)) / (
            1 + math.cos(math.pi * (epoch - 1) / t_max))
        return [ratio * (lr - eta_min) + eta_min for lr in lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018): the learning rate climbs from ``max_lr /
    div_factor`` to ``max_lr`` over the first ``pct_start`` of training, then anneals to
    ``max_lr / (div_factor * final_div_factor)``; momentum (SGD's ``momentum``, Adam's
    ``beta1``) moves the opposite way, between ``max_momentum`` and ``base_momentum``.
    With ``three_phase`` the rate comes back down to its start before the final anneal.

    Unlike the other schedules this one steps **per batch**: call ``step()`` after every
    ``optimizer.step()``, ``total_steps`` times in all (or ``epochs * steps_per_epoch``).
    Few epochs at a high rate is what makes it suit CPU training.

    Args:
        optimizer: the optimizer; its ``lr`` is replaced by the schedule's.
        max_lr: the peak learning rate (one value, or one per parameter group).
        total_steps: the number of ``step()`` calls; else ``epochs * steps_per_epoch``.
        pct_start: the fraction of steps spent climbing (default 0.3).
        anneal_strategy: ``'cos'`` (default) or ``'linear'``.
        cycle_momentum: cycle the momentum too (needs an optimizer with ``momentum`` or
            ``betas``).
        base_momentum, max_momentum: the momentum's range (default 0.85 and 0.95).
        div_factor: ``initial lr = max_lr / div_factor`` (default 25).
        final_div_factor: ``final lr = initial lr / final_div_factor`` (default 1e4).
        three_phase: climb, come back down symmetrically, then anneal (default False).
        last_epoch: the index of the last step when resuming (see ``LRScheduler``).

    Example:
        >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> sched = OneCycleLR(opt, max_lr=0.1, epochs=5, steps_per_epoch=len(loader))
        >>> for epoch in range(5):
        ...     for x, y in loader:
        ...         opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step(); sched.step()
    """

    per_batch = True

    def __init__(self, optimizer: Optimizer, max_lr: Union[float, Sequence[float]],
                 total_steps: Union[int, None] = None, epochs: Union[int, None] = None,
                 steps_per_epoch: Union[int, None] = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: Union[float, Sequence[float]] = 0.85,
                 max_momentum: Union[float, Sequence[float]] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.total_steps = _one_cycle_steps(total_steps, epochs, steps_per_epoch)
        if not 0 <= pct_start <= 1 or isinstance(pct_start, bool):
            raise ValueError(f"OneCycleLR: pct_start must be in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        if not (div_factor > 0 and final_div_factor > 0):
            raise ValueError(f"OneCycleLR: div_factor and final_div_factor must be positive, "
                             f"got {div_factor} and {final_div_factor}")
        self.anneal_strategy = anneal_strategy
        steps = float(self.total_steps)
        if three_phase:
            ends = [pct_start * steps - 1, 2 * pct_start * steps - 2, steps - 1]
            lrs, momenta = [("initial_lr", "max_lr"), ("max_lr", "initial_lr"),
                            ("initial_lr", "min_lr")], [("max_momentum", "base_momentum"),
                                                        ("base_momentum", "max_momentum"),
                                                        ("max_momentum", "max_momentum")]
        else:
            ends = [pct_start * steps - 1, steps - 1]
            lrs = [("initial_lr", "max_lr"), ("max_lr", "min_lr")]
            momenta = [("max_momentum", "base_momentum"), ("base_momentum", "max_momentum")]
        self._phases = list(zip(ends, lrs, momenta))
        groups = optimizer.param_groups
        peaks = _per_group("max_lr", max_lr, len(groups))
        if last_epoch == -1:
            for group, peak in zip(groups, peaks):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"OneCycleLR: cycle_momentum needs an optimizer with momentum "
                                 f"or betas; {type(optimizer).__name__} has neither (pass "
                                 f"cycle_momentum=False)")
            self._use_beta1 = "betas" in optimizer.defaults
            lows = _per_group("base_momentum", base_momentum, len(groups))
            highs = _per_group("max_momentum", max_momentum, len(groups))
            if last_epoch == -1:
                for group, low, high in zip(groups, lows, highs):
                    self._set_momentum(group, high)
                    group["base_momentum"], group["max_momentum"] = low, high
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: Dict[str, Any], value: float) -> None:
        if self._use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> List[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {step} times, but total_steps is "
                             f"{self.total_steps}; step once per batch, and give total_steps "
                             f"(or epochs and steps_per_epoch) for the whole run")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, (lr_from, lr_to), (m_from, m_to)) in enumerate(self._phases):
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - start) / (end - start) if end > start else 1.0
                    lrs.append(self._anneal(group[lr_from], group[lr_to], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[m_from], group[m_to], pct))
                    break
                start = end
        return lrs


def _one_cycle_steps(total_steps: Any, epochs: Any, steps_per_epoch: Any) -> int:
    def positive(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    if total_steps is not None:
        if not positive(total_steps):
            raise ValueError(f"OneCycleLR: total_steps must be a positive int, got "
                             f"{total_steps!r}")
        return total_steps
    if epochs is None or steps_per_epoch is None:
        raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
    if not (positive(epochs) and positive(steps_per_epoch)):
        raise ValueError(f"OneCycleLR: epochs and steps_per_epoch must be positive ints, got "
                         f"{epochs!r} and {steps_per_epoch!r}")
    return epochs * steps_per_epoch


def _per_group(name: str, value: Any, groups: int) -> List[float]:
    """One float per parameter group from a number or a list of them."""
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(f"OneCycleLR: expected {groups} values of {name}, one per "
                             f"parameter group, got {len(value)}")
        return [float(v) for v in value]
    return [float(value)] * groups


class ReduceLROnPlateau:
    """Reduce the learning rate when a metric has stopped improving.

    ``step(metric)`` is called after each validation. When the metric has not improved for
    more than ``patience`` calls, every group's lr becomes ``max(lr * factor, min_lr)``,
    then ``cooldown`` calls pass before bad epochs are counted again.

    Args:
        optimizer: the optimizer.
        mode: ``'min'`` (the metric should fall, e.g. a loss) or ``'max'`` (e.g. accuracy).
        factor: multiplies the learning rate on a reduction (must be < 1; default 0.1).
        patience: calls without improvement tolerated before reducing (default 10).
        threshold: how much better counts as an improvement (default 1e-4).
        threshold_mode: ``'rel'``: better than ``best * (1 -/+ threshold)``; ``'abs'``:
            better than ``best -/+ threshold``.
        cooldown: calls to wait after a reduction before counting again (default 0).
        min_lr: lower bound of the learning rate, one for all groups or a list (default 0).
        eps: reductions smaller than this are skipped (default 1e-8).

    Example:
        >>> scheduler = ReduceLROnPlateau(opt, mode="min", patience=5)
        >>> for epoch in range(50):
        ...     train_one_epoch(); scheduler.step(validation_loss())
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: Union[float, Sequence[float]] = 0,
                 eps: float = 1e-8) -> None:
        _check_optimizer(optimizer)
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown!")
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"expected {n} min_lrs, got {len(min_lr)}")
            self.min_lrs = list(min_lr)
        else:
            self.min_lrs = [min_lr] * n
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode = mode
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any) -> None:
        """Record one value of the monitored metric and reduce the lr if it has plateaued."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def get_last_lr(self) -> List[float]:
        return self._last_lr

    def state_dict(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.__dict__.update(state_dict)


# The rest of PyTorch's schedules live next door (to keep this file short); they are part
# of this module's interface. Imported last because they build on the classes above.
from .lr_scheduler_more import (  # noqa: E402
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    MultiplicativeLR,
    PolynomialLR,
    SequentialLR,
)

__all__ += [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "MultiplicativeLR",
    "PolynomialLR",
    "SequentialLR",
]
