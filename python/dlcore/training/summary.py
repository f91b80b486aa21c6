"""``model.summary()``: Keras's table of layers, output shapes and parameter counts."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._grad_mode import no_grad
from ..tensor import Tensor

_WIDTHS = (34, 22, 12)


def summary(model: Any, input_shape: Optional[Sequence[int]] = None, dtype: Any = np.float32,
            print_fn: Callable[[str], Any] = print) -> None:
    """Print every sub-module with its type, own parameter count and (given the shape of one
    sample, ``input_shape``, without the batch dimension) its output shape.

    The shapes come from one forward pass of a batch of two zero samples, in eval mode and
    without gradients; every module gets its mode back afterwards. Counts are of
    Parameters (trainable: those that require grad); buffers such as batch norm's running
    statistics are not parameters, as in PyTorch.
    """
    shapes = _output_shapes(model, input_shape, dtype) if input_shape is not None else {}
    lines = [f'Model: "{type(model).__name__}"', "_" * sum(_WIDTHS),
             _row("Layer (type)", "Output Shape" if shapes else "", "Param #"),
             "=" * sum(_WIDTHS)]
    for name, module in model.named_modules():
        if module is model:
            continue
        depth = name.count(".")
        own = sum(p.data.size for p in module.parameters(recurse=False))
        label = "  " * depth + f"{name.rsplit('.', 1)[-1]} ({type(module).__name__})"
        lines.append(_row(label, shapes.get(id(module), ""), f"{own:,}"))
    params = list(model.parameters())
    total = sum(p.data.size for p in params)
    trainable = sum(p.data.size for p in params if p.requires_grad)
    lines += ["=" * sum(_WIDTHS), f"Total params: {total:,}",
              f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "_" * sum(_WIDTHS)]
    for line in lines:
        print_fn(line)


def _row(*cells: str) -> str:
    return "".join(cell.ljust(width - 1) + " " for cell, width in zip(cells, _WIDTHS)).rstrip()


def _output_shapes(model: Any, input_shape: Sequence[int], dtype: Any) -> Dict[int, str]:
    """``id(module) -> "(None, ...)"`` from one forward pass of two zero samples."""
    from .engine import modes_kept

    sample = tuple(int(n) for n in input_shape)
    if any(n < 0 for n in sample):
        raise ValueError(f"summary: input_shape must be non-negative sizes of one sample "
                         f"(without the batch dimension), got {tuple(input_shape)}")
    shapes: Dict[int, str] = {}

    def record(module: Any, inputs: Tuple[Any, ...], output: Any) -> None:
        shapes[id(module)] = _describe(output)

    handles = [m.register_forward_hook(record) for m in model.modules()]
    try:
        with modes_kept(model, False), no_grad():
            model(Tensor(np.zeros((2,) + sample, dtype=dtype)))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def _describe(output: Any) -> str:
    """An output's shape with the batch dimension shown as None, as Keras does."""
    if isinstance(output, (tuple, list)):
        return ", ".join(_describe(o) for o in output)
    shape: List[Any] = list(np.shape(output.data if isinstance(output, Tensor) else output))
    if shape:
        shape[0] = None
    return str(tuple(shape))
