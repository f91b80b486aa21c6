"""Progress output of ``fit``, as Keras prints it.

- ``verbose=0``: silent. ``verbose=2``: one line per epoch.
- ``verbose=1`` in a terminal: one live line per epoch (bar, batches done, ETA, running loss
  and metrics) redrawn in place at most every ``interval`` seconds, then overwritten by the
  epoch's summary line. When the stream is not a terminal (CI, log files) only the summary
  lines are written, so logs get one line per epoch and no control characters.
- In Jupyter: a tqdm notebook bar when tqdm is installed (``pip install 'dlcore-rs[progress]'``),
  otherwise the same single updating line as in a terminal.
- ``verbose='auto'``: 1 in a terminal or a notebook, 2 otherwise.

tqdm is used only in notebooks, where its widget is better than a text line; in terminals
our own line keeps the Keras layout (and the summary) without the dependency.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, Callable, Dict, List, Optional, TextIO, Union

from .callbacks import Callback, Logs

Verbose = Union[int, str]

# The ProgressBar whose live line is on screen, if any: messages must end that line first.
_live_bar: Optional[ProgressBar] = None


def print_message(text: str) -> None:
    """Print a callback's message on its own line, ending a pending live progress line."""
    if _live_bar is not None:
        _live_bar.close_line()
    print(text)


def in_notebook() -> bool:
    """True inside a Jupyter (or Colab) kernel."""
    if "google.colab" in sys.modules:
        return True
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - any failure means "not a notebook"
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # closed or detached streams
        return False


def resolve_verbose(verbose: Verbose, stream: Optional[TextIO] = None) -> int:
    """``'auto'`` -> 1 in a terminal or notebook, 2 otherwise; 0, 1, 2 pass through."""
    if verbose == "auto":
        stream = sys.stdout if stream is None else stream
        return 1 if is_terminal(stream) or in_notebook() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def format_value(value: Any) -> str:
    """Keras' style: 4 decimals, scientific notation for tiny values."""
    if isinstance(value, float) or hasattr(value, "__float__"):
        v = float(value)
        return f"{v:.4e}" if v != 0 and abs(v) < 1e-3 else f"{v:.4f}"
    return str(value)


def format_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"


def format_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def format_logs(logs: Dict[str, Any]) -> str:
    return " - ".join(f"{key}: {format_value(value)}" for key, value in logs.items())


class ProgressBar(Callback):
    """The progress display ``fit`` adds for ``verbose`` 1 and 2 (pass one in ``callbacks``
    to configure it; ``fit`` then adds none).

    Args:
        verbose: 1 (live line in terminals and notebooks, summary line per epoch) or 2
            (summary line per epoch only).
        stream: where to write (default: ``sys.stdout`` at the start of training).
        interval: minimum seconds between redraws of the live line.
        width: characters of the bar.
        clock: the time source (tests pass a fake one).
    """

    def __init__(self, verbose: int = 1, stream: Optional[TextIO] = None,
                 interval: float = 0.1, width: int = 30,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if verbose not in (1, 2):
            raise ValueError(f"ProgressBar: verbose must be 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self.stream = stream
        self.interval = float(interval)
        self.width = int(width)
        self.clock = clock
        self._live_width = 0
        self._tqdm: Any = None

    # ----------------------------------------------------------------- setup
    def on_train_begin(self, logs: Logs = None) -> None:
        self._out = self.stream if self.stream is not None else sys.stdout
        notebook = in_notebook()
        self.dynamic = self.verbose == 1 and (is_terminal(self._out) or notebook)
        self._tqdm_class = _notebook_tqdm() if self.dynamic and notebook else None

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._epoch_label = f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"
        self._steps = self.params.get("steps")
        self._start = self.clock()
        self._last_draw = self._start
        self._done = 0
        if self._tqdm_class is not None:
            self._tqdm = self._tqdm_class(total=self._steps, desc=self._epoch_label,
                                          leave=True, unit="batch")

    # ----------------------------------------------------------------- per batch
    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._done = batch + 1
        if not self.dynamic:
            return
        if self._tqdm is not None:
            self._tqdm.update(1)
            self._tqdm.set_postfix_str(format_logs(logs or {}), refresh=False)
            return
        now = self.clock()
        if now - self._last_draw < self.interval or self._done == self._steps:
            return  # the last batch is drawn by the summary at the end of the epoch
        self._last_draw = now
        elapsed = now - self._start
        parts = [self._epoch_label, self._counter()]
        if self._steps:
            eta = elapsed / self._done * (self._steps - self._done)
            parts.append(f"ETA: {format_duration(eta)}")
        line = " - ".join([" ".join(parts[:2])] + parts[2:] + _nonempty(format_logs(logs or {})))
        self._draw_live(line)

    # ----------------------------------------------------------------- per epoch
    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        elapsed = self.clock() - self._start
        logs_text = format_logs(logs or {})
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(logs_text, refresh=False)
            self._tqdm.close()
            self._tqdm = None
            return
        timing = format_duration(elapsed)
        if self._done:
            timing += f" {format_per_step(elapsed / self._done)}"
        if self.verbose == 2:
            head = self._epoch_label
        else:
            head = f"{self._epoch_label} {self._counter(final=True)}"
        line = " - ".join([head, timing] + _nonempty(logs_text))
        if self._live_width:
            line = "\r" + line.ljust(self._live_width)
        self._live_width = 0
        self._out.write(line + "\n")
        self._out.flush()
        _forget(self)

    def close_line(self) -> None:
        """End a pending live line (before a message, or when training is interrupted)."""
        global _live_bar
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
        if self._live_width:
            self._out.write("\n")
            self._out.flush()
            self._live_width = 0
        if _live_bar is self:
            _live_bar = None

    # ----------------------------------------------------------------- drawing
    def _counter(self, final: bool = False) -> str:
        total = self._steps
        if not total:
            return f"{self._done}/?"
        digits = len(str(total))
        done = total if final and self._done >= total else self._done
        filled = int(self.width * done / total)
        if done >= total:
            bar = "=" * self.width
        else:
            bar = "=" * max(filled - 1, 0) + (">" if filled else "") + "." * (self.width - filled)
        return f"{done:>{digits}}/{total} [{bar}]"

    def _draw_live(self, line: str) -> None:
        global _live_bar
        _live_bar = self
        columns = shutil.get_terminal_size((80, 24)).columns
        line = line[: max(columns - 1, 20)]
        self._out.write("\r" + line.ljust(self._live_width))
        self._out.flush()
        self._live_width = max(len(line), self._live_width)


def _forget(bar: ProgressBar) -> None:
    global _live_bar
    if _live_bar is bar:
        _live_bar = None


def _nonempty(text: str) -> List[str]:
    return [text] if text else []


def _notebook_tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm
