"""Padding layers (ZeroPad, ConstantPad, ReflectionPad, ReplicationPad, CircularPad; 1-d and
2-d): forward against np.pad, gradients against finite differences, PyTorch's limits on pad
sizes, input ranks, reprs and bad arguments."""

import numpy as np
import pytest
from helpers import check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore import nn

RNG = np.random.default_rng(0)

NUMPY_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
LAYERS_1D = {"reflect": nn.ReflectionPad1d, "replicate": nn.ReplicationPad1d,
             "circular": nn.CircularPad1d}
LAYERS_2D = {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d,
             "circular": nn.CircularPad2d}


def reference(x, padding, mode, value=0.0):
    """np.pad with PyTorch's (left, right[, top, bottom]) order, last dimension first."""
    widths = [(0, 0)] * x.ndim
    for i in range(len(padding) // 2):
        widths[x.ndim - 1 - i] = (padding[2 * i], padding[2 * i + 1])
    if mode == "constant":
        return np.pad(x, widths, constant_values=value)
    return np.pad(x, widths, mode=NUMPY_MODE[mode])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_1d_and_2d_forward_and_gradients(mode):
    x = RNG.normal(size=(2, 3, 5, 4))
    pad2 = (1, 3, 2, 0)
    check_op(LAYERS_2D[mode](pad2), lambda x: reference(x, pad2, mode), [x], rtol=0, atol=0,
             float32_rtol=1e-6, float32_atol=1e-7)
    seq = RNG.normal(size=(2, 3, 6))
    check_op(LAYERS_1D[mode]((2, 1)), lambda x: reference(x, (2, 1), mode), [seq], rtol=0,
             atol=0, float32_rtol=1e-6, float32_atol=1e-7)


def test_constant_and_zero_padding():
    x = RNG.normal(size=(2, 3, 4))
    check_op(nn.ConstantPad1d((1, 2), 3.5), lambda x: reference(x, (1, 2), "constant", 3.5),
             [x], rtol=0, atol=0, float32_rtol=1e-6, float32_atol=1e-7)
    check_op(nn.ZeroPad1d(2), lambda x: reference(x, (2, 2), "constant"), [x], rtol=0, atol=0)
    img = RNG.normal(size=(1, 2, 3, 3))
    check_op(nn.ZeroPad2d((1, 1, 2, 0)), lambda x: reference(x, (1, 1, 2, 0), "constant"),
             [img], rtol=0, atol=0)
    check_op(nn.ConstantPad2d(1, -2.0), lambda x: reference(x, (1,) * 4, "constant", -2.0),
             [img], rtol=0, atol=0)
    # Negative padding crops, as PyTorch's constant mode does; any rank works.
    np.testing.assert_array_equal(nn.ZeroPad2d((-1, 0, 0, -1))(img).numpy(),
                                  img[:, :, :-1, 1:])
    assert nn.ZeroPad2d(1)(np.ones((4, 4))).shape == (6, 6)
    assert nn.ConstantPad1d(1, 0.5)(np.ones(3)).numpy().tolist() == [0.5, 1, 1, 1, 0.5]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["reflect", "replicate", "circular", "constant"]),
       st.integers(1, 3), st.integers(1, 7), st.integers(1, 7), st.data())
def test_random_shapes_up_to_the_largest_allowed_padding(mode, c, h, w, data):
    # reflect: each pad < its size; circular: <= its size; replicate and constant: any.
    limit = {"reflect": lambda n: n - 1, "circular": lambda n: n,
             "replicate": lambda n: 2 * n + 3, "constant": lambda n: 2 * n + 3}[mode]
    pads = tuple(data.draw(st.integers(0, limit(n))) for n in (w, w, h, h))
    x = np.random.default_rng(c * 100 + h * 10 + w).normal(size=(c, h, w))
    if mode == "constant":
        layer = nn.ConstantPad2d(pads, 1.5)
    else:
        layer = LAYERS_2D[mode](pads)
    np.testing.assert_array_equal(layer(x).numpy(), reference(x, pads, mode, 1.5))
    one_d = nn.ConstantPad1d(pads[:2], 1.5) if mode == "constant" else LAYERS_1D[mode](pads[:2])
    np.testing.assert_array_equal(one_d(x[0]).numpy(), reference(x[0], pads[:2], mode, 1.5))


