"""Bad input across the package: a clear ValueError/TypeError, never a panic or a wrong answer.

Cases that belong to one module live in that module's test file; these cut across several
(the extension's borrow checks, unaligned arrays, ...).
"""

import threading

import numpy as np
import pytest

from dlcore import _core


# --------------------------------------------------------------------- arrays in use
def test_array_written_by_another_thread_gives_an_error_not_a_panic():
    # While one thread's matmul writes `out` with the GIL released, another thread passing
    # `out` to the extension must get a Python exception (rust-numpy's borrow check fails);
    # unwrapping that failure raised pyo3's PanicException and printed a Rust backtrace.
    a = np.random.default_rng(0).random((600, 600), dtype=np.float32)
    out = np.zeros((600, 600), np.float32)
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            _core.matmul(a, a, out)

    failures = []
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(300):
            for call in (lambda: _core.matmul(out[:2, :2], np.ones((2, 2), np.float32)),
                         lambda: _core.activation_forward("relu", out),
                         lambda: _core.softmax_rows(out),
                         lambda: _core.cross_entropy_forward(out, np.zeros(600, np.int64))):
                try:
                    call()
                except ValueError as err:
                    assert "another" in str(err) or "shares memory" in str(err), err
                except BaseException as err:  # PanicException derives from BaseException
                    failures.append(f"{type(err).__name__}: {err}")
    finally:
        stop.set()
        thread.join()
    assert not failures, failures[:3]


def test_out_errors_say_what_is_wrong():
    a = np.ones((3, 3), np.float32)
    read_only = np.zeros((3, 3), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="matmul: out is read-only"):
        _core.matmul(a, a, read_only)
    with pytest.raises(ValueError, match="matmul: out shares memory"):
        _core.matmul(a, a.copy(), a)
    with pytest.raises(ValueError, match="activation_forward: out is read-only"):
        _core.activation_forward("relu", a, read_only)
    with pytest.raises(ValueError, match="activation_forward: out shares memory"):
        _core.activation_forward("relu", a, a)
    with pytest.raises(ValueError, match="softmax: out shares memory"):
        _core.softmax_rows(a, a)
