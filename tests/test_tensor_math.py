"""The ops of tensor_math.py: forward against NumPy, backward against finite differences."""

import builtins
import math

import numpy as np
import pytest
from helpers import away_from, check_op, rng
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore.autograd import gradcheck


@pytest.mark.parametrize("name, reference, low, kinks", [
    ("square", np.square, -2, ()),
    ("log1p", np.log1p, -0.9, ()),
    ("expm1", np.expm1, -2, ()),
])
def test_smooth_elementwise_ops(name, reference, low, kinks):
    x = rng(0).uniform(low, 2, (3, 4))
    check_op(lambda t: getattr(t, name)(), reference, [x], float32_rtol=1e-5)
    check_op(lambda t: getattr(dlcore, name)(t), reference, [x])


def test_log1p_and_expm1_keep_precision_near_zero():
    tiny = np.array([1e-10], dtype=np.float32)
    assert dlcore.tensor(tiny).log1p().item() == pytest.approx(1e-10, rel=1e-6)
    assert dlcore.tensor(tiny).expm1().item() == pytest.approx(1e-10, rel=1e-6)


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round"])
def test_rounding_ops_have_zero_gradient(name):
    x = dlcore.tensor(np.array([-1.5, -0.2, 0.0, 0.5, 2.5, 3.7]), requires_grad=True)
    out = getattr(x, name)()
    np.testing.assert_array_equal(out.numpy(), getattr(np, name)(x.numpy()))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)


def test_round_to_decimals_is_half_to_even():
    x = dlcore.tensor(np.array([0.125, 2.5, -0.5]))
    np.testing.assert_array_equal(x.round(2).numpy(), [0.12, 2.5, -0.5])
    np.testing.assert_array_equal(dlcore.round(x).numpy(), [0.0, 2.0, -0.0])


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_broadcast_and_gradients(name):
    g = rng(1)
    a = away_from(g.standard_normal((3, 4)), [0])
    b = g.standard_normal((4,)) + 5e-3  # no ties with a
    check_op(lambda x, y: getattr(dlcore, name)(x, y), getattr(np, name), [a, b])
    check_op(lambda x: getattr(x, name)(0.25), lambda x: getattr(np, name)(x, 0.25), [a])


def test_maximum_ties_share_the_gradient_and_nan_propagates():
    a = dlcore.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = dlcore.tensor(np.array([1.0, 5.0, 0.0]), requires_grad=True)
    dlcore.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0, 1])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1, 0])
    out = dlcore.maximum(dlcore.tensor([np.nan, 1.0]), 0.0)
    assert np.isnan(out.numpy()[0]) and out.numpy()[1] == 1
    with pytest.raises(ValueError, match=r"maximum: shapes \(3,\) and \(2,\) cannot be "
                                         r"broadcast"):
        dlcore.maximum(a, np.ones(2))


@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, False), (0, True), ((0, 2), False)])
def test_logsumexp_matches_numpy_and_its_gradient_is_softmax(dim, keepdim):
    x = rng(2).standard_normal((3, 4, 2)) * 3

    def reference(a):
        axes = dim
        m = a.max(axis=axes, keepdims=True)
        out = np.log(np.exp(a - m).sum(axis=axes, keepdims=True)) + m
        return out if keepdim else (out.reshape(()) if axes is None else np.squeeze(out, axes))

    check_op(lambda t: t.logsumexp(dim, keepdim), reference, [x], float32_rtol=1e-5)
    t = dlcore.tensor(x, requires_grad=True)
    t.logsumexp(1).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), dlcore.softmax(x, 1).numpy(), rtol=1e-12)


def test_logsumexp_does_not_overflow_and_handles_minus_infinity():
    big = dlcore.tensor(np.array([[1000.0, 1000.0], [-np.inf, -np.inf]], dtype=np.float32))
    out = big.logsumexp(1).numpy()
    assert out[0] == pytest.approx(1000 + math.log(2)) and out[1] == -np.inf
    np.testing.assert_array_equal(dlcore.zeros((2, 0)).logsumexp(1).numpy(), [-np.inf] * 2)
    assert dlcore.zeros((0, 3)).logsumexp(1).shape == (0,)
    assert dlcore.tensor(np.array([0, 0])).logsumexp().item() == pytest.approx(math.log(2))


@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), ((0, 1), False)])
def test_prod_with_and_without_zeros(dim, keepdim):
    g = rng(3)
    x = g.uniform(0.5, 1.5, (3, 4)) * g.choice([-1, 1], (3, 4))
    check_op(lambda t: t.prod(dim, keepdim), lambda a: np.prod(a, axis=dim, keepdims=keepdim),
             [x])
    x[1, 2] = 0.0
    x[2, 0] = x[2, 3] = 0.0  # a row with two zeros: every derivative in it is 0
    check_op(lambda t: t.prod(dim, keepdim), lambda a: np.prod(a, axis=dim, keepdims=keepdim),
             [x])


