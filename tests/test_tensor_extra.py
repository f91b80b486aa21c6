"""tensor_extra.py: tril, triu, roll, cumprod, rsqrt, reciprocal, lerp, addmm, nan_to_num and
the function forms of amax and amin, against NumPy (forward) and finite differences
(float64 gradients)."""

import warnings

import numpy as np
import pytest
from helpers import check_op, rng
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlcore
from dlcore.autograd import gradcheck

SETTINGS = settings(max_examples=40, deadline=None)


def _floats(shape, low=-3.0, high=3.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_subnormal=False))


# ----------------------------------------------------------------- tril / triu
@SETTINGS
@given(hnp.array_shapes(min_dims=2, max_dims=4, min_side=0, max_side=5).flatmap(_floats),
       st.integers(-5, 5))
def test_tril_and_triu_match_numpy_on_batches_and_pass_gradcheck(data, k):
    for name, ref in (("tril", np.tril), ("triu", np.triu)):
        check_op(lambda t, name=name: getattr(dlcore, name)(t, k),
                 lambda a, ref=ref: ref(a, k), [data], float32_rtol=0)
        check_op(lambda t, name=name: getattr(t, name)(diagonal=k),
                 lambda a, ref=ref: ref(a, k), [data], grad=False)


def test_tril_keeps_ints_and_bools_and_refuses_vectors():
    ints = dlcore.tensor(np.arange(9, dtype=np.int32).reshape(3, 3))
    assert ints.tril().dtype == np.int32
    np.testing.assert_array_equal(ints.triu(-1).numpy(), np.triu(ints.numpy(), -1))
    assert dlcore.tril(np.ones((2, 2), dtype=bool)).numpy().tolist() == [[True, False],
                                                                         [True, True]]
    with pytest.raises(ValueError, match=r"tril: .*at least 2 dimensions.*\(3,\)"):
        dlcore.tril(dlcore.ones(3))
    with pytest.raises(TypeError, match="triu: diagonal must be an int"):
        dlcore.triu(dlcore.ones(2, 2), 0.5)


# ----------------------------------------------------------------- roll
@st.composite
def _roll_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5))
    data = draw(_floats(shape))
    ndim = len(shape)
    dims = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=3))
    shifts = draw(st.lists(st.integers(-7, 7), min_size=len(dims), max_size=len(dims)))
    return data, shifts, dims


@SETTINGS
@given(_roll_cases())
def test_roll_matches_numpy_with_negative_and_repeated_dims(case):
    data, shifts, dims = case
    want = np.roll(data, shifts, axis=dims)
    check_op(lambda t: dlcore.roll(t, shifts, dims), lambda a: want, [data], float32_rtol=0)
    check_op(lambda t: t.roll(tuple(shifts), tuple(dims)), lambda a: want, [data], grad=False)


@SETTINGS
@given(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4).flatmap(_floats),
       st.integers(-9, 9))
def test_roll_without_dims_rolls_the_flattened_tensor(data, shift):
    check_op(lambda t: dlcore.roll(t, shift), lambda a: np.roll(a, shift), [data])
    check_op(lambda t: t.roll([shift]), lambda a: np.roll(a, shift), [data], grad=False)


def test_roll_keeps_ints_and_names_bad_arguments():
    x = dlcore.tensor(np.arange(6).reshape(2, 3))
    out = x.roll(1, 1)
    assert out.dtype == np.int64 and out.numpy().tolist() == [[2, 0, 1], [5, 3, 4]]
    with pytest.raises(ValueError, match="roll: dim 2 is out of range.*2 dimensions"):
        x.roll(1, 2)
    with pytest.raises(ValueError, match="same length"):
        x.roll((1, 2), 0)
    with pytest.raises(ValueError, match="dims=None.*shifts=\\(1, 2\\)"):
        x.roll((1, 2))
    with pytest.raises(TypeError, match="shifts must be an int"):
        x.roll(1.5, 0)


