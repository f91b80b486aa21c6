"""Tensor ops: forward against NumPy, backward against float64 finite differences."""

import numpy as np
import pytest
from helpers import check_op, rng
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp

import dlcore
from dlcore import Tensor

R = rng(0)


def arr(*shape, low=-2.0, high=2.0):
    return R.uniform(low, high, shape)


@pytest.mark.parametrize(
    "op, ref",
    [
        (lambda a, b: a + b, np.add),
        (lambda a, b: a - b, np.subtract),
        (lambda a, b: a * b, np.multiply),
        (lambda a, b: a / b, np.divide),
    ],
    ids=["add", "sub", "mul", "div"],
)
@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((), (2, 2))],
)
def test_binary_ops_broadcast(op, ref, shape_a, shape_b):
    a = arr(*shape_a)
    b = arr(*shape_b, low=0.5, high=2.0)  # keep division away from 0
    check_op(op, ref, [a, b])


@settings(max_examples=30, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4))
def test_broadcast_gradients_have_operand_shapes(shapes):
    a = dlcore.tensor(np.ones(shapes.input_shapes[0]), requires_grad=True)
    b = dlcore.tensor(np.full(shapes.input_shapes[1], 2.0), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    out_size = int(np.prod(shapes.result_shape))
    # d(sum a*b)/da_i = 2 * (how many output elements a_i was broadcast to).
    assert a.grad.data.sum() == pytest.approx(2.0 * out_size)
    assert b.grad.data.sum() == pytest.approx(1.0 * out_size)


def test_scalars_and_arrays_on_either_side():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = 3 - x * 2 + np.array([1.0, 1.0]) / (1 + x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, -2 - 1 / (1 + np.array([1.0, 2.0])) ** 2, rtol=1e-6)
    assert isinstance(np.ones(2) + x, Tensor)


def test_float32_stays_float32_with_python_scalars():
    x = dlcore.ones(3)
    assert (x * 2.5 + 1).dtype == np.float32
    assert dlcore.tensor([1.0, 2.0]).dtype == np.float32
    assert dlcore.tensor(np.zeros(2)).dtype == np.float64


def test_pow_and_rpow():
    check_op(lambda a: a**3, lambda a: a**3, [arr(3, 2)])
    check_op(lambda a: 2.0**a, lambda a: 2.0**a, [arr(4)])
    check_op(lambda a, b: a**b, np.power, [arr(3, low=0.5, high=2), arr(3)])


def test_neg_and_unary_math():
    x = arr(2, 5)
    check_op(lambda a: -a, np.negative, [x])
    check_op(lambda a: a.exp(), np.exp, [x])
    check_op(lambda a: a.log(), np.log, [np.abs(x) + 0.1])
    check_op(lambda a: a.sqrt(), np.sqrt, [np.abs(x) + 0.1])
    check_op(lambda a: a.abs(), np.abs, [x + np.sign(x) * 0.01])
    check_op(lambda a: a.clamp(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), [x])


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activation_methods(name):
    x = arr(3, 7)
    x[np.abs(x) < 1e-3] = 0.5  # relu's kink is not differentiable
    ref = {"relu": lambda a: np.maximum(a, 0), "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
           "tanh": np.tanh}[name]
    check_op(lambda a: getattr(a, name)(), ref, [x])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax(dim):
    x = arr(3, 4, 5)

    def ref_log(a):
        s = a - a.max(axis=dim, keepdims=True)
        return s - np.log(np.exp(s).sum(axis=dim, keepdims=True))

    check_op(lambda a: a.log_softmax(dim), ref_log, [x])
    check_op(lambda a: a.softmax(dim), lambda a: np.exp(ref_log(a)), [x])


def test_softmax_is_stable_for_huge_logits():
    x = dlcore.tensor([[1e4, 0.0, -1e4]])
    with np.errstate(all="raise"):
        p = x.softmax(-1)
        lp = x.log_softmax(-1)
    np.testing.assert_allclose(p.data, [[1, 0, 0]])
    assert np.isfinite(lp.data).all()


@pytest.mark.parametrize("shift", [4096.0, 1e6, -1e6])
def test_softmax_is_exact_for_logits_far_from_zero(shift):
    # log_softmax = x - (max + log(sum)) rounds max + log(sum) to the spacing of max (0.06
    # at 1e6 in float32): [1e6, 1e6 + 5] gave probabilities (0.0067, 1.0), summing to 1.007.
    # (x - max) - log(sum) is exact to float32 round-off whatever the offset.
    x = np.array([[0.0, 5.0, 2.5], [-3.0, 1.0, 0.5]], np.float32)
    want = dlcore.tensor(x).log_softmax(-1).data
    got = dlcore.tensor(x + np.float32(shift)).log_softmax(-1).data
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    probs = dlcore.tensor(x + np.float32(shift)).softmax(-1).data
    np.testing.assert_allclose(probs, np.exp(want), rtol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(axis, keepdims):
    x = arr(2, 3, 4)
    check_op(lambda a: a.sum(axis, keepdims), lambda a: np.sum(a, axis, keepdims=keepdims), [x])
    check_op(lambda a: a.mean(axis, keepdims), lambda a: np.mean(a, axis, keepdims=keepdims),
             [x])
    check_op(lambda a: a.max(axis, keepdims), lambda a: np.max(a, axis, keepdims=keepdims), [x])
    check_op(lambda a: a.min(axis, keepdims), lambda a: np.min(a, axis, keepdims=keepdims), [x])


def test_pytorch_style_dim_keepdim_aliases():
    x = dlcore.tensor(arr(2, 3))
    np.testing.assert_allclose(x.sum(dim=1, keepdim=True).data, x.data.sum(1, keepdims=True))


@pytest.mark.parametrize("axis", [None, 0, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("correction", [0, 1])
def test_var_and_std(axis, keepdims, correction):
    x = arr(2, 3, 4)
    check_op(lambda a: a.var(axis, keepdims, correction=correction),
             lambda a: np.var(a, axis, keepdims=keepdims, ddof=correction), [x],
             float32_rtol=1e-5)
    check_op(lambda a: a.std(axis, keepdims, correction=correction),
             lambda a: np.std(a, axis, keepdims=keepdims, ddof=correction), [x],
             float32_rtol=1e-5)


def test_var_without_degrees_of_freedom_is_an_error():
    with pytest.raises(ValueError, match=r"var: 1 value\(s\) per result .*correction=1 "
                                         r"\(input shape \(1, 3\)\)"):
        dlcore.ones(1, 3).var(dim=0)
    assert dlcore.ones(1, 3).var(dim=0, correction=0).tolist() == [0.0, 0.0, 0.0]


def test_method_forms_match_the_operators():
    a, b = arr(3, 4), arr(3, 4)
    ta, tb = dlcore.tensor(a), dlcore.tensor(b)
    pairs = [(ta.add(tb), a + b), (ta.sub(b), a - b), (ta.mul(tb), a * b),
             (ta.div(tb), a / b), (ta.pow(2), a**2), (ta.neg(), -a),
             (ta.matmul(tb.T), a @ b.T), (ta.mm(tb.T), a @ b.T)]
    for got, want in pairs:
        np.testing.assert_allclose(got.data, want, rtol=1e-12)
    check_op(lambda x, y: x.mul(y).add(x.pow(2)).div(y.neg().sub(3.0)).matmul(y.T),
             lambda x, y: (x * y + x**2) / (-y - 3.0) @ y.T, [a, b])


def test_max_ties_share_the_gradient():
    x = dlcore.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [0, 0.5, 0.5])


def test_shape_ops():
    x = arr(2, 3, 4)
    check_op(lambda a: a.reshape(4, 6), lambda a: a.reshape(4, 6), [x])
    check_op(lambda a: a.view(-1), lambda a: a.reshape(-1), [x])
    check_op(lambda a: a.transpose(0, 2), lambda a: a.swapaxes(0, 2), [x])
    check_op(lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), [x])
    check_op(lambda a: a.T, lambda a: a.T, [x])
    check_op(lambda a: a.flatten(1), lambda a: a.reshape(2, 12), [x])
    check_op(lambda a: a.unsqueeze(1).squeeze(1), lambda a: a, [x])


def test_dims_out_of_range_are_errors_not_wrapped():
    # transpose(0, 2) of a matrix used to take 2 % 2 = 0 and quietly return the matrix itself.
    x = dlcore.ones(2, 3)
    with pytest.raises(ValueError, match=r"transpose: dim 2 is out of range .* 2 dim"):
        x.transpose(0, 2)
    with pytest.raises(ValueError, match=r"dim -3 is out of range"):
        x.transpose(-3, 1)
    with pytest.raises(ValueError, match=r"flatten: dim 5 is out of range .* 3 dim"):
        dlcore.ones(2, 3, 4).flatten(5)
    with pytest.raises(ValueError, match=r"flatten: dim 3 is out of range"):
        dlcore.ones(2, 3, 4).flatten(0, 3)
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 0"):
        dlcore.ones(2, 3, 4).flatten(2, 0)
    # softmax(2) of a matrix used to take 2 % 2 = 0 and normalise the columns instead.
    with pytest.raises(ValueError, match=r"softmax: dim 2 is out of range .* 2 dim"):
        x.softmax(2)
    with pytest.raises(ValueError, match=r"log_softmax: dim -3 is out of range"):
        x.log_softmax(-3)
    assert x.transpose(-1, -2).shape == (3, 2)
    assert dlcore.ones(2, 3, 4).flatten(-2).shape == (2, 12)
    assert np.allclose(x.softmax(-2).numpy(), 0.5)
    assert dlcore.tensor(5.0).flatten().shape == (1,)


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 2\)"):
        dlcore.ones(2, 3).reshape(4, 2)


@pytest.mark.parametrize(
    "index",
    [
        1,
        (slice(None), 2),
        (slice(0, 2), slice(None, None, -1)),
        (Ellipsis, 1),
        np.array([0, 2, 2]),  # repeated rows: gradients must add up
        (np.array([0, 1, 1]), np.array([3, 0, 0])),
        np.array([True, False, True]),
        [2, 0],
    ],
    ids=["int", "col", "rev", "ellipsis", "int-array", "pairs", "bool", "list"],
)
def test_getitem(index):
    x = arr(3, 4)
    check_op(lambda a: a[index], lambda a: a[index], [x])


def test_getitem_repeated_index_accumulates():
    x = dlcore.tensor(np.zeros(3), requires_grad=True)
    x[np.array([1, 1, 1, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 3, 1])


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
     ((2, 3, 4), (2, 4, 2)), ((1, 1), (1, 1))],
)
def test_matmul_shapes(shape_a, shape_b):
    check_op(lambda a, b: a @ b, np.matmul, [arr(*shape_a), arr(*shape_b)])