def test_empty_reductions():
    x = dlcore.zeros((2, 0), dtype=np.float64, requires_grad=True)
    out = x.prod(1)
    np.testing.assert_array_equal(out.numpy(), [1, 1])
    out.sum().backward()
    assert x.grad.shape == (2, 0)
    assert dlcore.zeros((0, 3)).norm(dim=1).shape == (0,)
    assert dlcore.zeros(0).cumsum(0).shape == (0,)


def test_integer_input_gives_a_float_norm():
    assert dlcore.tensor(np.array([3, 4])).norm().item() == 5.0
    assert dlcore.tensor(np.array([3, -4])).norm(1).item() == 7.0


def test_prod_gradient_at_a_zero_is_the_product_of_the_others():
    x = dlcore.tensor(np.array([2.0, 0.0, 3.0]), requires_grad=True)
    x.prod().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 6, 0])


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, math.inf, "fro"])
@pytest.mark.parametrize("dim", [None, 1])
def test_norm_matches_numpy(p, dim):
    x = away_from(rng(4).standard_normal((3, 5)), [0])
    order = 2 if p == "fro" else p

    def reference(a):
        if dim is None:
            a = a.reshape(-1)
        return np.linalg.norm(a, ord=order, axis=-1 if dim is not None else None)

    check_op(lambda t: t.norm(p, dim), reference, [x], float32_rtol=1e-5)


def test_norm_gradient_at_zero_is_zero_not_nan():
    x = dlcore.zeros(3, dtype=np.float64, requires_grad=True)
    x.norm().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)
    with pytest.raises(ValueError, match="p must be a positive number"):
        x.norm(0)
    with pytest.raises(ValueError, match="p must be a positive number"):
        x.norm("nuc")


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum(dim):
    x = rng(5).standard_normal((3, 4))
    check_op(lambda t: t.cumsum(dim), lambda a: np.cumsum(a, axis=dim), [x], float32_rtol=1e-5)
    ints = dlcore.tensor(np.arange(4)).cumsum(0)
    np.testing.assert_array_equal(ints.numpy(), [0, 1, 3, 6])


def test_all_and_any():
    x = dlcore.tensor(np.array([[1, 0], [2, 3]]))
    assert x.all().item() is False and x.any().item() is True
    np.testing.assert_array_equal(x.all(1).numpy(), [False, True])
    np.testing.assert_array_equal(dlcore.any(x == 0, 0, True).numpy(), [[False, True]])
    assert dlcore.all is not builtins.all


def test_expand_and_repeat():
    x = rng(6).standard_normal((3, 1))
    check_op(lambda t: t.expand(2, 3, 4), lambda a: np.broadcast_to(a, (2, 3, 4)), [x])
    check_op(lambda t: t.expand(-1, 5), lambda a: np.broadcast_to(a, (3, 5)), [x])
    check_op(lambda t: t.repeat(2, 3), lambda a: np.tile(a, (2, 3)), [x])
    check_op(lambda t: t.repeat(2, 1, 2), lambda a: np.tile(a, (2, 1, 2)), [x])
    with pytest.raises(ValueError, match=r"cannot expand shape \(3, 1\) to \(4, 2\)"):
        dlcore.tensor(x).expand(4, 2)
    with pytest.raises(ValueError, match="give at least 2"):
        dlcore.tensor(x).expand(3)
    with pytest.raises(ValueError, match="need at least 2 non-negative repeats"):
        dlcore.tensor(x).repeat(2)


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       extra=st.lists(st.integers(0, 3), min_size=0, max_size=2),
       seed=st.integers(0, 1000))
def test_repeat_gradient_counts_every_copy(shape, extra, seed):
    reps = tuple(extra) + tuple(rng(seed).integers(0, 3, len(shape)))
    x = dlcore.tensor(rng(seed).standard_normal(shape), requires_grad=True)
    out = x.repeat(*reps)
    assert out.shape == np.tile(x.numpy(), reps).shape
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(shape, float(np.prod(reps))))


