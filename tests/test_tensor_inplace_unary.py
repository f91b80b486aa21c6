"""The elementwise in-place methods (``exp_``, ``relu_``, ``masked_fill_``...): their values
are the out-of-place ops', they write into the tensor's own array, and they keep the rules of
tensor_inplace.py (refused on tensors that need their values for backward, stamped so a stale
graph is refused)."""

import numpy as np
import pytest

import dlcore

# method, its arguments, the out-of-place op it mirrors, and a domain for the input.
METHODS = [
    ("abs_", (), lambda t: t.abs(), (-3, 3)),
    ("neg_", (), lambda t: -t, (-3, 3)),
    ("exp_", (), lambda t: t.exp(), (-3, 3)),
    ("log_", (), lambda t: t.log(), (0.1, 3)),
    ("sqrt_", (), lambda t: t.sqrt(), (0.1, 3)),
    ("rsqrt_", (), lambda t: t.rsqrt(), (0.1, 3)),
    ("reciprocal_", (), lambda t: t.reciprocal(), (0.5, 3)),
    ("square_", (), lambda t: t.square(), (-3, 3)),
    ("sin_", (), lambda t: t.sin(), (-3, 3)),
    ("cos_", (), lambda t: t.cos(), (-3, 3)),
    ("log1p_", (), lambda t: t.log1p(), (-0.5, 3)),
    ("expm1_", (), lambda t: t.expm1(), (-3, 3)),
    ("sign_", (), lambda t: t.sign(), (-3, 3)),
    ("floor_", (), lambda t: t.floor(), (-3, 3)),
    ("ceil_", (), lambda t: t.ceil(), (-3, 3)),
    ("round_", (1,), lambda t: t.round(1), (-3, 3)),
    ("relu_", (), lambda t: t.relu(), (-3, 3)),
    ("sigmoid_", (), lambda t: t.sigmoid(), (-3, 3)),
    ("tanh_", (), lambda t: t.tanh(), (-3, 3)),
    ("nan_to_num_", (0.0, 5.0), lambda t: t.nan_to_num(0.0, 5.0), (-3, 3)),
    ("tril_", (-1,), lambda t: t.tril(-1), (-3, 3)),
    ("triu_", (1,), lambda t: t.triu(1), (-3, 3)),
    ("masked_fill_", (np.array([True, False, True, False]), 7.0),
     lambda t: t.masked_fill(np.array([True, False, True, False]), 7.0), (-3, 3)),
]
IDS = [m[0] for m in METHODS]


@pytest.mark.parametrize("method,args,op,domain", METHODS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_are_the_out_of_place_ops_written_into_the_same_array(method, args, op, domain,
                                                                     dtype):
    data = np.random.default_rng(0).uniform(*domain, size=(3, 4)).astype(dtype)
    data[0, 0] = 0.5  # a value on which rounding ops and sign are not trivial
    if method == "nan_to_num_":
        data[1, 1], data[2, 2], data[2, 3] = np.nan, np.inf, -np.inf
    x = dlcore.tensor(data.copy())
    array = x.data
    assert getattr(x, method)(*args) is x
    assert x.data is array and x.dtype == dtype
    np.testing.assert_array_equal(x.numpy(), op(dlcore.tensor(data)).numpy())
    assert not np.array_equal(x.numpy(), data, equal_nan=True)


def test_a_transposed_tensor_is_written_through_its_view():
    base = np.arange(6.0).reshape(2, 3)
    x = dlcore.from_numpy(base.T)  # not contiguous
    x.exp_()
    np.testing.assert_allclose(base, np.exp(np.arange(6.0).reshape(2, 3)))


@pytest.mark.parametrize("method,args", [(m[0], m[1]) for m in METHODS], ids=IDS)
def test_refused_on_leaves_that_require_grad_and_on_graph_tensors(method, args):
    w = dlcore.tensor(np.array([[0.5, 1.5, 2.0, 3.0]]), requires_grad=True)
    with pytest.raises(RuntimeError, match=f"{method}: .*leaf.*no_grad"):
        getattr(w, method)(*args)
    h = w * 2
    with pytest.raises(RuntimeError, match=f"{method}: .*part of the graph.*new tensor"):
        getattr(h, method)(*args)
    np.testing.assert_array_equal(w.numpy(), [[0.5, 1.5, 2.0, 3.0]])
    np.testing.assert_array_equal(h.numpy(), [[1.0, 3.0, 4.0, 6.0]])
    with dlcore.no_grad():  # an initialisation or a manual step: allowed
        getattr(w, method)(*args)


def test_backward_is_refused_after_a_saved_input_is_overwritten():
    w = dlcore.tensor([1.0, 2.0], requires_grad=True)
    x = dlcore.tensor([3.0, 4.0])
    y = (w * x).sum()  # saves x for w's gradient
    x.exp_()
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*changed in place"):
        y.backward()
    assert w.grad is None
    (w * x).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.exp([3.0, 4.0]))


def test_backward_is_refused_after_a_saved_output_is_overwritten():
    w = dlcore.tensor([0.5, -1.0], requires_grad=True)
    s = w.sigmoid()  # its derivative is computed from this output
    with dlcore.no_grad():
        s.tanh_()
    with pytest.raises(RuntimeError, match="changed in place"):
        s.sum().backward()


def test_int_tensors_keep_what_ints_can_hold_and_refuse_floats():
    x = dlcore.tensor(np.array([-2, 0, 3], dtype=np.int32))
    assert x.abs_().numpy().tolist() == [2, 0, 3] and x.dtype == np.int32
    assert x.neg_().numpy().tolist() == [-2, 0, -3]
    assert x.relu_().numpy().tolist() == [0, 0, 0] and x.dtype == np.int32
    y = dlcore.tensor(np.array([-2, 3]))
    assert y.square_().numpy().tolist() == [4, 9] and y.sign_().numpy().tolist() == [1, 1]
    assert y.floor_().numpy().tolist() == [1, 1] and y.dtype == np.int64  # as NumPy 2
    for method in ("exp_", "sqrt_", "rsqrt_", "reciprocal_", "sigmoid_", "tanh_", "log_"):
        with pytest.raises(TypeError, match=f"{method}: the result has dtype float.*int64 "
                                            f"cannot hold in place"):
            getattr(y, method)()
    assert y.numpy().tolist() == [1, 1]


def test_read_only_arrays_and_values_that_need_grad_are_refused():
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="exp_: .*read-only"):
        dlcore.from_numpy(frozen).exp_()
    np.testing.assert_array_equal(frozen, np.ones(3))
    v = dlcore.tensor(2.0, requires_grad=True)
    x = dlcore.zeros(2)
    with pytest.raises(RuntimeError, match="masked_fill_: the value requires grad"):
        x.masked_fill_(np.array([True, False]), v)
    with pytest.raises(TypeError, match="masked_fill_: mask must be a bool"):
        x.masked_fill_(np.array([1, 0]), 1.0)
    with pytest.raises(ValueError, match=r"tril_: .*at least 2 dimensions.*\(2,\)"):
        x.tril_()
    assert not x.numpy().any()
