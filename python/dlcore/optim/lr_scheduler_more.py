"""More learning-rate schedules with PyTorch's semantics: warm restarts, cyclic rates,
polynomial and constant factors, multiplicative lambdas, and the two ways of combining
schedules (one after another: ``SequentialLR``; all at once: ``ChainedScheduler``).

All of them are re-exported by ``dlcore.optim.lr_scheduler``; import them from there.

Example:
    >>> warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
    >>> decay = CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2)
    >>> scheduler = SequentialLR(opt, [warmup, decay], milestones=[5])
"""

from __future__ import annotations

import math
import numbers
import types
from bisect import bisect_right
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from .lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    ReduceLROnPlateau,
    StepLR,
    _check_optimizer,
)
from .optimizer import Optimizer

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "MultiplicativeLR",
    "PolynomialLR",
    "SequentialLR",
]


def _is_number(value: Any) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _is_int(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer()


def _positive_int(owner: str, name: str, value: Any) -> int:
    if not (_is_int(value) and value >= 1):
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _per_group(owner: str, name: str, value: Any, groups: int) -> List[float]:
    """One float per parameter group from a number or a list of them."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * groups
    if len(values) != groups:
        raise ValueError(f"{owner}: expected {groups} values of {name}, one per parameter "
                         f"group, got {len(values)}")
    for v in values:
        if not _is_number(v):
            raise ValueError(f"{owner}: {name} must be finite numbers, got {value!r}")
    return [float(v) for v in values]


def _lambdas(owner: str, lr_lambda: Any, groups: int) -> List[Callable[[int], float]]:
    fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * groups
    if len(fns) != groups:
        raise ValueError(f"{owner}: expected {groups} lr_lambdas, one per parameter group, "
                         f"got {len(fns)}")
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"{owner}: lr_lambda must be a function of the epoch, got "
                            f"{type(fn).__name__}")
    return fns


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter, 2017):

    .. code-block:: text

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    where ``T_cur`` counts the epochs since the last restart and ``T_i`` is the length of the
    current cycle: ``T_0``, then ``T_0 * T_mult``, ``T_0 * T_mult**2``, ...

    ``step()`` advances one epoch; ``step(epoch)`` jumps to ``epoch``, which may be fractional
    so the rate can move every batch: ``scheduler.step(epoch + i / iters)``.

    Args:
        optimizer: the optimizer.
        T_0: epochs of the first cycle (a positive int).
        T_mult: each cycle is this many times longer than the previous (an int >= 1).
        eta_min: the minimum learning rate (default 0).
        last_epoch: see ``LRScheduler``; resuming takes the closed form.

    Example:
        >>> scheduler = CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2)  # restarts 10, 30, 70
        >>> for epoch in range(70):
        ...     for i, (x, y) in enumerate(loader):
        ...         train_step(x, y); scheduler.step(epoch + i / len(loader))
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        owner = "CosineAnnealingWarmRestarts"
        self.T_0 = _positive_int(owner, "T_0", T_0)
        self.T_mult = _positive_int(owner, "T_mult", T_mult)
        if not _is_number(eta_min):
            raise ValueError(f"{owner}: eta_min must be a finite number, got {eta_min!r}")
        self.eta_min = float(eta_min)
        self.T_i = self.T_0
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        cosine = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]

    def _locate(self, epoch: float) -> None:
        """Set ``T_i`` and ``T_cur`` for ``epoch`` from scratch. PyTorch finds the cycle with a
        logarithm, which rounds down at some restarts (epoch 121 with T_0=1, T_mult=3); the
        loop over cycle lengths is exact."""
        if self.T_mult == 1:
            self.T_i, self.T_cur = self.T_0, epoch % self.T_0
            return
        start, length = 0, self.T_0
        while epoch >= start + length:
            start, length = start + length, length * self.T_mult
        self.T_i, self.T_cur = length, epoch - start

    def step(self, epoch: Optional[float] = None) -> None:
        """Advance one epoch, or go to ``epoch`` (a non-negative number, maybe fractional)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            if self._step_count == 0:
                self._locate(epoch)  # resumed at a later epoch: T_cur was never counted
            else:
                self.T_cur = self.T_cur + 1
                if self.T_cur >= self.T_i:
                    self.T_cur = self.T_cur - self.T_i
                    self.T_i = self.T_i * self.T_mult
        else:
            if not (_is_number(epoch) and epoch >= 0):
                raise ValueError(f"CosineAnnealingWarmRestarts: epoch must be a non-negative "
                                 f"number, got {epoch!r}")
            self._locate(epoch)
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith, 2017): the rate goes linearly from ``base_lr`` up to
    ``max_lr`` in ``step_size_up`` steps and back down in ``step_size_down``, over and over.
    The amplitude ``max_lr - base_lr`` is scaled by

    - ``'triangular'``: 1 (every cycle the same);
    - ``'triangular2'``: ``1 / 2**(cycle - 1)``, halving each cycle (cycles count from 1);
    - ``'exp_range'``: ``gamma**iteration``;
    - or a custom ``scale_fn(x)`` of the cycle (``scale_mode='cycle'``) or of the iteration
      (``scale_mode='iterations'``), which overrides ``mode``.

    With ``cycle_momentum`` the momentum (SGD's ``momentum``, Adam's ``beta1``) moves the
    opposite way, from ``max_momentum`` at the bottom of the cycle to ``base_momentum`` at its
    peak. Like ``OneCycleLR`` this schedule steps **per batch**.

    Args:
        optimizer: the optimizer; its ``lr`` is replaced by ``base_lr``.
        base_lr, max_lr: the bottom and the peak of the cycle (one value, or one per group).
        step_size_up: steps from bottom to peak (default 2000).
        step_size_down: steps from peak to bottom (default: ``step_size_up``).
        mode: ``'triangular'``, ``'triangular2'`` or ``'exp_range'``.
        gamma: the decay of ``'exp_range'`` per step (default 1).
        scale_fn: a custom amplitude scaling ``f(x)`` with ``f(x)`` in [0, 1].
        scale_mode: ``'cycle'`` or ``'iterations'``: what ``scale_fn`` is a function of.
        cycle_momentum: cycle the momentum too (needs ``momentum`` or ``betas``).
        base_momentum, max_momentum: the momentum's range (default 0.8 and 0.9).
        last_epoch: the index of the last step when resuming (see ``LRScheduler``).

    Example:
        >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> sched = CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4 * len(loader))
        >>> for epoch in range(16):
        ...     for x, y in loader:
        ...         train_step(x, y); sched.step()
    """

    per_batch = True

    def __init__(self, optimizer: Optimizer, base_lr: Union[float, Sequence[float]],
                 max_lr: Union[float, Sequence[float]], step_size_up: float = 2000,
                 step_size_down: Optional[float] = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Optional[Callable[[float], float]] = None,
                 scale_mode: str = "cycle", cycle_momentum: bool = True,
                 base_momentum: Union[float, Sequence[float]] = 0.8,
                 max_momentum: Union[float, Sequence[float]] = 0.9,
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        owner, groups = "CyclicLR", optimizer.param_groups
        base_lrs = _per_group(owner, "base_lr", base_lr, len(groups))
        self.max_lrs = _per_group(owner, "max_lr", max_lr, len(groups))
        if not (_is_number(step_size_up) and step_size_up > 0):
            raise ValueError(f"CyclicLR: step_size_up must be a positive number, got "
                             f"{step_size_up!r}")
        if step_size_down is None:
            step_size_down = step_size_up
        elif not (_is_number(step_size_down) and step_size_down >= 0):
            raise ValueError(f"CyclicLR: step_size_down must be a non-negative number, got "
                             f"{step_size_down!r}")
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(f"CyclicLR: mode must be 'triangular', 'triangular2' or "
                             f"'exp_range' (or give scale_fn), got {mode!r}")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"CyclicLR: scale_fn must be callable, got {type(scale_fn).__name__}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got "
                             f"{scale_mode!r}")
        if not (_is_number(gamma) and gamma > 0):
            raise ValueError(f"CyclicLR: gamma must be a positive number, got {gamma!r}")
        self.total_size = float(step_size_up) + float(step_size_down)
        self.step_ratio = float(step_size_up) / self.total_size
        self.mode = mode
        self.gamma = float(gamma)
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        if scale_fn is None:
            self.scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"CyclicLR: cycle_momentum needs an optimizer with momentum "
                                 f"or betas; {type(optimizer).__name__} has neither (pass "
                                 f"cycle_momentum=False)")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group(owner, "base_momentum", base_momentum, len(groups))
            self.max_momentums = _per_group(owner, "max_momentum", max_momentum, len(groups))
        if last_epoch == -1:
            for group, lr in zip(groups, base_lrs):
                group["lr"] = lr
            if self.cycle_momentum:
                for group, low, high in zip(groups, self.base_momentums, self.max_momentums):
                    self._set_momentum(group, high)
                    group["base_momentum"], group["max_momentum"] = low, high
        super().__init__(optimizer, last_epoch)
        # The cycle's bottom is base_lr even when an earlier scheduler left another initial_lr.
        self.base_lrs = base_lrs
        for group, lr in zip(groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def _set_momentum(self, group: Dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def scale_fn(self, x: float) -> float:
        """The amplitude's scale at cycle (or iteration) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> List[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            rise = x / self.step_ratio
        else:
            rise = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (peak - base) * rise * scale
               for base, peak in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, low, high in zip(self.optimizer.param_groups, self.base_momentums,
                                        self.max_momentums):
                self._set_momentum(group, high - (high - low) * rise * scale)
        return lrs

    def state_dict(self) -> Dict[str, Any]:
        """The state without a custom ``scale_fn`` (functions are not data); one that is a
        callable object has its ``__dict__`` saved, as PyTorch does."""
        state = {k: v for k, v in self.__dict__.items()
                 if k not in ("optimizer", "_scale_fn_custom")}
        fn = self._scale_fn_custom
        state["_scale_fn_custom"] = (None if fn is None or isinstance(fn, types.FunctionType)
                                     else dict(fn.__dict__))
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        state = dict(state_dict)
        attrs = state.pop("_scale_fn_custom", None)
        self.__dict__.update(state)
        if attrs is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(attrs)


