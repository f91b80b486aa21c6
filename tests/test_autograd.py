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


def test_grad_of_a_result_without_a_graph_says_why():
    # A derivative of a derivative would silently be 0 if the detached inner result were
    # taken for a constant; it is refused with the reason instead.
    second = dlcore.grad(dlcore.grad(lambda x: x**3))
    with pytest.raises(RuntimeError, match=r"grad\(grad\(f\)\)\) is not supported"):
        second(2.0)
    with pytest.raises(RuntimeError, match="no graph back to its inputs"):
        dlcore.grad(lambda x: dlcore.tensor(5.0))(1.0)


def test_gradcheck_catches_a_wrong_backward():
    def bad_square(x):
        return dlcore.Tensor._from_op(x.data**2, (x,), lambda g: (g * x.data,))  # missing 2

    with pytest.raises(GradcheckError, match="analytic"):
        gradcheck(bad_square, [np.array([1.0, 2.0])])
    assert gradcheck(bad_square, [np.array([1.0])], raise_exception=False) is False
    assert gradcheck(lambda x: x**2, [np.array([1.0, 2.0])])


@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_gradcheck_of_non_contiguous_inputs(layout):
    base = np.arange(1.0, 13.0).reshape(3, 4)
    x = base.T if layout == "transposed" else base[:, ::2]
    weights = np.arange(x.size, dtype=np.float64).reshape(x.shape)
    # A correct gradient passes and a wrong one is caught, whatever the input's layout.
    assert gradcheck(lambda t: (t * t * dlcore.tensor(weights)).sum(), [x])
    with pytest.raises(GradcheckError, match="analytic"):
        gradcheck(lambda t: dlcore.Tensor._from_op(t.data**2, (t,), lambda g: (g * t.data,)),
                  [x])


def test_diamond_graph_gets_every_path():
    x = dlcore.tensor(1.5, requires_grad=True)
    a = x * 2
    b = a.exp()
    c = a * b + b  # a reaches c directly and through b
    c.backward()
    # c = 2x e^(2x) + e^(2x): dc/dx = 2 e^(2x) + 4x e^(2x) + 2 e^(2x)
    e = np.exp(3.0)
    assert x.grad.item() == pytest.approx(4 * e + 4 * 1.5 * e, rel=1e-6)


def test_deep_chain_needs_no_recursion():
    x = dlcore.tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**5000)


def _random_dag(leaves, seed=0):
    """A random DAG over ``leaves``: each new node mixes two earlier ones; the loss sums the
    last five."""
    rng = np.random.default_rng(seed)
    nodes = list(leaves)
    for _ in range(40):
        a, b = rng.choice(len(nodes), 2)
        nodes.append(nodes[a] * 0.5 + nodes[b].tanh())
    return sum(n.sum() for n in nodes[-5:])


def test_nodes_are_visited_after_all_their_consumers_whatever_the_graph_shape():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(3) for _ in range(3)]
    assert dlcore.gradcheck(lambda *xs: _random_dag(xs), arrays)


def test_a_failing_backward_leaves_every_grad_untouched():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    w = dlcore.tensor([3.0, 4.0], requires_grad=True)

    def broken(g):
        raise ZeroDivisionError("boom")

    h = x * w  # w gets its gradient from here before the broken node runs
    y = dlcore.Tensor._from_op(h.data.copy(), (h, x), broken)
    with pytest.raises(ZeroDivisionError):
        (y.sum() + (w * 2).sum()).backward()
    assert x.grad is None and w.grad is None


def test_gradients_passed_through_are_copied_into_grad():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = dlcore.tensor([3.0, 4.0], requires_grad=True)
    seed = np.array([1.0, 1.0], dtype=np.float32)
    (x + y).backward(seed)  # add hands the same array to both parents
    assert not np.shares_memory(x.grad.data, y.grad.data)
    assert not np.shares_memory(x.grad.data, seed)
    x.grad.data[0] = 100  # in-place changes stay private
    assert y.grad.data[0] == 1 and seed[0] == 1


def test_fresh_gradients_are_adopted_and_others_copied():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = dlcore.tensor([3.0, 4.0], requires_grad=True)
    made = []

    def backward(g):
        made[:] = [g * 2, g * 3]
        return tuple(made)

    out = dlcore.Tensor._from_op(x.data + y.data, (x, y), backward, True)
    out.sum().backward()
    assert x.grad.data is made[0] and y.grad.data is made[1]
    saved = np.array([5.0, 5.0], dtype=np.float32)
    z = dlcore.tensor([0.0, 0.0], requires_grad=True)
    dlcore.Tensor._from_op(z.data.copy(), (z,), lambda g: (saved,)).sum().backward()
    assert z.grad.data is not saved and not np.shares_memory(z.grad.data, saved)


def test_slices_add_their_gradients_in_place():
    # Many slices of one tensor (an RNN reading its steps), overlapping basic slices, an
    # advanced index with repeats, and a dense use of the same tensor: the gradients sum.
    data = np.arange(24.0).reshape(4, 6)
    x = dlcore.tensor(data, requires_grad=True)
    h = x * 1.0  # a non-leaf, so the slices meet in the engine before reaching x
    total = sum((r * (i + 1)).sum() for i, r in enumerate(h.unbind(0)))
    total = total + h[1:3, 2:].sum() + h[:, [0, 0, 5]].sum() + (h * h).sum()
    total.backward()
    want = np.repeat(np.arange(1.0, 5.0)[:, None], 6, axis=1)
    want[1:3, 2:] += 1
    want[:, 0] += 2
    want[:, 5] += 1
    want += 2 * data
    np.testing.assert_array_equal(x.grad.data, want)


def test_slice_gradient_does_not_write_into_a_shared_gradient():
    # x + y hands the same gradient array to x and y; a slice of y arriving later must not
    # change x's gradient by adding into that shared array.
    # (The slices are recorded first, so the backward reaches them last.)
    x = dlcore.tensor(np.zeros(3), requires_grad=True)
    y = dlcore.tensor(np.zeros(3), requires_grad=True)
    picks = y[1] * 7
    s = x + y
    ((s * dlcore.tensor(np.ones(3))).sum() + picks).backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(y.grad.data, [1.0, 8.0, 1.0])


def test_slice_gradients_in_float32_and_through_grad_fn():
    x = dlcore.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    y = x[1]
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [[0, 0], [1, 1], [0, 0]])
    (dense,) = x[::2].grad_fn(np.full((2, 2), 3.0, np.float32))
    np.testing.assert_array_equal(dense, [[3, 3], [0, 0], [3, 3]])
