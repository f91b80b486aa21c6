"""``Module`` and ``Parameter``: the building blocks of networks, with PyTorch's conventions."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from itertools import count
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple

import numpy as np

from ..tensor import _NO_GPU, Tensor, _dtype_after_device, check_real_dtype
from ..tensor_inplace import mark_all_written
from ..training.keras_api import KerasMixin


class Parameter(Tensor):
    """A tensor that is a learnable weight: it requires grad, and assigning it to a
    ``Module`` attribute registers it, so ``module.parameters()`` finds it."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        array = data.data if isinstance(data, Tensor) else np.asarray(data)
        check_real_dtype(array.dtype, "Parameter", "data")
        if array.dtype.kind != "f":
            array = array.astype(np.float32)
        super().__init__(array, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _warn_if_hidden(owner: Module, name: str, value: Any) -> None:
    """Warn when a plain list, tuple or dict holding modules or parameters is assigned: its
    parameters stay unregistered, so ``parameters()``, ``state_dict()`` and the optimizers
    would silently leave them out (PyTorch says nothing; this is the usual first bug)."""
    items = value.values() if isinstance(value, dict) else value
    kinds = {type(item).__name__ for item in items if isinstance(item, (Module, Parameter))}
    if not kinds:
        return
    container = "nn.ModuleDict" if isinstance(value, dict) else "nn.ModuleList"
    if all(isinstance(item, Parameter) for item in items
           if isinstance(item, (Module, Parameter))):
        fix = "assign each Parameter to its own attribute (or register_parameter)"
    else:
        fix = f"use {container}"
    warnings.warn(
        f"{type(owner).__name__}.{name}: a plain {type(value).__name__} holding "
        f"{', '.join(sorted(kinds))}; their parameters are not registered, so parameters(), "
        f"state_dict() and optimizers will not see them. To register them, {fix}.",
        UserWarning, stacklevel=3)


class Module(KerasMixin):
    """Base class of layers and models.

    Subclasses set parameters and sub-modules as attributes in ``__init__`` and compute in
    ``forward``; calling the module calls ``forward``.

    Example:
        >>> class TwoLayer(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = nn.Linear(4, 8)
        ...         self.out = nn.Linear(8, 1)
        ...     def forward(self, x):
        ...         return self.out(self.hidden(x).relu())
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----------------------------------------------------------------- registration
    def _registries(self) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Any]]:
        try:
            return self._parameters, self._buffers, self._modules
        except AttributeError:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before "
                "assigning parameters or sub-modules"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        params, buffers, modules = self._registries()
        for registry in (params, buffers, modules):
            if name in registry and not (registry is buffers and not isinstance(
                    value, (Parameter, Module))):
                # Re-assigning a parameter or sub-module keeps its place (and the state
                # dict's order), as PyTorch does.
                if (registry is params and isinstance(value, Parameter)) or (
                        registry is modules and isinstance(value, Module)):
                    continue
                del registry[name]
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        elif name in buffers or (value is None and name in params):
            buffers[name] = _as_buffer(value)
        else:
            if type(value) in (list, tuple, dict):
                _warn_if_hidden(self, name, value)
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails.
        for registry in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(registry)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got "
                            f"{type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """State that is saved with the model but not trained (e.g. batch-norm statistics)."""
        self._buffers[name] = _as_buffer(value)
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Optional[Module]) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._modules[name] = module

    # ----------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "", memo: Optional[Set[int]] = None
                      ) -> Iterator[Tuple[str, Module]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[Tuple[str, Module]]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[Tuple[str, Parameter]]:
        """``(name, parameter)`` pairs; a parameter shared by two modules appears once."""
        seen: Set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True
                      ) -> Iterator[Tuple[str, Tensor]]:
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, buf in module._buffers.items():
                if buf is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buf

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    # ----------------------------------------------------------------- modes and grads
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout drops, batch norm uses batch statistics)."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters (set them to None, or to zeros)."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.data = np.zeros_like(param.data)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every sub-module (children first) and on this module."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Convert every floating-point parameter and buffer to ``dtype`` in place:
        ``to(dtype)``, ``to(dtype=...)``.

        A device is accepted when it is the CPU (``to("cpu")``, ``to(device)``, ``to("cpu",
        dtype)``), so ported PyTorch code that moves models keeps working; any other device
        is refused (dlcore runs on the CPU only).
        """
        dtype = _dtype_after_device(f"{type(self).__name__}.to", args, kwargs)
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: parameters must have a float dtype, "
                            f"got {dtype}")
        for param in self.parameters():
            param.data = param.data.astype(dtype)
            if param.grad is not None:
                param.grad.data = param.grad.data.astype(dtype)
        for _, buf in self.named_buffers():
            if buf.data.dtype.kind == "f":
                buf.data = buf.data.astype(dtype)
        return self

    def cpu(self) -> Module:
        """The module itself: its parameters live in main memory."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Module:
        raise RuntimeError(_NO_GPU)

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # ----------------------------------------------------------------- state
    def state_dict(self, prefix: str = "") -> OrderedDict[str, np.ndarray]:
        """Every parameter and persistent buffer by dotted name, as NumPy arrays.

        The arrays are copies: training on afterwards does not change a saved state.
        """
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if param is not None:
                    state[_join(module_name, name)] = param.data.copy()
            for name, buf in module._buffers.items():
                if buf is not None and name not in module._non_persistent:
                    state[_join(module_name, name)] = buf.data.copy()
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True
                        ) -> Tuple[List[str], List[str]]:
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Raises ValueError naming every missing or unexpected key (when ``strict``) and any
        shape mismatch, TypeError for a value that cannot be cast to its parameter's dtype;
        nothing is copied unless everything fits. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping of names to arrays (what "
                            f"state_dict() returns), got {type(state_dict).__name__}")
        targets: Dict[str, Tensor] = {}
        for module_name, module in self.named_modules():
            for name, param in module._parameters.items():
                if param is not None:
                    targets[_join(module_name, name)] = param
            for name, buf in module._buffers.items():
                if buf is not None and name not in module._non_persistent:
                    targets[_join(module_name, name)] = buf
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        problems, dtype_problems = [], []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = value.data if isinstance(value, Tensor) else np.asarray(value)
            if array.shape != target.data.shape:
                problems.append(f"{key}: shape {array.shape} in the state dict but "
                                f"{target.data.shape} in the model")
            if not np.can_cast(array.dtype, target.data.dtype, casting="same_kind"):
                dtype_problems.append(f"{key}: dtype {array.dtype} in the state dict cannot be "
                                      f"cast to the model's {target.data.dtype}")
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        if dtype_problems:
            raise TypeError(f"load_state_dict for {type(self).__name__}: "
                            + "; ".join(dtype_problems))
        for key, target in targets.items():
            if key in state_dict:
                value = state_dict[key]
                array = value.data if isinstance(value, Tensor) else np.asarray(value)
                np.copyto(target.data, array, casting="same_kind")
        mark_all_written(t for key, t in targets.items() if key in state_dict)
        return missing, unexpected

    # ----------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        hooks = self.__dict__.get("_forward_hooks")
        if hooks:
            for hook in list(hooks.values()):
                replaced = hook(self, args, out)
                if replaced is not None:
                    out = replaced
        return out

    def register_forward_hook(self, hook: Callable[[Module, Tuple[Any, ...], Any], Any]
                              ) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward pass, as in PyTorch: to
        look at activations (``output`` is a Tensor; ``.numpy()`` gives its values) or to
        replace them (a hook that returns a value replaces the output). Returns a handle
        whose ``remove()`` unregisters the hook.

        Example:
            >>> seen = []
            >>> handle = model[0].register_forward_hook(lambda m, i, o: seen.append(o.shape))
            >>> model(x); handle.remove()
        """
        if not callable(hook):
            raise TypeError(f"register_forward_hook: hook must be callable, got "
                            f"{type(hook).__name__}")
        hooks = self.__dict__.get("_forward_hooks")
        if hooks is None:
            self._registries()  # raises the "call super().__init__()" error
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def extra_repr(self) -> str:
        """Hyperparameters shown in ``repr``; layers override it."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n" + "\n".join(lines) + "\n)"

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))


class RemovableHandle:
    """What ``register_forward_hook`` returns: ``remove()`` unregisters the hook."""

    _next_id = count()

    def __init__(self, hooks: Dict[int, Any]) -> None:
        self.hooks = hooks
        self.id = next(RemovableHandle._next_id)

    def remove(self) -> None:
        """Unregister the hook (again is harmless)."""
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _as_buffer(value: Any) -> Optional[Tensor]:
    if value is None or isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value))