def test_padding_past_what_pytorch_allows_is_refused():
    x = np.zeros((1, 2, 3))
    assert nn.ReflectionPad1d(2)(x).shape == (1, 2, 7)  # 2 > 3 / 2, still allowed
    with pytest.raises(ValueError, match=r"reflect padding \(3, 3\).*smaller than its size 3"):
        nn.ReflectionPad1d(3)(x)
    assert nn.CircularPad1d(3)(x).shape == (1, 2, 9)
    with pytest.raises(ValueError, match=r"circular padding \(4, 0\).*at most its size 3"):
        nn.CircularPad1d((4, 0))(x)
    assert nn.ReplicationPad1d(10)(x).shape == (1, 2, 23)
    with pytest.raises(ValueError, match=r"reflect padding \(0, 2\).*size 2"):
        nn.ReflectionPad2d((0, 0, 0, 2))(np.zeros((1, 1, 2, 5)))
    with pytest.raises(ValueError, match="non-negative padding"):
        nn.ReflectionPad1d((-1, 0))(x)


def test_gradient_sums_onto_the_copied_cells():
    x = dlcore.tensor(np.arange(3.0).reshape(1, 1, 3), requires_grad=True)
    nn.ReplicationPad1d((2, 1))(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[3.0, 1.0, 2.0]]])
    y = dlcore.tensor(np.arange(3.0).reshape(1, 1, 3), requires_grad=True)
    nn.ReflectionPad1d((2, 0))(y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[[1.0, 2.0, 2.0]]])


def test_reprs():
    assert repr(nn.ZeroPad2d((1, 1, 2, 0))) == "ZeroPad2d((1, 1, 2, 0))"
    assert repr(nn.ZeroPad1d(2)) == "ZeroPad1d((2, 2))"
    assert repr(nn.ConstantPad1d((1, 2), 3.5)) == "ConstantPad1d(padding=(1, 2), value=3.5)"
    assert repr(nn.ConstantPad2d(1, 0)) == "ConstantPad2d(padding=(1, 1, 1, 1), value=0.0)"
    assert repr(nn.ReflectionPad2d(2)) == "ReflectionPad2d((2, 2, 2, 2))"
    assert repr(nn.ReplicationPad1d((0, 3))) == "ReplicationPad1d((0, 3))"
    assert repr(nn.CircularPad2d((1, 2, 3, 4))) == "CircularPad2d((1, 2, 3, 4))"


def test_bad_arguments_and_ranks():
    with pytest.raises(ValueError, match=r"ReflectionPad2d: padding must be an int or a tuple "
                                         r"of 4 ints \(left, right, top, bottom\), got \(1, 2\)"):
        nn.ReflectionPad2d((1, 2))
    with pytest.raises(ValueError, match=r"tuple of 2 ints \(left, right\), got 1.5"):
        nn.ZeroPad1d(1.5)
    with pytest.raises(ValueError, match=r"ReflectionPad2d: expected 3-D or 4-D input, got "
                                         r"shape \(4, 4\)"):
        nn.ReflectionPad2d(1)(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"CircularPad1d: expected 2-D or 3-D input, got "
                                         r"shape \(1, 1, 2, 2\)"):
        nn.CircularPad1d(1)(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"ReplicationPad1d: expected 2-D or 3-D input, got "
                                         r"shape \(3,\)"):
        nn.ReplicationPad1d(1)(np.zeros(3))


def test_dtypes_nan_and_non_contiguous_input():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4).transpose(0, 2, 1)  # non-contiguous
    y = nn.ReflectionPad1d(1)(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), reference(x, (1, 1), "reflect"))
    z = np.ones((1, 1, 3))
    z[0, 0, 0] = np.nan
    out = nn.CircularPad1d((0, 1))(z).numpy()
    assert np.isnan(out[0, 0, 0]) and np.isnan(out[0, 0, 3]) and not np.isnan(out[0, 0, 1])
    assert nn.ReplicationPad2d(1)(np.arange(4).reshape(1, 2, 2)).dtype == np.int64


# ------------------------------------------------------------------ dtypes (as PyTorch's)
DTYPES = [np.int8, np.int32, np.int64, np.uint8, np.bool_, np.float16, np.float32, np.float64]


