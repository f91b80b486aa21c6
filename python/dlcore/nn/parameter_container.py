"""``ParameterList`` and ``ParameterDict``: registered collections of parameters.

A plain list or dict of ``Parameter``s hides them from ``parameters()``, ``state_dict()``
and the optimizers. These hold them in the module's own parameter registry instead, under
the names ``"0"``, ``"1"``, ... (list) or their keys (dict), exactly as PyTorch's do, so a
model's ``state_dict`` has keys such as ``"scales.0"`` or ``"gains.red"``.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, List, Mapping, Optional, Tuple, Union, overload

import numpy as np

from ..tensor import Tensor
from .module import Module, Parameter


def _as_parameter(owner: str, value: Any) -> Parameter:
    """A Parameter as it is; a Tensor or NumPy array wrapped in one (sharing its data), as
    PyTorch wraps plain tensors."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, (Tensor, np.ndarray)):
        return Parameter(value)
    raise TypeError(f"{owner}: expected a Parameter, Tensor or NumPy array, got "
                    f"{type(value).__name__}")


def _describe(index: Any, param: Parameter) -> str:
    size = "x".join(str(n) for n in param.shape)
    return f"  ({index}): Parameter containing: [{param.dtype} of size {size}]"


def _listing(owner: Module, items: Iterable[Tuple[Any, Parameter]]) -> str:
    lines = [_describe(key, param) for key, param in items]
    if not lines:
        return f"{type(owner).__name__}()"
    return f"{type(owner).__name__}(\n" + "\n".join("  " + line for line in lines) + "\n)"


class ParameterList(Module):
    """A list of parameters registered with the module, as PyTorch's ``nn.ParameterList``:
    indexing (a slice gives a new ``ParameterList`` of the same parameters), assignment,
    ``len``, iteration, ``append``, ``extend`` and ``+=``. Tensors and arrays are wrapped in
    ``Parameter``.

    Example:
        >>> class Mixture(nn.Module):
        ...     def __init__(self, k):
        ...         super().__init__()
        ...         self.means = nn.ParameterList(dlcore.randn(2) for _ in range(k))
        >>> list(Mixture(3).state_dict())
        ['means.0', 'means.1', 'means.2']
    """

    def __init__(self, values: Optional[Iterable[Any]] = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def _index(self, index: Any) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"ParameterList indices must be integers or slices, got "
                            f"{type(index).__name__}")
        size = len(self._parameters)
        if not -size <= index < size:
            raise IndexError(f"ParameterList index {index} is out of range for {size} "
                             f"parameters")
        return int(index) % size

    def append(self, value: Any) -> ParameterList:
        """Add ``value`` (a Parameter, or a Tensor/array to wrap in one) at the end."""
        param = _as_parameter("ParameterList.append", value)
        self.register_parameter(str(len(self._parameters)), param)
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Append each of ``values`` in order."""
        if isinstance(values, (Tensor, np.ndarray)):
            raise TypeError("ParameterList.extend: values must be an iterable of parameters, "
                            f"got a single {type(values).__name__} (use append)")
        for value in list(values):
            self.append(value)
        return self

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(list(self._parameters.values()))

    @overload
    def __getitem__(self, index: int) -> Parameter: ...

    @overload
    def __getitem__(self, index: slice) -> ParameterList: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Parameter, ParameterList]:
        params = list(self._parameters.values())
        if isinstance(index, slice):
            return ParameterList(params[index])
        return params[self._index(index)]

    def __setitem__(self, index: int, value: Any) -> None:
        self._parameters[str(self._index(index))] = _as_parameter("ParameterList", value)

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def __repr__(self) -> str:
        return _listing(self, enumerate(self))


class ParameterDict(Module):
    """A dict of named parameters registered with the module, as PyTorch's
    ``nn.ParameterDict``: insertion order, ``[]``, ``in``, ``keys/values/items``, ``get``,
    ``setdefault``, ``update``, ``pop``, ``popitem``, ``copy`` and ``clear``. Keys are
    non-empty strings without ``'.'``; tensors and arrays are wrapped in ``Parameter``.

    Example:
        >>> gains = nn.ParameterDict({"red": dlcore.ones(1), "blue": dlcore.ones(1)})
        >>> list(gains.state_dict())
        ['red', 'blue']
    """

    def __init__(self, parameters: Optional[Union[Mapping[str, Any],
                                                  Iterable[Tuple[str, Any]]]] = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _key(key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {type(key).__name__}")
        if not key or "." in key:
            raise KeyError(f"ParameterDict key {key!r} must be non-empty and contain no '.'")
        return key

    def __getitem__(self, key: str) -> Parameter:
        if key not in self._parameters:
            raise KeyError(f"ParameterDict has no parameter {key!r}; it has "
                           f"{list(self._parameters)}")
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        param = _as_parameter(f"ParameterDict value for {key!r}", value)
        self.register_parameter(self._key(key), param)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._parameters))

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def keys(self) -> List[str]:
        return list(self._parameters.keys())

    def values(self) -> List[Parameter]:
        return list(self._parameters.values())

    def items(self) -> List[Tuple[str, Parameter]]:
        return list(self._parameters.items())

    def get(self, key: str, default: Any = None) -> Any:
        return self._parameters.get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Parameter:
        """``self[key]``, first setting it to ``default`` when absent."""
        if key not in self._parameters:
            self[key] = default
        return self._parameters[key]

    def pop(self, key: str) -> Parameter:
        """Remove and return the parameter named ``key``."""
        param = self[key]
        del self._parameters[key]
        return param

    def popitem(self) -> Tuple[str, Parameter]:
        """Remove and return the most recently inserted ``(key, parameter)`` pair."""
        if not self._parameters:
            raise KeyError("popitem(): ParameterDict is empty")
        return self._parameters.popitem()

    def clear(self) -> None:
        self._parameters.clear()

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same parameters (not copies of them)."""
        return ParameterDict(self.items())

    def update(self, parameters: Union[Mapping[str, Any], Iterable[Tuple[str, Any]]]) -> None:
        """Add or replace parameters from a mapping or from ``(key, value)`` pairs."""
        pairs = parameters.items() if isinstance(parameters, Mapping) else parameters
        for entry in pairs:
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise TypeError("ParameterDict.update: expected a mapping or (key, value) "
                                f"pairs, got an item {entry!r}")
            self[entry[0]] = entry[1]

    def __repr__(self) -> str:
        return _listing(self, self.items())
