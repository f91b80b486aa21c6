"""``Optimizer.state``: per-parameter state dicts that notice when they are changed by hand.

An optimizer keeps, for each parameter group, a plan of the Rust call its step makes (the
lists of parameter arrays, state buffers and step counts), so a step need not rebuild those
lists in Python. The plan stays right as long as nobody rebinds an entry of the state: these
dicts count every such change in one number, ``version``, that the step compares with the
plan's. Updating a state array in place (``state[p]["exp_avg"][:] = 0``) is not a change of
the dict and needs no notice: the plan holds that very array.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Optional


def _counting(base: type, name: str) -> Callable[..., Any]:
    """``base.name``, preceded by ``self._touch()``."""
    method = getattr(base, name)

    def change(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._touch()
        return method(self, *args, **kwargs)

    change.__name__ = name
    change.__doc__ = method.__doc__
    return change


class ParamState(dict):
    """One parameter's state (``"step"``, ``"exp_avg"``, ...)."""

    # A class default, so that unpickling (which fills the dict before restoring attributes)
    # finds an owner.
    _owner: Optional[State] = None

    def _touch(self) -> None:
        if self._owner is not None:
            self._owner.version += 1

    __setitem__ = _counting(dict, "__setitem__")
    __delitem__ = _counting(dict, "__delitem__")
    __ior__ = _counting(dict, "__ior__")
    clear = _counting(dict, "clear")
    pop = _counting(dict, "pop")
    popitem = _counting(dict, "popitem")
    setdefault = _counting(dict, "setdefault")
    update = _counting(dict, "update")


class State(defaultdict):
    """Parameter -> ``ParamState``; a missing parameter gets an empty one (as PyTorch's
    ``defaultdict(dict)``). A dict stored here is copied into a ``ParamState``."""

    version = 0

    def __init__(self, items: Any = ()) -> None:
        super().__init__(dict)
        self.update(items)

    def __reduce__(self) -> Any:
        return (type(self), (), None, None, iter(self.items()))

    def _touch(self) -> None:
        self.version += 1

    def _own(self, value: Any) -> ParamState:
        if isinstance(value, ParamState) and value._owner is self:
            return value
        owned = ParamState(value)
        owned._owner = self
        return owned

    def __missing__(self, key: Any) -> ParamState:
        value = self[key] = self._own({})
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self._touch()
        super().__setitem__(key, self._own(value))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = {} if default is None else default
        return self[key]

    def __ior__(self, other: Any) -> State:
        self.update(other)
        return self

    __delitem__ = _counting(defaultdict, "__delitem__")
    clear = _counting(defaultdict, "clear")
    pop = _counting(defaultdict, "pop")
    popitem = _counting(defaultdict, "popitem")