def sample(shape, dtype, seed=0):
    """Values of ``dtype``: small integers, booleans or normal draws."""
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "f":
        return rng.normal(size=shape).astype(dtype)
    return rng.integers(0, 100, shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_every_mode_keeps_the_input_dtype(mode, dtype):
    x = sample((2, 3, 4, 5), dtype)
    pads = (2, 1, 0, 3)
    out = nn.functional.pad(x, pads, mode=mode)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), reference(x, pads, mode, 0))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["reflect", "replicate", "circular"]),
       st.sampled_from([np.int8, np.int64, np.uint8, np.bool_]),
       st.integers(0, 2), st.integers(1, 5), st.integers(1, 5), st.booleans(), st.data())
def test_integer_padding_matches_np_pad(mode, dtype, lead, h, w, transpose, data):
    # reflect: each pad < its size; circular: <= its size; replicate: any.
    limit = {"reflect": lambda n: n - 1, "circular": lambda n: n,
             "replicate": lambda n: 2 * n + 1}[mode]
    pads = tuple(data.draw(st.integers(0, limit(n))) for n in (w, w, h, h))
    x = sample((lead, 3) + ((w, h) if transpose else (h, w)), dtype, seed=h * 10 + w)
    if transpose:
        x = x.swapaxes(-1, -2)  # non-contiguous
    np.testing.assert_array_equal(nn.functional.pad(x, pads, mode=mode).numpy(),
                                  reference(x, pads, mode))


def test_int64_beyond_float_precision_is_copied_exactly():
    big = np.array([[2**62 + 1, -(2**62) - 3]], dtype=np.int64)
    for mode in ("reflect", "replicate", "circular"):
        np.testing.assert_array_equal(nn.functional.pad(big, (1, 1), mode=mode).numpy(),
                                      reference(big, (1, 1), mode))
    out = nn.functional.pad(big, (0, 1, 1, 0), value=2**62 + 7).numpy()
    np.testing.assert_array_equal(out, [[2**62 + 7] * 3, [2**62 + 1, -(2**62) - 3, 2**62 + 7]])


def test_constant_value_is_cast_to_the_input_dtype():
    pad = nn.functional.pad
    ints = np.array([1, 2, 3], dtype=np.int32)
    # Truncated toward zero, as PyTorch casts a float scalar to an integer tensor.
    assert pad(ints, (1, 1), value=2.7).numpy().tolist() == [2, 1, 2, 3, 2]
    assert pad(ints, (1, 0), value=-2.7).numpy().tolist() == [-2, 1, 2, 3]
    assert pad(ints, (1, 0), value=True).numpy().tolist() == [1, 1, 2, 3]
    assert pad(ints.astype(np.uint8), (0, 1), value=255.9).numpy().tolist() == [1, 2, 3, 255]
    flags = np.array([True, False])
    assert pad(flags, (1, 1)).numpy().tolist() == [False, True, False, False]
    assert pad(flags, (1, 1), value=0.5).numpy().tolist() == [True, True, False, True]
    assert pad(np.ones(2, np.float16), (1, 0), value=0.1).numpy()[0] == np.float16(0.1)
    assert nn.ConstantPad1d(1, 3.5)(ints.reshape(1, 3)).numpy().tolist() == [[3, 1, 2, 3, 3]]
    with pytest.raises(ValueError, match=r"value 300 does not fit the input's dtype int8 "
                                         r"\(-128 to 127\)"):
        pad(ints.astype(np.int8), (1, 1), value=300)
    with pytest.raises(ValueError, match="value -1 does not fit the input's dtype uint8"):
        pad(ints.astype(np.uint8), (1, 1), value=-1)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="cannot pad an integer input of dtype int32"):
            pad(ints, (1, 1), value=bad)


def test_integer_input_errors_name_the_whole_input():
    with pytest.raises(ValueError, match=r"reflect padding \(3, 0\) of dimension 3 must be "
                                         r"smaller than its size 3 \(input \(2, 1, 2, 3\)\)"):
        nn.functional.pad(np.zeros((2, 1, 2, 3), np.int32), (3, 0), mode="reflect")


def test_float16_gradient_flows_back_in_float16():
    x64 = RNG.normal(size=(1, 2, 3, 4))
    g = RNG.normal(size=(1, 2, 6, 5))
    for mode in ("constant", "reflect", "replicate", "circular"):
        grads = []
        for dtype in (np.float16, np.float64):
            x = dlcore.tensor(x64.astype(dtype), requires_grad=True)
            y = nn.functional.pad(x, (1, 0, 2, 1), mode=mode)
            assert y.dtype == dtype
            (y * dlcore.tensor(g.astype(dtype))).sum().backward()
            assert x.grad.dtype == dtype
            grads.append(x.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-2, atol=1e-2)