class PolynomialLR(LRScheduler):
    """Decay the learning rate polynomially to 0 over ``total_iters`` steps, then hold:
    ``lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power``.
    Computed recursively from the current rate, as PyTorch does, so it composes.

    Args:
        optimizer: the optimizer.
        total_iters: steps of the decay (default 5).
        power: the polynomial's power (default 1: linear), >= 0.
        last_epoch: see ``LRScheduler``.

    Example:
        >>> scheduler = PolynomialLR(opt, total_iters=4, power=1.0)  # 1, .75, .5, .25, 0, 0, ...
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self.total_iters = _positive_int("PolynomialLR", "total_iters", total_iters)
        if not (_is_number(power) and power >= 0):
            raise ValueError(f"PolynomialLR: power must be a non-negative number, got {power!r}")
        self.power = float(power)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        epoch, total = self.last_epoch, self.total_iters
        if self._step_count == 1 and epoch > 0:
            # Resumed at a later epoch: the closed form.
            factor = (1.0 - min(epoch, total) / total) ** self.power
            return [base * factor for base in self.base_lrs]
        if epoch == 0 or epoch > total:
            return self._current_lrs()
        ratio = ((1.0 - epoch / total) / (1.0 - (epoch - 1) / total)) ** self.power
        return [lr * ratio for lr in self._current_lrs()]


class ConstantLR(LRScheduler):
    """Multiply the learning rate by ``factor`` for the first ``total_iters`` steps, then
    restore it: ``lr = initial_lr * (factor if epoch < total_iters else 1)``.

    Args:
        optimizer: the optimizer.
        factor: the factor during the first steps, in [0, 1] (default 1/3).
        total_iters: steps at the reduced rate (default 5).
        last_epoch: see ``LRScheduler``.

    With ``factor=0`` the rate cannot be recovered from the current one at ``total_iters``,
    so it goes back to ``initial_lr`` (PyTorch divides by zero there).
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        if not (_is_number(factor) and 0 <= factor <= 1):
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor!r}")
        self.factor = float(factor)
        self.total_iters = _positive_int("ConstantLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        epoch = self.last_epoch
        if (self._step_count == 1 and epoch > 0) or (
                epoch == self.total_iters and self.factor == 0):
            # Resumed at a later epoch (or nothing to divide): the closed form.
            factor = 1.0 if epoch >= self.total_iters else self.factor
            return [base * factor for base in self.base_lrs]
        if epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if epoch != self.total_iters:
            return self._current_lrs()
        return [lr / self.factor for lr in self._current_lrs()]


class MultiplicativeLR(LRScheduler):
    """Multiply the learning rate by ``lr_lambda(epoch)`` every epoch after the first:
    ``lr = initial_lr * lr_lambda(1) * ... * lr_lambda(epoch)``.

    Args:
        optimizer: the optimizer.
        lr_lambda: a function of the epoch index, or a list of them, one per parameter group.
        last_epoch: see ``LRScheduler``.

    Example:
        >>> scheduler = MultiplicativeLR(opt, lr_lambda=lambda epoch: 0.95)
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Union[Callable[[int], float], Sequence[Callable[[int], float]]],
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.lr_lambdas = _lambdas("MultiplicativeLR", lr_lambda, len(optimizer.param_groups))
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self.last_epoch > 0:
            return [lr * fn(self.last_epoch)
                    for lr, fn in zip(self._current_lrs(), self.lr_lambdas)]
        return self._current_lrs()

    # The lambdas are saved as LambdaLR saves them.
    state_dict = LambdaLR.state_dict
    load_state_dict = LambdaLR.load_state_dict


def _check_schedulers(owner: str, schedulers: Any, optimizer: Any) -> List[LRScheduler]:
    schedulers = list(schedulers)
    if not schedulers:
        raise ValueError(f"{owner}: schedulers is empty; expected at least one scheduler")
    for i, scheduler in enumerate(schedulers):
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{owner}: schedulers[{i}] is a ReduceLROnPlateau, whose step() "
                             f"needs a metric; it cannot be combined")
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(f"{owner}: schedulers[{i}] is a {type(scheduler).__name__}, not an "
                            f"LRScheduler")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{owner}: schedulers[{i}] ({type(scheduler).__name__}) belongs to "
                             f"another optimizer; all must share the optimizer given")
    return schedulers


def _combined_state(scheduler: LRScheduler) -> Dict[str, Any]:
    state = {k: v for k, v in scheduler.__dict__.items()
             if k not in ("optimizer", "_schedulers")}
    state["_schedulers"] = [s.state_dict() for s in scheduler._schedulers]
    return state


def _load_combined_state(scheduler: LRScheduler, state_dict: Dict[str, Any]) -> None:
    state = dict(state_dict)
    children = state.pop("_schedulers")
    scheduler.__dict__.update(state)
    for child, child_state in zip(scheduler._schedulers, children):
        child.load_state_dict(child_state)


# Schedules for which PyTorch's ``step(epoch)`` takes a closed form of the epoch; their epoch 0
# is their ``initial_lr`` times their starting factor, whatever the current rate.
_CLOSED_FORM = (StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR,
                CosineAnnealingLR)


def _restart(scheduler: LRScheduler) -> None:
    """PyTorch's ``scheduler.step(0)``: go to epoch 0 of the schedule."""
    if isinstance(scheduler, CosineAnnealingWarmRestarts):
        scheduler.step(0)
        return
    if isinstance(scheduler, _CLOSED_FORM):
        for group, base in zip(scheduler.optimizer.param_groups, scheduler.base_lrs):
            group["lr"] = base
    scheduler.last_epoch = -1
    scheduler.step()


class SequentialLR(LRScheduler):
    """Run schedules one after another: ``schedulers[i]`` is stepped from ``milestones[i-1]``
    on, restarting at its own epoch 0 there.

    As in PyTorch, construction puts every group's ``lr`` back to its ``initial_lr`` and
    starts the first schedule; a schedule with a closed form (``StepLR``, ``LinearLR``,
    ``CosineAnnealingLR``, ``PolynomialLR``, ``ConstantLR``, ...) restarts from its
    ``initial_lr``, the others (``MultiplicativeLR``, ``LambdaLR``, ``CyclicLR``) from
    their own formula at epoch 0 applied to the current rate.

    Args:
        optimizer: the optimizer all schedulers share.
        schedulers: the schedules, in order.
        milestones: the epochs at which each next schedule takes over (one fewer than
            ``schedulers``, ascending).
        last_epoch: see ``LRScheduler``.

    ``per_batch`` (for ``fit``'s ``LearningRateScheduler``) is true when any of the
    schedulers steps per batch; set it on the instance to override.

    Example:
        >>> warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        >>> cosine = CosineAnnealingLR(opt, T_max=95)
        >>> scheduler = SequentialLR(opt, [warmup, cosine], milestones=[5])
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self._schedulers = _check_schedulers("SequentialLR", schedulers, optimizer)
        milestones = list(milestones)
        if len(milestones) != len(self._schedulers) - 1:
            raise ValueError(f"SequentialLR: milestones has {len(milestones)} entries but "
                             f"{len(self._schedulers)} schedulers need "
                             f"{len(self._schedulers) - 1}")
        if not all(_is_int(m) and m >= 1 for m in milestones) or milestones != sorted(
                milestones):
            raise ValueError(f"SequentialLR: milestones must be ascending positive integers, "
                             f"got {milestones!r}")
        self._milestones = [int(m) for m in milestones]
        self.optimizer = optimizer
        self.last_epoch = last_epoch + 1
        self._step_count = 1
        self.per_batch = any(getattr(s, "per_batch", False) for s in self._schedulers)
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        # Undo the step each scheduler took when it was built; only the first one starts.
        for scheduler in self._schedulers:
            scheduler.last_epoch -= 1
        first = self._schedulers[0]
        first._step_count = 0
        first.step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        """Advance one epoch of whichever schedule is current."""
        self._step_count += 1
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            _restart(scheduler)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> Dict[str, Any]:
        """The state, with each scheduler's own ``state_dict`` under ``_schedulers``."""
        return _combined_state(self)

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        _load_combined_state(self, state_dict)


class ChainedScheduler(LRScheduler):
    """Step several schedules at once, each acting on the rate the previous one left, so
    their factors multiply: ``ChainedScheduler([ConstantLR(opt, 0.1, 2), ExponentialLR(opt,
    0.9)])`` gives ``initial_lr * 0.9**epoch * (0.1 if epoch < 2 else 1)``.

    Args:
        schedulers: the schedules, all on the same optimizer.
        optimizer: that optimizer (default: the first scheduler's).

    ``per_batch`` is true when any of the schedulers steps per batch (see ``SequentialLR``).
    """

    def __init__(self, schedulers: Sequence[LRScheduler],
                 optimizer: Optional[Optimizer] = None) -> None:
        schedulers = list(schedulers)
        if optimizer is None and schedulers:
            optimizer = getattr(schedulers[0], "optimizer", None)
        if optimizer is not None:
            _check_optimizer(optimizer)
        self._schedulers = _check_schedulers("ChainedScheduler", schedulers, optimizer)
        self.optimizer = optimizer
        self.per_batch = any(getattr(s, "per_batch", False) for s in self._schedulers)
        self._last_lr = self._current_lrs()

    def step(self) -> None:
        """Step every scheduler once, in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()

    def state_dict(self) -> Dict[str, Any]:
        """The state, with each scheduler's own ``state_dict`` under ``_schedulers``."""
        return _combined_state(self)

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        _load_combined_state(self, state_dict)
