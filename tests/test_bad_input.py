"""Bad input across the package: a clear ValueError/TypeError, never a panic or a wrong answer.

Cases that belong to one module live in that module's test file; these cut across several
(the extension's borrow checks, unaligned arrays, ...).
"""

import threading

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import _core


def unaligned(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``array`` whose data starts one byte off its dtype's alignment
    (what ``np.frombuffer(..., offset=1)`` or a packed structured array gives)."""
    raw = np.zeros(array.nbytes + 1, np.uint8)
    out = np.ndarray(array.shape, array.dtype, buffer=raw.data, offset=1)
    out[...] = array
    assert not out.flags.aligned and out.flags.c_contiguous
    return out


# --------------------------------------------------------------------- unaligned arrays
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extension_reads_unaligned_inputs_and_refuses_unaligned_outputs(dtype):
    # A Rust slice over a misaligned pointer is undefined behaviour (a debug build aborts the
    # interpreter): inputs are copied first, outputs (written in place) are refused by name.
    a = np.arange(6, dtype=dtype).reshape(2, 3) - 2
    b = np.linspace(-1, 1, 6).astype(dtype).reshape(3, 2)
    ua, ub = unaligned(a), unaligned(b)
    np.testing.assert_allclose(_core.matmul(ua, ub), a @ b, rtol=1e-6)
    np.testing.assert_allclose(_core.matmul(ub.T, ua.T), b.T @ a.T, rtol=1e-6)
    np.testing.assert_array_equal(_core.activation_forward("relu", ua), np.maximum(a, 0))
    y = _core.activation_forward("sigmoid", a)
    np.testing.assert_array_equal(_core.activation_backward("sigmoid", ua, unaligned(y), ua),
                                  _core.activation_backward("sigmoid", a, y, a))
    np.testing.assert_array_equal(_core.log_softmax(ua), _core.log_softmax(a))
    labels = np.array([0, 2])
    losses, log_probs = _core.cross_entropy_forward(ua, unaligned(labels))
    np.testing.assert_array_equal(losses, _core.cross_entropy_forward(a, labels)[0])
    np.testing.assert_array_equal(
        _core.cross_entropy_backward(unaligned(log_probs), labels, unaligned(np.ones(2, dtype))),
        _core.cross_entropy_backward(log_probs, labels, np.ones(2, dtype)))
    with pytest.raises(ValueError, match="matmul: out is not aligned"):
        _core.matmul(a, b, unaligned(np.zeros((2, 2), dtype)))
    with pytest.raises(ValueError, match="activation_forward: out is not aligned"):
        _core.activation_forward("relu", a, unaligned(a))
    param = unaligned(np.ones(3, dtype))
    with pytest.raises(ValueError, match=r"sgd_step: params\[0\] is not aligned"):
        _core.sgd_step([param], [np.ones(3, dtype)], None, np.zeros(1, np.int64), 0.1)
    param = np.ones(3, dtype)
    _core.sgd_step([param], [unaligned(np.ones(3, dtype))], None, np.zeros(1, np.int64), 0.5)
    np.testing.assert_array_equal(param, np.full(3, 0.5, dtype))


def test_tensor_ops_work_on_unaligned_arrays():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3, 5)).astype(np.float32)
    ua, ub = unaligned(a), unaligned(b)
    np.testing.assert_allclose((dlcore.tensor(ua) @ dlcore.from_numpy(ub)).data, a @ b,
                               rtol=1e-5)
    np.testing.assert_allclose((dlcore.from_numpy(ua) @ dlcore.from_numpy(ub)).data, a @ b,
                               rtol=1e-5)
    np.testing.assert_array_equal(F.relu(dlcore.from_numpy(ua)).data, np.maximum(a, 0))
    np.testing.assert_allclose(F.softmax(dlcore.from_numpy(ua)).data.sum(axis=1), 1, rtol=1e-6)
    loss = F.cross_entropy(dlcore.from_numpy(ua), np.array([0, 1, 2, 0]))
    want = F.cross_entropy(a, np.array([0, 1, 2, 0]))
    np.testing.assert_allclose(loss.data, want.data, rtol=1e-6)


def test_optimizer_updates_an_unaligned_parameter_in_place():
    param = dlcore.nn.Parameter(unaligned(np.ones(5, np.float32)))
    param.grad = dlcore.tensor(unaligned(np.full(5, 2.0, np.float32)))
    dlcore.optim.SGD([param], lr=0.5).step()
    np.testing.assert_array_equal(param.data, np.zeros(5, np.float32))


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