def test_matmul_float32_matches_numpy_on_transposed_views():
    a = R.standard_normal((40, 30)).astype(np.float32)
    b = R.standard_normal((50, 30)).astype(np.float32)
    got = (dlcore.tensor(a) @ dlcore.from_numpy(b).T).data
    np.testing.assert_allclose(got, a @ b.T, rtol=1e-5, atol=1e-5)


def test_matmul_errors_name_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        dlcore.ones(3, 4) @ dlcore.ones(5, 2)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        dlcore.tensor(2.0) @ dlcore.ones(2)


def test_non_numeric_data_is_a_type_error():
    with pytest.raises(TypeError, match="numeric"):
        dlcore.tensor(["a", "b"])
    with pytest.raises(TypeError, match="numeric"):
        dlcore.ones(2) + np.array(["a", "b"])
    # An object ndarray is refused like a list that NumPy turns into one.
    with pytest.raises(TypeError, match="numeric"):
        dlcore.tensor(np.array([1.0, "a"], dtype=object))
    with pytest.raises(TypeError, match="numeric"):
        dlcore.from_numpy(np.array([1.0, 2.0], dtype=object))
    with pytest.raises(TypeError, match="numeric"):
        dlcore.ones(2, 2) @ np.ones((2, 2), dtype=object)


