"""The fused LSTM and GRU cell kernels behind nn.LSTM and nn.GRU, against NumPy: values in
float32 and float64, gradients against a NumPy backward written from the chain rule, and
errors that name the argument and its shape. (The layers' tests, with float64 gradchecks of
every parameter, are in test_recurrent.py.)"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import _core


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_reference(gates, c_prev, dh, dc):
    """Forward ``(h, c)`` and backward ``(dgates, dc_prev)`` of one LSTM step."""
    i, f, g, o = np.split(gates, 4, axis=1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c_prev + i * g
    tc = np.tanh(c)
    h = o * tc
    dcell = dc + dh * o * (1 - tc**2)
    dgates = np.concatenate([dcell * g * i * (1 - i), dcell * c_prev * f * (1 - f),
                             dcell * i * (1 - g**2), dh * tc * o * (1 - o)], axis=1)
    return h, c, dgates, dcell * f


def gru_reference(gx, gh, h_prev, dh):
    """Forward ``h`` and backward ``(dgx, dgh, dh_prev)`` of one GRU step."""
    xr, xz, xn = np.split(gx, 3, axis=1)
    hr, hz, hn = np.split(gh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    h = (1 - z) * n + z * h_prev
    dn = dh * (1 - z) * (1 - n**2)
    dz = dh * (h_prev - n) * z * (1 - z)
    dr = dn * hn * r * (1 - r)
    return (h, np.concatenate([dr, dz, dn], axis=1), np.concatenate([dr, dz, dn * r], axis=1),
            dh * z)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(0, 40), hidden=st.integers(1, 70),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_lstm_cell_matches_numpy(rows, hidden, dtype, seed):
    rng = np.random.default_rng(seed)
    gates = (3 * rng.standard_normal((rows, 4 * hidden))).astype(dtype)
    c_prev, dh, dc = (rng.standard_normal((rows, hidden)).astype(dtype) for _ in range(3))
    hc, act = _core.lstm_cell(gates, c_prev)
    dgates, dc_prev = _core.lstm_cell_backward(act, c_prev, hc[1], np.stack([dh, dc]))
    want = lstm_reference(*(a.astype(np.float64) for a in (gates, c_prev, dh, dc)))
    tol = 2e-6 if dtype == np.float32 else 1e-13
    for got, expected in zip((hc[0], hc[1], dgates, dc_prev), want):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(0, 40), hidden=st.integers(1, 70),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_gru_cell_matches_numpy(rows, hidden, dtype, seed):
    rng = np.random.default_rng(seed)
    gx, gh = (3 * rng.standard_normal((rows, 3 * hidden))).astype(dtype), \
        (3 * rng.standard_normal((rows, 3 * hidden))).astype(dtype)
    h_prev, dh = (rng.standard_normal((rows, hidden)).astype(dtype) for _ in range(2))
    h, saved = _core.gru_cell(gx, gh, h_prev)
    grads = _core.gru_cell_backward(saved, gh, h_prev, dh)
    want = gru_reference(*(a.astype(np.float64) for a in (gx, gh, h_prev, dh)))
    tol = 2e-6 if dtype == np.float32 else 1e-13
    for got, expected in zip((h, *grads), want):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def test_large_batches_split_across_threads_give_the_same_rows():
    rng = np.random.default_rng(1)
    gates, c_prev = rng.standard_normal((500, 4 * 64)), rng.standard_normal((500, 64))
    hc, _ = _core.lstm_cell(gates, c_prev)
    one, _ = _core.lstm_cell(gates[123:124].copy(), c_prev[123:124].copy())
    np.testing.assert_array_equal(hc[:, 123], one[:, 0])


def test_saturated_gates_stay_finite():
    gates = np.array([[1e4, -1e4, 1e4, -1e4], [-1e4, 1e4, -1e4, 1e4]], np.float32)
    hc, act = _core.lstm_cell(gates, np.ones((2, 1), np.float32))
    assert np.isfinite(hc).all() and np.isfinite(act).all()
    np.testing.assert_allclose(hc[1], [[1.0], [1.0]], atol=1e-6)  # c = f * 1 + i * g


def test_errors_name_the_argument_and_shape():
    g, c = np.zeros((2, 8)), np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"lstm_cell: gates must be 2-D \(N, 4 \* hidden_size\)"
                                         r", got shape \(2, 7\)"):
        _core.lstm_cell(np.zeros((2, 7)), c)
    with pytest.raises(ValueError, match=r"lstm_cell: c_prev has shape \(2, 3\) but expected "
                                         r"\(2, 2\)"):
        _core.lstm_cell(g, np.zeros((2, 3)))
    with pytest.raises(TypeError, match="lstm_cell: c_prev must have dtype"):
        _core.lstm_cell(g, c.astype(np.float32))
    with pytest.raises(ValueError, match="lstm_cell: gates must be C-contiguous"):
        _core.lstm_cell(np.zeros((8, 2)).T, c)
    with pytest.raises(TypeError, match="gru_cell: gx must be a float32 or float64"):
        _core.gru_cell(np.zeros((2, 6), np.int64), np.zeros((2, 6)), c)
    h, saved = _core.gru_cell(np.zeros((2, 6)), np.zeros((2, 6)), c)
    with pytest.raises(ValueError, match=r"gru_cell_backward: grad has shape \(2, 3\) but "
                                         r"expected \(2, 2\)"):
        _core.gru_cell_backward(saved, np.zeros((2, 6)), c, np.zeros((2, 3)))
