"""The backward engine, grad/value_and_grad, gradcheck and grad modes."""

import numpy as np
import pytest

import dlcore
from dlcore.autograd import GradcheckError, gradcheck


def test_chain_rule_through_a_shared_node():
    x = dlcore.tensor(2.0, requires_grad=True)
    y = x * x  # used twice below: gradients from both uses must add
    z = y * 3 + y.exp()
    z.backward()
    assert x.grad.item() == pytest.approx(2 * 2 * 3 + np.exp(4) * 2 * 2)


def test_gradients_accumulate_until_cleared():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [6, 6])
    x.grad = None
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [1, 1])


def test_backward_needs_a_gradient_for_non_scalars():
    x = dlcore.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        y.backward()
    y.backward(np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad.data, [2, 0, 4])


def test_backward_gradient_shape_is_checked():
    y = dlcore.ones(3, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        y.backward(np.ones(2))


def test_graph_is_freed_unless_retained():
    x = dlcore.tensor(1.0, requires_grad=True)
    y = (x * 2).exp()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(2 * 2 * np.exp(2))
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_backward_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="requires_grad"):
        dlcore.ones(1).sum().backward()


def test_no_grad_and_enable_grad():
    x = dlcore.ones(2, requires_grad=True)
    with dlcore.no_grad():
        y = x * 2
        with dlcore.enable_grad():
            z = x * 2
    assert not y.requires_grad and z.requires_grad
    assert dlcore.is_grad_enabled()

    @dlcore.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad


def test_detach_cuts_the_graph_and_retain_grad_keeps_intermediate():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h.detach()).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * np.array([3.0, 6.0]))
    np.testing.assert_allclose(h.grad.data, [3.0, 6.0])


def test_grad_of_a_python_function():
    assert dlcore.grad(lambda x: x**2)(3.0) == 6.0
    assert dlcore.grad(lambda x, y: x * y**2, argnums=1)(2.0, 3.0) == 12.0
    dx, dy = dlcore.grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 5.0)
    assert (dx, dy) == (5.0, 2.0)
    g = dlcore.grad(lambda v: (v**2).sum())(np.array([1.0, -2.0]))
    np.testing.assert_allclose(g.data, [2.0, -4.0])
    value, slope = dlcore.value_and_grad(lambda x: x**3)(2.0)
    assert (value, slope) == (8.0, 12.0)


def test_grad_rejects_non_scalar_outputs_and_bad_argnums():
    with pytest.raises(ValueError, match="single number"):
        dlcore.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(ValueError, match="argnums"):
        dlcore.grad(lambda x: x, argnums=3)(1.0)


def test_gradcheck_catches_a_wrong_backward():
    def bad_square(x):
        return dlcore.Tensor._from_op(x.data**2, (x,), lambda g: (g * x.data,))  # missing 2

    with pytest.raises(GradcheckError, match="analytic"):
        gradcheck(bad_square, [np.array([1.0, 2.0])])
    assert gradcheck(bad_square, [np.array([1.0])], raise_exception=False) is False
    assert gradcheck(lambda x: x**2, [np.array([1.0, 2.0])])
