"""``Optimizer``: parameter groups, per-parameter state, and one fused Rust call per step.

A subclass says which state buffers a parameter needs (``_state_names``), how they start
(``_initial_state``), which hyperparameters are valid (``_validate``) and which Rust kernel
updates a whole group (``_update``). The base class does the bookkeeping PyTorch users know:
``param_groups``, ``state``, ``zero_grad``, ``step``, ``add_param_group``,
``state_dict``/``load_state_dict``.

Speed: ``step`` makes one call into Rust per parameter group (one per dtype if a group mixes
float32 and float64), and the call releases the GIL for the whole group. What that call
needs (the lists of parameter arrays and state buffers, and an int64 array of step counts that
the kernel increments) is worked out once and kept in a plan, reused while the group's
parameters, their arrays, which of them have gradients, the state layout and the state itself
(see ``_state``) stay the same. A step then only collects the fresh gradient arrays: a few
microseconds of Python for a small model. ``state[p]["step"]`` is a 0-d view of those counts,
and a per-parameter scalar the kernel carries (NAdam's ``mu_product``) is likewise a 0-d view of
a float64 array the kernel updates.
"""

from __future__ import annotations

import copy
from typing import (
    Any,
    Callable,
    DefaultDict,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np

from .._grad_mode import enable_grad
from ..tensor import Tensor
from ..tensor_inplace import mark_all_written
from ._state import State

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

ParamsT = Union[Iterable[Tensor], Iterable[Dict[str, Any]]]


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


#: Marks a hyperparameter every parameter group must give (as PyTorch's ``optim.required``).
required = _RequiredParameter()


def check_range(name: str, value: Any, low: float = 0.0, high: Optional[float] = None,
                high_open: bool = False) -> None:
    """Raise ``ValueError("Invalid <name>: <value>")`` unless ``low <= value`` (and
    ``value <= high``, or ``< high`` when ``high_open``). NaN is always invalid; a value
    that is not a real number (a string, None) is a TypeError naming the hyperparameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Invalid {name}: expected a number, got {type(value).__name__} "
                        f"{value!r}")
    ok = low <= value
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        raise ValueError(f"Invalid {name}: {value}")


class _Call:
    """One Rust call of a group's step: the parameters of one dtype that have gradients."""

    __slots__ = ("positions", "select", "arrays", "buffers", "copies", "steps", "scalars")

    def __init__(self) -> None:
        self.positions: List[int] = []  # index of each parameter in the group
        self.select: Optional[List[int]] = []  # its index among the gradients; None = all
        self.arrays: List[np.ndarray] = []  # what Rust updates: p.data, or a contiguous copy
        self.buffers: List[List[np.ndarray]] = []  # one list per state buffer name
        self.copies: List[tuple] = []  # (p.data, contiguous copy) for non-contiguous params
        self.steps = np.zeros(0, dtype=np.int64)  # update counts; the kernel increments them
        self.scalars: List[np.ndarray] = []  # one float64 array per carried scalar state


class _Plan:
    __slots__ = ("group", "names", "datas", "has_grad", "calls", "state", "version")


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors (Parameters) to optimize, or of dicts, each a parameter
            group: ``{"params": [...], "lr": 0.1, ...}`` with its own hyperparameters.
        defaults: the hyperparameters of groups that do not set their own.

    Parameters must be float32 or float64 tensors; they are updated in place (``p.data`` is
    never rebound). A parameter whose ``.grad`` is None is skipped by ``step``.
    """

    def __init__(self, params: ParamsT, defaults: Dict[str, Any]) -> None:
        self._validate(defaults)
        self.defaults: Dict[str, Any] = dict(defaults)
        self.state = State()
        self.param_groups: List[Dict[str, Any]] = []
        self._plans: Dict[int, _Plan] = {}
        if isinstance(params, Tensor):
            raise TypeError(
                f"{self._name}: params must be an iterable of Tensors or of dicts, got a "
                "single Tensor (wrap it in a list)"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: parameters must be in an ordered collection (a "
                            "list), not a set, whose order changes between runs")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def state(self) -> DefaultDict[Tensor, Dict[str, Any]]:
        """Per-parameter state, ``{param: {"step": ..., "exp_avg": ..., ...}}``."""
        return self._state

    @state.setter
    def state(self, value: Dict[Tensor, Dict[str, Any]]) -> None:
        self._state = value if isinstance(value, State) else State(value)

    # ----------------------------------------------------------------- what subclasses give
    def _validate(self, hyper: Dict[str, Any]) -> None:
        """Raise ValueError naming any invalid hyperparameter of ``hyper``."""

    def _state_names(self, group: Dict[str, Any]) -> tuple:
        """The state buffers each parameter of ``group`` needs, in the kernel's order."""
        raise NotImplementedError(f"{type(self).__name__} must define _state_names()")

    def _initial_state(self, name: str, data: np.ndarray, group: Dict[str, Any]) -> np.ndarray:
        """A new state buffer ``name`` for a parameter whose array is ``data``."""
        return np.zeros(data.shape, dtype=data.dtype)

    def _update(self, group: Dict[str, Any], params: List[np.ndarray], grads: List[np.ndarray],
                buffers: List[Sequence[np.ndarray]], steps: np.ndarray,
                *scalars: np.ndarray) -> None:
        """Call the fused kernel on one group (all arrays of one dtype); it increments
        ``steps``, the update count of each parameter, and updates ``scalars`` (one float64
        array per entry of ``_scalar_state``; none for most optimizers)."""
        raise NotImplementedError(f"{type(self).__name__} must define _update()")

    #: Whether the state holds a ``"step"`` count (all but SGD, as in PyTorch).
    _counts_steps = True

    #: Per-parameter scalar states the kernel carries from step to step, as ``(name, initial
    #: value)`` pairs (NAdam's ``("mu_product", 1.0)``). ``_update`` gets one float64 array
    #: per entry, after ``steps``, holding each parameter's value; the kernel updates it.
    _scalar_state: Tuple[Tuple[str, float], ...] = ()

    @property
    def _name(self) -> str:
        return type(self).__name__

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones take the
        optimizer's defaults); useful for fine-tuning or adding layers while training."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        params = param_group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{self._name}: parameters must be in an ordered collection (a list), not a "
                "set, whose order changes between runs"
            )
        elif params is None:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry")
        else:
            params = list(params)
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: can only optimize Tensors, but parameter {i} "
                                f"is a {type(p).__name__}")
            if p.data.dtype not in _FLOAT_DTYPES:
                raise TypeError(f"{self._name}: parameter {i} has dtype {p.data.dtype}; "
                                "optimizers update float32 and float64 parameters")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: can't optimize a non-leaf Tensor "
                                 f"(parameter {i})")
            if id(p) in seen:
                raise ValueError(f"{self._name}: parameter {i} appears more than once in "
                                 "its parameter group")
            seen.add(id(p))
        for other in self.param_groups:
            if any(id(p) in seen for p in other["params"]):
                raise ValueError(f"{self._name}: some parameters appear in more than one "
                                 "parameter group")
        group = dict(param_group)
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"{self._name}: parameter group didn't specify a value of "
                                 f"required optimization parameter {name}")
            group.setdefault(name, default)
        self._validate(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (the default; cheaper, and the
        next ``backward`` allocates fresh ones), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.data.flags.writeable:
                    p.grad.data[...] = 0
                else:
                    p.grad = Tensor(np.zeros_like(p.data))

    # ----------------------------------------------------------------- the step
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Update every parameter that has a gradient, one fused Rust call per group.

        Args:
            closure: optional function that re-evaluates the model and returns the loss
                (it runs with gradients enabled, before the update).

        Returns:
            the closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: Dict[str, Any]) -> None:
        # This runs every step: plain loops and few calls (at a handful of parameters,
        # creating map objects or calling helpers costs more than the loop itself).
        params = group["params"]
        names = self._state_names(group)
        plan = self._plans.get(id(group))
        grads: Optional[List[np.ndarray]] = None
        if (plan is not None and plan.group is group and plan.names == names
                and plan.state is self._state and plan.version == self._state.version
                and len(plan.datas) == len(params)):
            # Reuse the plan if the parameters' arrays, and which have gradients, are the same.
            grads = []
            for p, data, has_grad in zip(params, plan.datas, plan.has_grad):
                g = p.grad
                if p.data is not data or (g is None) == has_grad:
                    grads = None
                    break
                if has_grad:
                    grads.append(g.data)
        if grads is None:
            plan = self._make_plan(group, names)
            grads = [p.grad.data for p, has in zip(params, plan.has_grad) if has]
        for call in plan.calls:
            call_grads = grads if call.select is None else [grads[i] for i in call.select]
            for data, contiguous in call.copies:
                np.copyto(contiguous, data)
            try:
                self._update(group, call.arrays, call_grads, call.buffers, call.steps,
                             *call.scalars)
            except (TypeError, ValueError):
                # Gradients of another dtype or layout than the kernel takes: convert and
                # retry (the kernel checks everything before it writes). Real errors recur.
                self._update(group, call.arrays, self._coerce_grads(call, call_grads),
                             call.buffers, call.steps, *call.scalars)
            for data, contiguous in call.copies:
                np.copyto(data, contiguous)
        # A graph recorded before this step saved the old values: backward through it now
        # would mix them with the new ones, so it raises instead (as PyTorch does).
        mark_all_written(p for p, has in zip(params, plan.has_grad) if has)

    def _coerce_grads(self, call: _Call, grads: List[np.ndarray]) -> List[np.ndarray]:
        out = []
        for pos, array, g in zip(call.positions, call.arrays, grads):
            g = np.asarray(g)
            if g.shape != array.shape:
                raise ValueError(f"{self._name}: the gradient of parameter {pos} has shape "
                                 f"{g.shape} but the parameter has shape {array.shape}")
            out.append(np.ascontiguousarray(g, dtype=array.dtype))
        return out

    def _make_plan(self, group: Dict[str, Any], names: tuple) -> _Plan:
        """Work out the Rust calls of a group's step, creating missing state."""
        plan = _Plan()
        plan.group = group
        plan.names = names
        plan.state = self._state
        params = group["params"]
        plan.datas = [p.data for p in params]
        plan.has_grad = [p.grad is not None for p in params]
        calls: Dict[np.dtype, _Call] = {}
        states: Dict[np.dtype, List[Dict[str, Any]]] = {}
        counts: Dict[np.dtype, List[int]] = {}
        n_grads = 0
        for pos, p in enumerate(params):
            if not plan.has_grad[pos]:
                continue
            data = p.data
            if data.dtype not in _FLOAT_DTYPES:
                raise TypeError(f"{self._name}: parameter {pos} has dtype {data.dtype}; "
                                "optimizers update float32 and float64 parameters")
            call = calls.setdefault(data.dtype, _Call())
            call.positions.append(pos)
            call.select.append(n_grads)
            n_grads += 1
            state = self.state[p]
            fresh = self._prepare_state(pos, data, state, group, names)
            states.setdefault(data.dtype, []).append(state)
            # SGD keeps no count: its kernel starts a fresh momentum buffer at count 0.
            count = int(state["step"]) if self._counts_steps else 0 if fresh else 1
            counts.setdefault(data.dtype, []).append(count)
            if data.flags.c_contiguous and data.flags.aligned:
                call.arrays.append(data)
            else:
                contiguous = np.array(data, order="C")  # aligned, as Rust needs
                call.arrays.append(contiguous)
                call.copies.append((data, contiguous))
        for dtype, call in calls.items():
            if len(call.positions) == n_grads:
                call.select = None
            call.buffers = [[state[name] for state in states[dtype]] for name in names]
            call.steps = np.array(counts[dtype], dtype=np.int64)
            if self._counts_steps:
                # Each state["step"] becomes a 0-d view of the counts the kernel increments.
                for i, state in enumerate(states[dtype]):
                    state["step"] = call.steps[i, ...]
            call.scalars = []
            for name, _ in self._scalar_state:
                values = np.array([float(state[name]) for state in states[dtype]], np.float64)
                call.scalars.append(values)
                for i, state in enumerate(states[dtype]):
                    state[name] = values[i, ...]
        plan.calls = list(calls.values())
        # Record the state's version last: the plan's own edits above are not news.
        plan.version = self._state.version
        self._plans[id(group)] = plan
        return plan

    def _prepare_state(self, pos: int, data: np.ndarray, state: Dict[str, Any],
                       group: Dict[str, Any], names: Sequence[str]) -> bool:
        """Create missing buffers and bring existing ones to the parameter's dtype and a
        contiguous layout; return whether any buffer was created now."""
        fresh = False
        if self._counts_steps and "step" not in state:
            state["step"] = np.zeros((), dtype=np.int64)
        for name, initial in self._scalar_state:
            if name not in state:
                state[name] = np.float64(initial)
        for name in names:
            buf = state.get(name)
            if buf is None:
                state[name] = self._initial_state(name, data, group)
                fresh = True
                continue
            buf = np.asarray(buf)
            if buf.shape != data.shape:
                raise ValueError(f"{self._name}: state '{name}' of parameter {pos} has shape "
                                 f"{buf.shape} but the parameter has shape {data.shape}")
            state[name] = np.ascontiguousarray(buf, dtype=data.dtype)
        return fresh

    # ----------------------------------------------------------------- saving and loading
    def state_dict(self) -> Dict[str, Any]:
        """A copy of the optimizer's state: ``{"state": {index: {...}}, "param_groups":
        [{hyperparameters..., "params": [index, ...]}]}``, parameters numbered in order
        across groups, arrays copied."""
        index: Dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {
                        k: v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v)
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore a state saved by ``state_dict`` (arrays are copied, and cast to each
        parameter's dtype). The groups must match this optimizer's in number and size, and
        every state array must have its parameter's shape."""
        try:
            saved_groups = state_dict["param_groups"]
            saved_state = state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(f"{self._name}: load_state_dict expects a dict with 'state' and "
                             "'param_groups', as state_dict() returns") from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{self._name}: loaded state dict has {len(saved_groups)} "
                             f"parameter groups but the optimizer has {len(self.param_groups)}")
        by_index: Dict[Any, Tensor] = {}
        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{self._name}: loaded parameter group {i} has {len(saved['params'])} "
                    f"parameters but the optimizer's group {i} has {len(group['params'])}"
                )
            by_index.update(zip(saved["params"], group["params"]))
            lacking = [k for k in self.defaults if k not in saved]
            if lacking:
                raise ValueError(f"{self._name}: loaded parameter group {i} lacks {self._name}'s "
                                 f"hyperparameters: {', '.join(lacking)} (a state dict of "
                                 "another optimizer?)")
            new_group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new_group["params"] = group["params"]
            self._validate(new_group)
            new_groups.append(new_group)
        scalar_names = {name for name, _ in self._scalar_state}
        new_state = State()
        for key, saved in saved_state.items():
            if key not in by_index:
                raise ValueError(f"{self._name}: loaded state refers to parameter {key}, "
                                 "which no parameter group has")
            p = by_index[key]
            state = {}
            for name, value in saved.items():
                if name == "step":
                    value = int(value)
                    if value < 0:
                        raise ValueError(f"{self._name}: loaded step count of parameter {key} "
                                         f"is {value}; counts cannot be negative")
                elif name in scalar_names:
                    value = np.float64(value)
                elif isinstance(value, np.ndarray):
                    if value.shape != p.data.shape:
                        raise ValueError(
                            f"{self._name}: loaded state '{name}' of parameter {key} has shape "
                            f"{value.shape} but the parameter has shape {p.data.shape}"
                        )
                    value = np.array(value, dtype=p.data.dtype, order="C", copy=True)
                else:
                    value = copy.deepcopy(value)
                state[name] = value
            new_state[p] = state
        self.state = new_state
        self.param_groups = new_groups
        self._plans.clear()

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["_plans"] = {}
        return state

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
