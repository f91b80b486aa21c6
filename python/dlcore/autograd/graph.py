"""The recorded graph, made visible: ``tensor.grad_fn`` and ``print_graph``.

Every op that involves a tensor requiring gradients records its output's parents and a
backward function (the chain rule's local step). ``grad_fn`` shows that record as a node
named after the op (``MulBackward``), whose ``next_functions`` lead to the inputs' nodes, as
in PyTorch; leaves that require gradients end in ``AccumulateGrad``. ``print_graph`` draws the
whole tree.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional, Set, TextIO, Tuple, Union

from ..tensor import Tensor, _graph_freed, _SliceGrad

# Backward functions shared by several ops keep the op's name in a closure variable.
_NAMED_BY_CLOSURE = {"_activation": "name"}


def _op_name(backward: Any) -> str:
    """``MulBackward`` for the closure ``mul.<locals>.<lambda>``, and so on."""
    base = backward.__qualname__.split(".<locals>")[0].rsplit(".", 1)[-1]
    variable = _NAMED_BY_CLOSURE.get(base)
    if variable is not None and backward.__closure__:
        cells = dict(zip(backward.__code__.co_freevars, backward.__closure__))
        if variable in cells and isinstance(cells[variable].cell_contents, str):
            base = cells[variable].cell_contents
    words = base.strip("_").removeprefix("fused_").split("_")
    return "".join(word[:1].upper() + word[1:] for word in words) + "Backward"


class AccumulateGrad:
    """Where a gradient ends: a leaf tensor that requires grad (``variable``)."""

    name = "AccumulateGrad"
    next_functions: Tuple[Any, ...] = ()

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


class Node:
    """One recorded op: ``name``, ``next_functions`` (one entry per input: a ``Node``, an
    ``AccumulateGrad`` or None for an input that needs no gradient) and, called with the
    output's gradient, the inputs' gradients (the op's local chain-rule step)."""

    __slots__ = ("_tensor",)

    def __init__(self, tensor: Tensor) -> None:
        self._tensor = tensor

    @property
    def name(self) -> str:
        backward = self._tensor._backward
        if backward is _graph_freed:
            return "Freed"
        return _op_name(backward)

    @property
    def next_functions(self) -> Tuple[Union[Node, AccumulateGrad, None], ...]:
        return tuple(_node_of(parent) for parent in self._tensor._parents)

    def __call__(self, grad: Any) -> Any:
        grads = self._tensor._backward(grad)
        return tuple(g.dense() if isinstance(g, _SliceGrad) else g for g in grads)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and other._tensor is self._tensor

    def __hash__(self) -> int:
        return id(self._tensor)

    def __repr__(self) -> str:
        if self.name == "Freed":
            return "<freed: backward already ran on this graph (retain_graph=True keeps it)>"
        return f"<{self.name}>"


def _node_of(t: Tensor) -> Union[Node, AccumulateGrad, None]:
    if t._backward is not None:
        return Node(t)
    return AccumulateGrad(t) if t.requires_grad else None


def print_graph(tensor: Tensor, file: Optional[TextIO] = None) -> None:
    """Draw the graph that ``tensor.backward()`` would walk, from ``tensor`` to the leaves.

    Each line is an op (or a leaf) with the shape and dtype of what it produced; an op
    reached twice (a value used by two later ops) is drawn once and referred to after.

    Example:
        >>> x = dlcore.tensor([1.0, 2.0], requires_grad=True)
        >>> dlcore.autograd.print_graph((x * x).sum())
        SumBackward -> () float32
        └─ MulBackward -> (2,) float32
           ├─ AccumulateGrad: leaf (2,) float32
           └─ AccumulateGrad: leaf (2,) float32
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"print_graph: expected a Tensor, got {type(tensor).__name__}")
    lines: List[str] = []
    _draw(tensor, "", "", lines, set())
    print("\n".join(lines), file=file or sys.stdout)


def _describe(t: Tensor) -> str:
    return f"{tuple(t.shape)} {t.dtype}"


def _draw(t: Tensor, lead: str, rest: str, lines: List[str], seen: Set[int]) -> None:
    if t._backward is None:
        kind = "AccumulateGrad: leaf" if t.requires_grad else "constant"
        lines.append(f"{lead}{kind} {_describe(t)}")
        return
    name = Node(t).name
    if id(t) in seen:
        lines.append(f"{lead}{name} -> {_describe(t)} (drawn above)")
        return
    seen.add(id(t))
    lines.append(f"{lead}{name} -> {_describe(t)}")
    parents = t._parents
    for i, parent in enumerate(parents):
        last = i == len(parents) - 1
        _draw(parent, rest + ("└─ " if last else "├─ "), rest + ("   " if last else "│  "),
              lines, seen)
