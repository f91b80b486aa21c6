"""The torch.* function forms (dlcore.exp(x), dlcore.sum(x, dim=1), ...) and the creation
functions eye, linspace, randint and empty."""

import builtins

import numpy as np
import pytest
from helpers import check_op, rng

import dlcore

R = rng(7)


def positive(*shape):
    return R.uniform(0.5, 2.0, shape)


@pytest.mark.parametrize("name, reference, make", [
    ("exp", np.exp, positive),
    ("log", np.log, positive),
    ("sqrt", np.sqrt, positive),
    ("abs", np.abs, positive),
    ("tanh", np.tanh, positive),
    ("sin", np.sin, lambda *s: R.uniform(-4, 4, s)),
    ("cos", np.cos, lambda *s: R.uniform(-4, 4, s)),
    ("sigmoid", lambda a: 1 / (1 + np.exp(-a)), positive),
    ("relu", lambda a: np.maximum(a, 0), lambda *s: positive(*s) - 1.25),
])
def test_elementwise_functions(name, reference, make):
    x = make(3, 4)
    x[np.abs(x) < 1e-3] = 0.5  # keep finite differences off ReLU's kink
    check_op(getattr(dlcore, name), reference, [x])


def test_the_calculus_of_sine_and_cosine():
    # d/dx sin x = cos x, and the chain rule: d/dx sin(x^2) = 2x cos(x^2).
    for x in (0.0, 0.5, 2.0, -3.0):
        assert dlcore.grad(dlcore.sin)(x) == pytest.approx(np.cos(x), rel=1e-6, abs=1e-7)
        assert dlcore.grad(dlcore.cos)(x) == pytest.approx(-np.sin(x), rel=1e-6, abs=1e-7)
        assert dlcore.grad(lambda t: dlcore.sin(t**2))(x) == pytest.approx(
            2 * x * np.cos(x**2), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_match_numpy_and_the_methods(dim, keepdim):
    x = R.standard_normal((2, 3, 4))
    check_op(lambda a: dlcore.sum(a, dim, keepdim), lambda a: a.sum(dim, keepdims=keepdim), [x])
    check_op(lambda a: dlcore.mean(a, dim, keepdim), lambda a: a.mean(dim, keepdims=keepdim),
             [x])
    check_op(lambda a: dlcore.var(a, dim, keepdim),
             lambda a: a.var(dim, keepdims=keepdim, ddof=1), [x])
    check_op(lambda a: dlcore.std(a, dim, keepdim, correction=0),
             lambda a: a.std(dim, keepdims=keepdim), [x])


def test_argmax_argmin_and_clamp():
    x = R.standard_normal((4, 5))
    np.testing.assert_array_equal(dlcore.argmax(x, dim=1).numpy(), x.argmax(1))
    np.testing.assert_array_equal(dlcore.argmin(x).numpy(), x.argmin())
    assert dlcore.argmax(x, 0, keepdim=True).shape == (1, 5)
    x[np.abs(np.abs(x) - 0.5) < 1e-3] = 0.1
    check_op(lambda a: dlcore.clamp(a, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), [x])


def test_shape_functions_and_mm():
    x = R.standard_normal((2, 3, 4))
    check_op(lambda a: dlcore.reshape(a, (4, 6)), lambda a: a.reshape(4, 6), [x])
    check_op(lambda a: dlcore.transpose(a, 0, 2), lambda a: a.swapaxes(0, 2), [x])
    check_op(lambda a: dlcore.permute(a, (2, 0, 1)), lambda a: a.transpose(2, 0, 1), [x])
    check_op(lambda a: dlcore.flatten(a, 1), lambda a: a.reshape(2, 12), [x])
    check_op(lambda a: dlcore.squeeze(dlcore.unsqueeze(a, 1), 1), lambda a: a, [x])
    a, b = R.standard_normal((3, 4)), R.standard_normal((4, 2))
    check_op(dlcore.mm, np.matmul, [a, b])
    with pytest.raises(ValueError, match=r"mm: both operands must be 2-D, got shapes "
                                         r"\(3, 4\) and \(4,\)"):
        dlcore.mm(a, b[:, 0])
    with pytest.raises(ValueError, match="mm: both operands must be 2-D"):
        dlcore.tensor(x).mm(x)


def test_the_functions_share_the_graph_with_the_methods():
    # The chain rule through a mix of functions, methods and operators.
    def f(a, b):
        h = dlcore.tanh(dlcore.mm(a, b))
        return dlcore.sum(dlcore.softmax(h, dim=1) * dlcore.exp(-h).relu(), dim=0)

    check_op(f, lambda a, b: (_softmax(np.tanh(a @ b)) * np.exp(-np.tanh(a @ b))).sum(0),
             [R.standard_normal((3, 4)), R.standard_normal((4, 5))])


def _softmax(h):
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_arithmetic_functions():
    a, b = R.standard_normal((3, 4)), R.uniform(1, 2, (4,))
    check_op(lambda x, y: dlcore.div(dlcore.add(x, y), dlcore.mul(y, dlcore.sub(y, 3.0))),
             lambda x, y: (x + y) / (y * (y - 3.0)), [a, b])
    check_op(lambda x: dlcore.pow(x, 3), lambda x: x**3, [a])


def test_eye_linspace_empty():
    np.testing.assert_array_equal(dlcore.eye(3).numpy(), np.eye(3))
    assert dlcore.eye(2, 4).shape == (2, 4) and dlcore.eye(2).dtype == np.float32
    assert dlcore.eye(2, dtype=np.float64).dtype == np.float64
    np.testing.assert_allclose(dlcore.linspace(-3, 3, 7).numpy(), np.arange(-3, 4))
    assert dlcore.linspace(0, 1, 5).dtype == np.float32
    assert dlcore.linspace(0, 1, 0).shape == (0,)
    e = dlcore.empty(2, 3, requires_grad=True)
    assert e.shape == (2, 3) and e.requires_grad and not e.numpy().any()
    with pytest.raises(ValueError, match="non-negative integers"):
        dlcore.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="non-negative integers"):
        dlcore.eye(-2)


def test_randint_is_seeded_and_in_range():
    dlcore.manual_seed(5)
    first = dlcore.randint(3, 9, size=(100,))
    dlcore.manual_seed(5)
    again = dlcore.randint(3, 9, size=(100,))
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    values = first.numpy()
    assert values.dtype == np.int64 and values.min() >= 3 and values.max() <= 8
    assert set(np.unique(values)) == set(range(3, 9))
    assert dlcore.randint(4, size=5).shape == (5,)
    assert dlcore.randint(4, size=(2, 2)).numpy().max() < 4
    with pytest.raises(ValueError, match="high must be greater than low, got low=3, high=3"):
        dlcore.randint(3, 3, size=2)
    with pytest.raises(TypeError, match="got 3 positional arguments"):
        dlcore.randint(1, 2, 3, size=2)


def test_star_import_keeps_the_builtins():
    namespace: dict = {}
    exec("from dlcore import *", namespace)
    for name in ("sum", "abs", "pow", "max", "min", "all", "any", "round"):
        assert name not in namespace
    assert {"exp", "relu", "eye", "linspace", "randint", "mm", "var", "logsumexp"} <= set(namespace)
    assert dlcore.sum is not builtins.sum and dlcore.abs is not builtins.abs
    missing = [name for name in dlcore.__all__ if not hasattr(dlcore, name)]
    assert missing == []