def test_flip_split_chunk():
    x = rng(7).standard_normal((5, 3))
    check_op(lambda t: t.flip(0), lambda a: np.flip(a, 0), [x])
    check_op(lambda t: dlcore.flip(t, (0, 1)), lambda a: np.flip(a, (0, 1)), [x])
    check_op(lambda t: dlcore.cat(t.split(2), 0) * 2, lambda a: a * 2, [x])
    t = dlcore.tensor(x)
    assert [p.shape for p in t.split(2)] == [(2, 3), (2, 3), (1, 3)]
    assert [p.shape for p in t.split([1, 4])] == [(1, 3), (4, 3)]
    assert [p.shape for p in t.chunk(2, 1)] == [(5, 2), (5, 1)]
    assert [p.shape for p in dlcore.chunk(t, 3)] == [(2, 3), (2, 3), (1, 3)]
    with pytest.raises(ValueError, match=r"sections \[1, 2\] must be non-negative and add up "
                                         r"to 5"):
        t.split([1, 2])
    with pytest.raises(ValueError, match="split_size must be positive"):
        t.split(0)
    with pytest.raises(ValueError, match="chunks must be positive"):
        t.chunk(0)
    with pytest.raises(ValueError, match="a 0-d tensor has no dimension 0"):
        dlcore.tensor(1.0).flip(0)
    a, b = dlcore.tensor(x, requires_grad=True).split(3)
    assert a.shape == (3, 3) and b.shape == (2, 3)


def test_masked_fill():
    x = rng(8).standard_normal((3, 4))
    mask = np.array([True, False, False, True])
    check_op(lambda t: t.masked_fill(mask, -1.0), lambda a: np.where(mask, -1.0, a), [x])
    t = dlcore.tensor(x.astype(np.float32))
    assert t.masked_fill(dlcore.tensor(mask), -np.inf).dtype == np.float32
    with pytest.raises(TypeError, match="mask must be a bool tensor or array, got dtype int64"):
        t.masked_fill(np.array([1, 0, 0, 1]), 0.0)
    with pytest.raises(ValueError, match=r"mask of shape \(3,\) does not broadcast to the "
                                         r"input's shape \(3, 4\)"):
        t.masked_fill(np.array([True, False, True]), 0.0)


def test_gather_picks_along_a_dim_and_scatters_gradients_back():
    x = rng(9).standard_normal((3, 4))
    labels = np.array([[2], [0], [3]])
    check_op(lambda t: t.gather(1, labels), lambda a: np.take_along_axis(a, labels, 1), [x])
    repeated = np.array([[0, 0, 1], [3, 3, 3], [1, 2, 1]])
    check_op(lambda t: dlcore.gather(t, 1, repeated),
             lambda a: np.take_along_axis(a, repeated, 1), [x])
    check_op(lambda t: t.gather(0, np.array([[0, 2, 1, 0]])),
             lambda a: np.take_along_axis(a, np.array([[0, 2, 1, 0]]), 0), [x])
    t = dlcore.tensor(x, requires_grad=True)
    t.gather(1, repeated).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy()[1], [0, 0, 0, 3])
    with pytest.raises(IndexError, match=r"index values must be in \[-4, 4\)"):
        t.gather(1, np.array([[4], [0], [0]]))
    with pytest.raises(ValueError, match="same number of dimensions"):
        t.gather(1, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="index must hold integers"):
        t.gather(1, np.zeros((3, 1)))


def test_gather_is_the_hand_written_cross_entropy():
    logits = rng(10).standard_normal((6, 5))
    y = np.array([0, 4, 2, 2, 1, 3])

    def by_hand(t):
        log_probs = t.log_softmax(1)
        return -log_probs.gather(1, y[:, None]).mean()

    t = dlcore.tensor(logits)
    assert by_hand(t).item() == pytest.approx(dlcore.nn.functional.cross_entropy(t, y).item())
    assert gradcheck(by_hand, [logits])


def test_creation_and_query_helpers():
    dlcore.manual_seed(0)
    x = dlcore.tensor(np.zeros((2, 3), dtype=np.float64))
    assert dlcore.full_like(x, 7).numpy().tolist() == [[7, 7, 7]] * 2
    assert dlcore.full_like(x, 7, dtype=np.int64).dtype == np.int64
    r = dlcore.rand_like(x)
    assert r.shape == (2, 3) and r.dtype == np.float64 and 0 <= r.numpy().min()
    assert dlcore.randn_like(np.zeros(4, dtype=np.int64)).dtype == np.float32
    dlcore.manual_seed(0)
    np.testing.assert_array_equal(dlcore.rand_like(x).numpy(), r.numpy())
    assert dlcore.is_tensor(x) and dlcore.is_tensor(dlcore.nn.Parameter(np.ones(1)))
    assert not dlcore.is_tensor(np.ones(1))
    assert dlcore.numel(x) == 6 and dlcore.numel(np.ones((4, 5))) == 20
    assert dlcore.allclose(x, np.zeros((2, 3))) and not dlcore.allclose(x, x.numpy() + 1)


def test_new_ops_name_their_graph_nodes():
    x = dlcore.tensor(np.ones((2, 3)), requires_grad=True)
    assert x.logsumexp(1).grad_fn.name == "LogsumexpBackward"
    assert x.gather(1, np.zeros((2, 1), dtype=np.int64)).grad_fn.name == "GatherBackward"
    assert x.norm().grad_fn.name == "NormBackward"
