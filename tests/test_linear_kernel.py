"""The fused dense-layer kernels (`_core.linear_forward` / `linear_backward`) against NumPy,
and `nn.functional.linear` on the layouts and dtypes that take its fallback paths."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore import _core, nn


def layout(rng, rows, cols, kind, dtype):
    """A (rows, cols) array stored C-order, transposed, or as a strided slice."""
    if kind == "transposed":
        return rng.standard_normal((cols, rows)).astype(dtype).T
    if kind == "sliced":
        return rng.standard_normal((rows * 2, cols * 3 + 1)).astype(dtype)[::2, 1::3]
    return rng.standard_normal((rows, cols)).astype(dtype)


@st.composite
def layers(draw):
    n, fi, fo = draw(st.integers(0, 40)), draw(st.integers(1, 40)), draw(st.integers(1, 40))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kinds = st.sampled_from(["c", "transposed", "sliced"])
    x = layout(rng, n, fi, draw(kinds), dtype)
    w = layout(rng, fo, fi, draw(kinds), dtype)
    g = layout(rng, n, fo, draw(kinds), dtype)
    b = rng.standard_normal(fo).astype(dtype) if draw(st.booleans()) else None
    return x, w, b, g


@settings(max_examples=100, deadline=None)
@given(layers())
def test_forward_and_backward_match_numpy(case):
    x, w, b, g = case
    x64, w64, g64 = (a.astype(np.float64) for a in (x, w, g))
    tol = 1e-4 if x.dtype == np.float32 else 1e-11
    want = x64 @ w64.T + (0 if b is None else b)
    got = _core.linear_forward(x, w, b)
    assert got.dtype == x.dtype and got.shape == want.shape and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * x.shape[1])
    gx, gw, gb = _core.linear_backward(g, x, w)
    np.testing.assert_allclose(gx, g64 @ w64, rtol=tol, atol=tol * w.shape[0])
    np.testing.assert_allclose(gw, g64.T @ x64, rtol=tol, atol=tol * max(x.shape[0], 1))
    np.testing.assert_allclose(gb, g64.sum(axis=0), rtol=tol, atol=tol * max(x.shape[0], 1))


def test_bias_gradient_adds_rows_in_order_like_numpy():
    g = np.random.default_rng(0).standard_normal((257, 33)).astype(np.float32)
    x = np.ones((257, 2), np.float32)
    w = np.ones((33, 2), np.float32)
    _, _, gb = _core.linear_backward(g, x, w, False, False, True)
    np.testing.assert_array_equal(gb, g.sum(axis=0))


def test_backward_returns_none_for_what_is_not_needed():
    x, w, g = np.ones((2, 3)), np.ones((4, 3)), np.ones((2, 4))
    gx, gw, gb = _core.linear_backward(g, x, w, True, False, False)
    assert gx.shape == (2, 3) and gw is None and gb is None
    assert _core.linear_backward(g, x, w, False, False, False) == (None, None, None)


def test_errors_name_the_argument_and_shapes():
    x = np.ones((2, 3), np.float32)
    w = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"x has shape \(2, 3\) but weight \(4, 5\)"):
        _core.linear_forward(x, np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"bias has shape \(3,\) but expected \(4,\)"):
        _core.linear_forward(x, w, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="weight must have dtype"):
        _core.linear_forward(x, w.astype(np.float64))
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.linear_forward(x.astype(np.int64), w)
    with pytest.raises(ValueError, match="must be 2-D"):
        _core.linear_forward(np.ones(3, np.float32), w)
    with pytest.raises(ValueError, match="strides"):
        _core.linear_forward(x[::-1], w)
    with pytest.raises(ValueError, match=r"grad \(2, 5\).*expected grad \(2, 4\)"):
        _core.linear_backward(np.ones((2, 5), np.float32), x, w)


def test_functional_linear_takes_layouts_the_kernel_refuses():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)[::2]  # strided bias
    xt = dlcore.tensor(x[::-1], requires_grad=True)  # negative strides
    out = nn.functional.linear(xt, dlcore.tensor(w), dlcore.tensor(b))
    np.testing.assert_allclose(out.data, x[::-1] @ w.T + b, rtol=1e-5, atol=1e-6)
    out.backward(np.ones((5, 4), np.float32)[:, ::-1].copy())
    np.testing.assert_allclose(xt.grad.data, np.ones((5, 4)) @ w, rtol=1e-5)


def test_functional_linear_gradient_of_another_dtype_or_layout():
    w = dlcore.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    x = dlcore.tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    out = nn.functional.linear(x, w)
    out.backward(np.ones((2, 4)).T)  # float64 and transposed
    np.testing.assert_allclose(w.grad.data, np.ones((2, 4)) @ x.data)
    assert w.grad.dtype == np.float32


def test_functional_linear_float16_uses_numpy():
    x = np.ones((2, 3), np.float16)
    w = dlcore.tensor(np.ones((4, 3), np.float16), requires_grad=True)
    b = dlcore.tensor(np.zeros(4, np.float16), requires_grad=True)
    out = nn.functional.linear(x, w, b)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out.data, np.full((2, 4), 3, np.float16))
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.full((4, 3), 2, np.float16))
    np.testing.assert_array_equal(b.grad.data, np.full(4, 2, np.float16))


def test_weight_gradient_is_the_kernels_array_not_a_copy_and_not_shared():
    layer = nn.Linear(3, 2)
    x = dlcore.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    layer(x).sum().backward()
    grads = [layer.weight.grad.data, layer.bias.grad.data, x.grad.data]
    for i, a in enumerate(grads):
        assert a.flags.writeable and a.flags.owndata
        for other in grads[i + 1:]:
            assert not np.shares_memory(a, other)
    # A second backward accumulates without touching the first pass's arrays in place.
    first = layer.weight.grad.data
    before = first.copy()
    layer(x).sum().backward()
    np.testing.assert_array_equal(first, before)
    np.testing.assert_allclose(layer.weight.grad.data, 2 * before)


def test_linear_module_uses_a_weight_replaced_by_a_plain_tensor():
    layer = nn.Linear(3, 2)
    layer.weight = dlcore.tensor(np.zeros((2, 3), np.float32))  # not a Parameter
    out = layer(np.ones((1, 3), np.float32))
    np.testing.assert_allclose(out.data, layer.bias.data[None])