@pytest.mark.parametrize("make", [
    lambda: dlcore.tensor([1 + 2j]),
    lambda: dlcore.from_numpy(np.ones(3, dtype=np.complex64)),
    lambda: dlcore.tensor([1.0, 2.0], dtype=np.complex128),
    lambda: dlcore.ones(2).astype(np.complex64),
    lambda: dlcore.ones(2) * 1j,
    lambda: dlcore.ones(2) + np.ones(2, dtype=np.complex64),
    lambda: np.complex128(1j) - dlcore.ones(2),
    lambda: dlcore.ones(2, 2) @ np.eye(2, dtype=np.complex64),
    lambda: dlcore.nn.Parameter(np.ones(2, dtype=np.complex64)),
    lambda: dlcore.nn.functional.relu(np.ones(2, dtype=np.complex64)),
    lambda: dlcore.nn.functional.conv2d(np.ones((1, 1, 3, 3), np.complex64), np.ones((1, 1, 2, 2))),
])
def test_complex_data_is_refused_not_cast(make):
    # Casting would drop the imaginary parts silently; dlcore has no complex tensors.
    with pytest.raises(TypeError, match=r"must be real, got dtype complex"):
        make()


def test_dates_are_not_numbers():
    with pytest.raises(TypeError, match=r"tensor: data must be numeric, got dtype datetime64"):
        dlcore.tensor(np.array(["2020-01-01"], dtype="datetime64[D]"))
    with pytest.raises(TypeError, match="must be numeric"):
        dlcore.ones(1) + np.array([1], dtype="timedelta64[s]")


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        dlcore.tensor([1, 2], requires_grad=True)


