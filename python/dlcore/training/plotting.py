"""The little matplotlib plumbing shared by ``History.plot`` and ``GradientMonitor.plot``.

matplotlib is optional (``pip install 'dlcore-rs[plot]'``). With a ``path`` the figure is
drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas: no GUI, no pyplot state,
safe in scripts, tests and threads. Without a path it is a pyplot figure, so notebooks show
it inline and scripts can ``plt.show()`` it.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Tuple


def _matplotlib(what: str) -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            f"{what} needs matplotlib, an optional dependency of dlcore: install it with "
            "pip install 'dlcore-rs[plot]' (or pip install matplotlib)"
        ) from None
    return matplotlib


def new_figure(what: str, path: Optional[str], ncols: int,
               size: Tuple[float, float] = (4.5, 3.4)) -> Tuple[Any, Any]:
    """A figure with ``ncols`` side-by-side axes (returned as a list)."""
    _matplotlib(what)
    figsize = (size[0] * ncols, size[1])
    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, ncols, squeeze=False)[0]
    else:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, ncols, figsize=figsize, squeeze=False)
        axes = axes[0]
    return fig, list(axes)


def finish(fig: Any, path: Optional[str]) -> Any:
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path), dpi=100)
    return fig
