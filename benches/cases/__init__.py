"""The benchmark case registry that `benches/report.py` runs.

Each module `benches/cases/<family>.py` defines `cases() -> list[Case]`; report.py finds the
modules itself, so adding a family means adding one file. A case names one computation and
says how to do it with dlcore, with NumPy (the reference every ratio is taken against) and,
if PyTorch happens to be installed, with PyTorch. Inputs are built by `prepare` only when the
case runs, so a large case costs memory only while it is measured.

Example (a new file `benches/cases/relu.py`):

    def cases():
        def prepare():
            x = np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32)
            torch = optional_torch()
            tx = torch.from_numpy(x) if torch else None
            return Sides(
                dlcore=lambda: dlcore.nn.functional.relu(x),
                numpy=lambda: np.maximum(x, 0),
                torch=(lambda: torch.relu(tx)) if torch else None,
            )
        return [Case("relu 1M", prepare)]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Optional

__all__ = ["Case", "Sides", "optional_torch"]


@dataclass(frozen=True)
class Sides:
    """Zero-argument callables that each perform the case's computation once."""

    dlcore: Callable[[], Any]
    numpy: Callable[[], Any]
    torch: Optional[Callable[[], Any]] = None


@dataclass(frozen=True)
class Case:
    """One benchmark.

    Attributes:
        name: what the table shows, e.g. ``"matmul 64x784 @ 784x256"``.
        prepare: builds the inputs and returns the :class:`Sides` that use them.
        flops: floating-point operations per call, if meaningful (the table then shows
            GFLOP/s).
    """

    name: str
    prepare: Callable[[], Sides]
    flops: Optional[float] = None


@functools.cache
def optional_torch() -> Any:
    """The ``torch`` module if it imports, else None (PyTorch is never a dependency)."""
    try:
        import torch
    except ImportError:
        return None
    return torch