def test_broadcast_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        dlcore.ones(2, 3) + dlcore.ones(4)
    # Other ValueErrors keep their own message (this one said 'shapes (1,) and () cannot
    # be broadcast together').
    with pytest.raises(ValueError, match="pow: Integers to negative integer powers"):
        dlcore.tensor([2]) ** -1


def test_stack_cat_where():
    a, b = arr(2, 3), arr(2, 3)
    check_op(lambda x, y: dlcore.stack([x, y], 1), lambda x, y: np.stack([x, y], 1), [a, b])
    check_op(lambda x, y: dlcore.cat([x, y], 0), lambda x, y: np.concatenate([x, y], 0), [a, b])
    # PyTorch's keyword is dim, as the reductions accept.
    assert dlcore.cat([dlcore.ones(2, 2), dlcore.ones(2, 3)], dim=1).shape == (2, 5)
    assert dlcore.stack([dlcore.ones(2), dlcore.ones(2)], dim=1).shape == (2, 2)
    cond = a > 0
    check_op(lambda x, y: dlcore.where(cond, x, y), lambda x, y: np.where(cond, x, y), [a, b])


def test_creation_functions():
    dlcore.manual_seed(3)
    r1 = dlcore.randn(2, 3).data
    dlcore.manual_seed(3)
    assert np.array_equal(r1, dlcore.randn(2, 3).data)
    assert dlcore.zeros(2, 3).shape == (2, 3) and dlcore.ones((4,)).data.sum() == 4
    assert dlcore.rand(5).data.min() >= 0 and dlcore.rand(5).dtype == np.float32
    assert dlcore.arange(5).data.tolist() == [0, 1, 2, 3, 4]
    assert dlcore.arange(0, 1, 0.5).dtype == np.float32
    shared = np.zeros(3)
    dlcore.from_numpy(shared).data[0] = 7
    assert shared[0] == 7
    copied = np.zeros(3)
    dlcore.tensor(copied).data[0] = 7
    assert copied[0] == 0


def test_conversion_helpers():
    x = dlcore.tensor([[1.5]])
    assert x.item() == 1.5 and float(x) == 1.5 and x.tolist() == [[1.5]]
    assert x.numpy() is x.data
    with pytest.raises(ValueError):
        dlcore.ones(2).item()
    assert "tensor(" in repr(x)
    assert (dlcore.tensor([1, 2]) == np.array([1, 3])).tolist() == [True, False]


def test_comparisons_are_elementwise_and_outside_the_graph():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    m = x > 1.5
    assert m.tolist() == [False, True] and not m.requires_grad


def test_nan_propagates():
    x = dlcore.tensor([np.nan, 1.0])
    assert np.isnan(x.relu().data[0]) and np.isnan((x * 2).sum().item())