# ----------------------------------------------------------------- cumprod
def _cumprod_grad_by_definition(x, g, axis):
    """d(sum(g * cumprod(x)))/dx[k] = sum over j >= k of g[j] * prod(x[:j+1] without x[k])."""
    xm, gm = np.moveaxis(x, axis, -1), np.moveaxis(g, axis, -1)
    out = np.zeros_like(xm)
    n = xm.shape[-1]
    for row in np.ndindex(xm.shape[:-1]):
        for k in range(n):
            total = 0.0
            for j in range(k, n):
                others = np.delete(xm[row][: j + 1], k)
                total += gm[row][j] * np.prod(others)
            out[row + (k,)] = total
    return np.moveaxis(out, -1, axis)


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5).flatmap(
    lambda s: st.tuples(_floats(s, -2, 2), st.integers(-len(s), len(s) - 1))))
def test_cumprod_matches_numpy_and_passes_gradcheck(case):
    data, dim = case
    check_op(lambda t: dlcore.cumprod(t, dim), lambda a: np.cumprod(a, axis=dim), [data],
             float32_rtol=1e-5, float32_atol=1e-5)


@pytest.mark.parametrize("row", [
    [2.0, 0.0, 3.0, 4.0],    # one zero in the middle
    [0.0, 2.0, 3.0, 0.5],    # at the start
    [1.5, 2.0, 3.0, 0.0],    # at the end
    [2.0, 0.0, 3.0, 0.0],    # two zeros: nothing after the first gets a gradient
    [0.0, 0.0, 0.0, 0.0],
    [-1.0, 0.0, 0.0, 5.0],
])
def test_cumprod_gradient_is_exact_at_zeros(row):
    x = np.array([row, [1.0, -2.0, 0.5, 3.0]])
    for dim in (1, 0):
        data = x if dim == 1 else x.T.copy()
        g = rng(3).standard_normal(data.shape)
        t = dlcore.tensor(data, requires_grad=True)
        t.cumprod(dim).backward(g)
        assert np.isfinite(t.grad.numpy()).all()
        np.testing.assert_allclose(t.grad.numpy(), _cumprod_grad_by_definition(data, g, dim),
                                   rtol=1e-12, atol=1e-12)
        assert gradcheck(lambda a, dim=dim: dlcore.cumprod(a, dim), [data])


def test_cumprod_on_ints_nan_and_bad_dims():
    ints = dlcore.tensor(np.array([[1, 2, 3]], dtype=np.int32))
    out = ints.cumprod(1)
    assert out.dtype == np.int64 and out.numpy().tolist() == [[1, 2, 6]]
    t = dlcore.tensor([2.0, np.nan, 3.0], requires_grad=True)
    t.cumprod(0).sum().backward()
    assert np.isnan(t.grad.numpy()).all()  # NaN spreads, as through any product
    assert dlcore.cumprod(dlcore.ones(2, 3, dtype=np.float32), -1).dtype == np.float32
    with pytest.raises(ValueError, match="cumprod: dim 2 is out of range"):
        ints.cumprod(2)


# ----------------------------------------------------------------- rsqrt / reciprocal
@SETTINGS
@given(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4).flatmap(
    lambda s: _floats(s, 0.2, 5)))
def test_rsqrt_and_reciprocal_match_numpy(data):
    check_op(dlcore.rsqrt, lambda a: 1 / np.sqrt(a), [data], float32_rtol=1e-6)
    check_op(dlcore.reciprocal, lambda a: 1 / a, [-data], float32_rtol=1e-6)
    check_op(lambda t: t.rsqrt() + t.reciprocal(), lambda a: 1 / np.sqrt(a) + 1 / a, [data],
             grad=False)


def test_rsqrt_and_reciprocal_of_zero_ints_and_negatives():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inf and NaN are the answers, not warnings
        assert dlcore.reciprocal(dlcore.tensor([0.0, -0.0])).numpy().tolist() == [np.inf,
                                                                                  -np.inf]
        out = dlcore.rsqrt(dlcore.tensor([0.0, -1.0]))
    assert out.numpy()[0] == np.inf and np.isnan(out.numpy()[1])
    for op, want in ((dlcore.reciprocal, [1.0, 0.5, 0.25]), (dlcore.rsqrt, [1.0, 0.5, 0.25])):
        got = op(dlcore.tensor(np.array([1, 4, 16]) if op is dlcore.rsqrt else
                               np.array([1, 2, 4])))
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.numpy(), want)


# ----------------------------------------------------------------- lerp
@SETTINGS
@given(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4),
       st.data())
