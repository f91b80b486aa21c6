"""Whether operations record the autograd graph (switched by ``no_grad`` and friends)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Callable, Optional, Type, TypeVar


class _GradState(threading.local):
    # A class attribute is every thread's starting value, so reading ``_state.enabled`` never
    # needs a default: ``Tensor._from_op`` reads it directly on every operation.
    enabled = True


_state = _GradState()

F = TypeVar("F", bound=Callable[..., object])


def is_grad_enabled() -> bool:
    """True when new operations record how to differentiate themselves."""
    return _state.enabled


def _set(enabled: bool) -> None:
    _state.enabled = enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._previous = is_grad_enabled()
        _set(self._mode)

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        _set(self._previous)


class _GradModeContext:
    _mode = True

    def __enter__(self) -> None:
        self._previous = is_grad_enabled()
        _set(self._mode)

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        _set(self._previous)

    def __call__(self, fn: F) -> F:
        mode = self._mode

        def wrapper(*args: object, **kwargs: object) -> object:
            previous = is_grad_enabled()
            _set(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(previous)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = fn.__doc__
        return wrapper  # type: ignore[return-value]


class no_grad(_GradModeContext):
    """Run a block (or a decorated function) without recording gradients.

    Example:
        >>> with dlcore.no_grad():
        ...     predictions = model(x)
    """

    _mode = False


class enable_grad(_GradModeContext):
    """Turn gradient recording back on inside a ``no_grad`` block."""

    _mode = True