def test_empty_tensors():
    x = dlcore.tensor(np.zeros((0, 3)), requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    assert x.grad.shape == (0, 3) and y.item() == 0
    with pytest.raises(ValueError, match="empty"):
        dlcore.zeros(0).max()


def test_in_place_update_under_no_grad_changes_the_tensor_itself():
    # The manual gradient-descent step of every course, PyTorch-style. Without in-place
    # operators `p -= ...` rebound the loop variable to a new tensor and the model never
    # changed; `model.weight -= ...` replaced the Parameter by a plain, unregistered Tensor.
    model = dlcore.nn.Linear(2, 1)
    weight, before = model.weight, model.weight.data.copy()
    (model(np.ones((4, 2), np.float32)) ** 2).mean().backward()
    with dlcore.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
        model.bias *= 2.0
        model.weight += np.float32(0.0)
        model.weight /= 1.0
    assert model.weight is weight
    assert [name for name, _ in model.named_parameters()] == ["weight", "bias"]
    np.testing.assert_allclose(weight.data, before - 0.1 * weight.grad.data, rtol=1e-6)
    with dlcore.no_grad(), pytest.raises(ValueError, match=r"\(1, 2\).*\(3,\)"):
        model.weight -= np.ones(3)


def test_in_place_update_of_a_leaf_that_requires_grad_is_refused_with_grad_on():
    w = dlcore.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 1.0
    # Intermediate results stay differentiable: `h += x` builds a new node, as before.
    h = w * 3
    h += w
    h.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [4.0, 4.0])


def test_numpy_float_scalars_do_not_widen_float32_tensors():
    # NumPy 2 would make float32 * np.float64 a float64 array; as in PyTorch, a NumPy scalar
    # counts as the Python number it stands for.
    x = dlcore.tensor([1.0, 4.0], requires_grad=True)
    scale = np.sqrt(4.0)  # np.float64
    for y in (x * scale, x / scale, scale - x, x + np.float32(1), x**np.float64(2),
              dlcore.where(x.data > 2, x, np.float64(0))):
        assert y.dtype == np.float32
    (x * scale).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    # Wider tensors and integer tensors keep NumPy's rules.
    assert (dlcore.ones(2, dtype=np.float64) * np.float32(2)).dtype == np.float64
    np.testing.assert_array_equal((dlcore.tensor([1, 2]) * np.float64(0.5)).numpy(), [0.5, 1])


def test_pytorch_spellings_of_comparisons_argmax_and_shape_borrowing():
    # The evaluation loop of PyTorch's MNIST example, verbatim.
    out = dlcore.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.1, 0.2, 0.6]])
    target = dlcore.tensor([1, 0, 1])
    pred = out.argmax(dim=1, keepdim=True)
    assert pred.shape == (3, 1) and pred.numpy().ravel().tolist() == [1, 0, 2]
    assert pred.eq(target.view_as(pred)).sum().item() == 2
    assert out.argmin(1, keepdim=True).numpy().ravel().tolist() == [0, 2, 0]
    assert dlcore.argmax(out, dim=0, keepdim=True).shape == (1, 3)
    a, b = dlcore.tensor([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    for name, op in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                     ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)]:
        np.testing.assert_array_equal(getattr(a, name)(b).numpy(), op(a.numpy(), b))
    x = dlcore.tensor(np.arange(6.0), requires_grad=True)
    y = x.reshape_as(np.zeros((2, 3)))
    assert y.shape == (2, 3)
    z = dlcore.tensor([[1.0], [2.0]], requires_grad=True)
    w = z.expand_as(y)
    assert w.shape == (2, 3)
    (y * w).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [[3.0], [12.0]])
    assert dlcore.tensor([1, 2]).type_as(x).dtype == x.dtype
    with pytest.raises(ValueError, match=r"\(6,\).*\(4,\)|\(4,\).*\(6,\)"):
        x.view_as(np.zeros(4))


def test_contiguous_nan_tests_and_unbiased():
    x = dlcore.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.contiguous() is x
    t = x.T.contiguous()
    assert t.numpy().flags.c_contiguous and t.shape == (3, 2)
    (t * dlcore.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(3, 2).T)
    v = dlcore.tensor([1.0, np.nan, np.inf, -np.inf])
    for name, want in [("isnan", [0, 1, 0, 0]), ("isinf", [0, 0, 1, 1]),
                       ("isfinite", [1, 0, 0, 0])]:
        assert getattr(v, name)().dtype == bool
        want = np.array(want, bool)
        np.testing.assert_array_equal(getattr(v, name)().numpy(), want)
        np.testing.assert_array_equal(getattr(dlcore, name)(v.numpy()).numpy(), want)
    data = np.array([1.0, 2.0, 4.0])
    assert x.std(unbiased=False).item() == pytest.approx(np.arange(6.0).std())
    assert dlcore.var(data, unbiased=False).item() == pytest.approx(data.var())
    assert dlcore.std(data, unbiased=True).item() == pytest.approx(data.std(ddof=1))