def test_lerp_broadcasts_and_differentiates_every_argument(shapes, data):
    a, b, w = (data.draw(_floats(s, -2, 2)) for s in shapes.input_shapes)
    check_op(dlcore.lerp, lambda x, y, z: x + z * (y - x), [a, b, w], float32_rtol=1e-5,
             float32_atol=1e-5)
    check_op(lambda x, y: x.lerp(y, 0.3), lambda x, y: x + 0.3 * (y - x), [a, b],
             float32_rtol=1e-5, float32_atol=1e-5)


def test_lerp_ends_exactly_and_names_bad_shapes():
    a, b = dlcore.tensor([0.1, 1e8]), dlcore.tensor([0.7, -3.3])
    np.testing.assert_array_equal(dlcore.lerp(a, b, 1.0).numpy(), b.numpy())
    np.testing.assert_array_equal(dlcore.lerp(a, b, 0.0).numpy(), a.numpy())
    assert dlcore.lerp(a, b, 0.25).dtype == np.float32
    assert dlcore.lerp(dlcore.tensor([0, 10]), dlcore.tensor([10, 20]), 0.5).dtype == np.float32
    with pytest.raises(ValueError, match=r"lerp: input \(2,\), end \(3,\) and weight \(\)"):
        dlcore.lerp(a, dlcore.ones(3), 0.5)
    with pytest.raises(TypeError, match="weight must be"):
        dlcore.lerp(a, b, "half")


# ----------------------------------------------------------------- addmm
@pytest.mark.parametrize("bias_shape", [(3, 4), (4,), (1, 4), (3, 1), ()])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, -2.0), (0, 1.5)])
def test_addmm_matches_numpy_and_passes_gradcheck(bias_shape, beta, alpha):
    r = rng(4)
    bias, m1, m2 = r.standard_normal(bias_shape), r.standard_normal((3, 5)), \
        r.standard_normal((5, 4))
    check_op(lambda c, a, b: dlcore.addmm(c, a, b, beta=beta, alpha=alpha),
             lambda c, a, b: beta * c + alpha * (a @ b), [bias, m1, m2], float32_rtol=1e-5,
             float32_atol=1e-5)
    check_op(lambda c, a, b: c.addmm(a, b, beta, alpha),
             lambda c, a, b: beta * c + alpha * (a @ b), [bias, m1, m2], grad=False)


def test_addmm_with_beta_zero_ignores_nan_and_shapes_are_named():
    out = dlcore.addmm(dlcore.tensor(np.full((2, 2), np.nan)), dlcore.eye(2), dlcore.ones(2, 2),
                       beta=0)
    assert out.numpy().tolist() == [[1, 1], [1, 1]]
    empty = dlcore.addmm(dlcore.zeros(2, 3), dlcore.zeros(2, 0), dlcore.zeros(0, 3))
    assert empty.shape == (2, 3) and not empty.numpy().any()
    with pytest.raises(ValueError, match=r"mat1 and mat2 must be 2-D.*\(3,\)"):
        dlcore.addmm(dlcore.zeros(2, 2), dlcore.zeros(2, 3), dlcore.zeros(3))
    with pytest.raises(ValueError, match=r"mat1 \(2, 3\) and mat2 \(4, 2\).*3 columns but 4"):
        dlcore.addmm(dlcore.zeros(2, 2), dlcore.zeros(2, 3), dlcore.zeros(4, 2))
    with pytest.raises(ValueError, match=r"input of shape \(3,\) does not broadcast.*\(2, 2\)"):
        dlcore.addmm(dlcore.zeros(3), dlcore.zeros(2, 3), dlcore.zeros(3, 2))
    with pytest.raises(ValueError, match=r"input of shape \(4, 2, 2\)"):
        dlcore.addmm(dlcore.zeros(4, 2, 2), dlcore.zeros(2, 3), dlcore.zeros(3, 2))


# ----------------------------------------------------------------- nan_to_num
@pytest.mark.parametrize("kwargs", [{}, {"nan": -1.0, "posinf": 9.0, "neginf": -9.0},
                                    {"posinf": 2.5}])
