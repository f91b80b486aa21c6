"""Containers: ``Sequential`` chains modules; ``ModuleList`` and ``ModuleDict`` hold them."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator, List, Mapping, Optional, Tuple, Union, overload

import numpy as np

from .module import Module


class Sequential(Module):
    """Apply modules one after another: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Also accepts one ``OrderedDict`` of named modules. Supports ``len``, iteration,
    indexing (a slice gives a new ``Sequential``) and ``append``.

    Example:
        >>> model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    """

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                if not isinstance(module, Module):
                    raise TypeError(f"Sequential: argument {index} must be a Module, got "
                                    f"{type(module).__name__}")
                self.add_module(str(index), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Module, Sequential]:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if not -len(items) <= index < len(items):
            raise IndexError(f"Sequential index {index} is out of range for {len(items)} modules")
        return items[index][1]


def _checked(owner: str, what: str, module: Any) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: {what} must be a Module, got {type(module).__name__}")
    return module


class ModuleList(Module):
    """A list of modules whose parameters are registered, as PyTorch's ``nn.ModuleList``.

    A plain Python list of layers hides them from ``parameters()``, ``state_dict()`` and the
    optimizers; this one registers them under the names ``"0"``, ``"1"``, ... It has no
    ``forward``: the owning module decides how its layers are called.

    Example:
        >>> class MLP(nn.Module):
        ...     def __init__(self, sizes):
        ...         super().__init__()
        ...         self.layers = nn.ModuleList(
        ...             nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        ...     def forward(self, x):
        ...         for layer in self.layers[:-1]:
        ...             x = layer(x).relu()
        ...         return self.layers[-1](x)
    """

    def __init__(self, modules: Optional[Iterable[Module]] = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _renumber(self, modules: List[Module]) -> None:
        self._modules.clear()
        for index, module in enumerate(modules):
            self._modules[str(index)] = module

    def _index(self, index: int) -> int:
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"ModuleList indices must be integers or slices, got "
                            f"{type(index).__name__}")
        size = len(self._modules)
        if not -size <= index < size:
            raise IndexError(f"ModuleList index {index} is out of range for {size} modules")
        return int(index) % size

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end."""
        self._modules[str(len(self._modules))] = _checked("ModuleList.append", "module", module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add each of ``modules`` at the end, in order."""
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend: modules must be an iterable of Modules, got "
                            f"a single {type(modules).__name__} (use append)")
        for index, module in enumerate(list(modules)):
            self.append(_checked("ModuleList", f"item {index}", module))
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (as ``list.insert``)."""
        modules = list(self._modules.values())
        modules.insert(index, _checked("ModuleList.insert", "module", module))
        self._renumber(modules)

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index`` (the last by default)."""
        modules = list(self._modules.values())
        module = modules.pop(self._index(index))
        self._renumber(modules)
        return module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> ModuleList: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Module, ModuleList]:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        self._modules[str(self._index(index))] = _checked("ModuleList", "item", module)

    def __delitem__(self, index: Union[int, slice]) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[self._index(index)]
        self._renumber(modules)

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList(list(self) + list(other))


class ModuleDict(Module):
    """A dict of named modules whose parameters are registered, as PyTorch's
    ``nn.ModuleDict``: insertion order, ``[]``, ``in``, ``keys/values/items``, ``update`` and
    ``pop``. Keys must be strings that are valid attribute names of no other kind (no dots).
    """

    def __init__(self, modules: Optional[Union[Mapping[str, Module],
                                               Iterable[Tuple[str, Module]]]] = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    @staticmethod
    def _key(key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict keys must be strings, got {type(key).__name__}")
        if not key or "." in key:
            raise KeyError(f"ModuleDict key {key!r} must be non-empty and contain no '.'")
        return key

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r}; it has {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self._modules[self._key(key)] = _checked("ModuleDict", f"value for {key!r}", module)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> List[str]:
        return list(self._modules.keys())

    def values(self) -> List[Module]:
        return list(self._modules.values())

    def items(self) -> List[Tuple[str, Module]]:
        return list(self._modules.items())

    def pop(self, key: str) -> Module:
        """Remove and return the module named ``key``."""
        module = self[key]
        del self._modules[key]
        return module

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules: Union[Mapping[str, Module], Iterable[Tuple[str, Module]]]) -> None:
        """Add or replace modules from a mapping or from ``(name, module)`` pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for entry in pairs:
            if not isinstance(entry, tuple) or len(entry) != 2:
                raise TypeError("ModuleDict.update: expected a mapping or (name, module) "
                                f"pairs, got an item {entry!r}")
            self[entry[0]] = entry[1]