def test_nan_to_num_matches_numpy_and_zeroes_the_gradient_of_replaced_places(kwargs):
    x = np.array([[1.5, np.nan, np.inf], [-np.inf, -2.0, 0.0]])
    # Finite differences drown next to the default replacements (the dtype's largest value).
    finite = "posinf" in kwargs and "neginf" in kwargs
    check_op(lambda t: dlcore.nan_to_num(t, **kwargs), lambda a: np.nan_to_num(a, **kwargs), [x],
             grad=finite)
    t = dlcore.tensor(x, requires_grad=True)
    t.nan_to_num(**kwargs).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[1, 0, 0], [0, 1, 1]])
    f32 = dlcore.nan_to_num(dlcore.tensor(x.astype(np.float32)), **kwargs)
    assert f32.dtype == np.float32
    np.testing.assert_array_equal(f32.numpy(), np.nan_to_num(x.astype(np.float32), **kwargs))
    if "posinf" not in kwargs:  # the largest finite value of the tensor's own dtype
        assert f32.numpy()[0, 2] == np.finfo(np.float32).max


def test_nan_to_num_copies_ints():
    ints = dlcore.tensor([1, 2])
    out = dlcore.nan_to_num(ints)
    assert out.dtype == np.int64 and out.numpy().tolist() == [1, 2]
    assert out.numpy() is not ints.numpy()


# ----------------------------------------------------------------- amax / amin
def test_amax_and_amin_functions_take_torch_and_numpy_spellings():
    x = rng(5).standard_normal((3, 4, 2))
    t = dlcore.tensor(x)
    np.testing.assert_array_equal(dlcore.amax(t).numpy(), x.max())
    np.testing.assert_array_equal(dlcore.amax(t, 1).numpy(), x.max(1))
    np.testing.assert_array_equal(dlcore.amin(t, (0, 2), True).numpy(),
                                  x.min((0, 2), keepdims=True))
    np.testing.assert_array_equal(dlcore.amin(x, dim=-1, keepdim=True).numpy(),
                                  x.min(-1, keepdims=True))
    np.testing.assert_array_equal(dlcore.amax(t, axis=0, keepdims=True).numpy(),
                                  x.max(0, keepdims=True))
    with pytest.raises(TypeError, match="dim or axis, not both"):
        dlcore.amax(t, dim=0, axis=1)
    check_op(lambda a: dlcore.amax(a, 1), lambda a: a.max(1), [x])
    check_op(lambda a: dlcore.amin(a, dim=(0, 1)), lambda a: a.min((0, 1)), [x])
    tied = dlcore.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    dlcore.amax(tied, 1).sum().backward()
    np.testing.assert_array_equal(tied.grad.numpy(), [[0, 0.5, 0.5]])


def test_new_ops_name_their_graph_nodes():
    x = dlcore.tensor(np.ones((2, 2)), requires_grad=True)
    names = {
        "TrilBackward": x.tril(), "TriuBackward": x.triu(), "RollBackward": x.roll(1),
        "CumprodBackward": x.cumprod(0), "RsqrtBackward": x.rsqrt(),
        "ReciprocalBackward": x.reciprocal(), "LerpBackward": x.lerp(x, 0.5),
        "AddmmBackward": x.addmm(x, x), "NanToNumBackward": x.nan_to_num(),
    }
    for name, out in names.items():
        assert out.grad_fn.name == name


def test_non_contiguous_inputs_give_the_contiguous_results():
    base = rng(6).standard_normal((4, 3, 5))
    strided = base.transpose(2, 0, 1)[:, ::-1]  # transposed and reversed: not contiguous
    dense = np.ascontiguousarray(strided)
    for op in (lambda t: t.tril(1), lambda t: t.roll((2, -1), (0, 2)), lambda t: t.cumprod(1),
               lambda t: t.rsqrt(), lambda t: t.lerp(t * 2, 0.7),
               lambda t: dlcore.addmm(t[0][:, :1], t[1], t[2].T)):
        np.testing.assert_array_equal(op(dlcore.from_numpy(strided)).numpy(),
                                      op(dlcore.tensor(dense)).numpy())
    g = rng(7).standard_normal(dense.shape)
    grads = []
    for data in (strided, dense):
        t = dlcore.from_numpy(data).requires_grad_()
        assert t.data.flags.c_contiguous == (data is dense)
        (t.cumprod(1) + t.index_select(2, [0, 0]).sum() + t.tril().roll(1)).backward(g)
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
