"""In-place tensor methods (``add_``, ``fill_``, ``x[i] = v``...), the checks that keep
gradients right around them, and the small PyTorch conveniences ``x.size(d)`` and
``f"{loss:.4f}"``."""

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlcore
from dlcore import nn


def _pairs(dtype):
    """A tensor and an operand that broadcasts to its shape (not beyond: the result must fit
    in the tensor)."""
    return hnp.array_shapes(min_dims=0, max_dims=4, max_side=5).flatmap(
        lambda shape: st.tuples(st.just(shape), hnp.broadcastable_shapes(shape, max_side=5).filter(
            lambda other: np.broadcast_shapes(shape, other) == shape))
    ).flatmap(lambda shapes: st.tuples(
        hnp.arrays(dtype, shapes[0], elements=st.floats(-4, 4, width=32)),
        hnp.arrays(dtype, shapes[1], elements=st.floats(0.5, 4, width=32)),
    ))


@settings(max_examples=60, deadline=None)
@given(_pairs(np.float32), st.sampled_from([1.0, -0.5]))
def test_arithmetic_methods_match_numpy_and_keep_the_array(pair, alpha):
    data, other = pair
    for method, want in [
        ("add_", lambda: data + np.float32(alpha) * other),
        ("sub_", lambda: data - np.float32(alpha) * other),
        ("mul_", lambda: data * other),
        ("div_", lambda: data / other),
    ]:
        x = dlcore.tensor(data.copy())
        array = x.data
        args = (other, alpha) if method in ("add_", "sub_") else (other,)
        assert getattr(x, method)(*args) is x
        assert x.data is array and x.dtype == np.float32
        np.testing.assert_allclose(x.numpy(), want(), rtol=1e-6, atol=1e-6)


def test_fill_zero_copy_clamp_and_item_assignment():
    x = dlcore.zeros(2, 3)
    np.testing.assert_array_equal(x.fill_(2.5).numpy(), np.full((2, 3), 2.5))
    np.testing.assert_array_equal(x.copy_(np.arange(3.0)).numpy(), [[0, 1, 2]] * 2)
    np.testing.assert_array_equal(x.clamp_(min=0.5, max=1.5).numpy(), [[0.5, 1, 1.5]] * 2)
    x[0] = 7.0
    x[1, 1:] = dlcore.tensor([8.0, 9.0])
    np.testing.assert_array_equal(x.numpy(), [[7, 7, 7], [0.5, 8, 9]])
    x[x > 7.5] = -1.0  # a boolean mask, given as a Tensor
    x[dlcore.tensor([0]), dlcore.tensor([2])] = 3.0
    np.testing.assert_array_equal(x.numpy(), [[7, 7, 3], [0.5, -1, -1]])
    assert x.zero_() is x and not x.numpy().any()
    assert x.dtype == np.float32


def test_manual_sgd_with_add_matches_the_optimizer():
    dlcore.manual_seed(0)
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    opt = dlcore.optim.SGD(b.parameters(), lr=0.1)
    for _ in range(3):
        for model in (a, b):
            model.zero_grad()
            (model(x) ** 2).mean().backward()
        with dlcore.no_grad():
            for p in a.parameters():
                p.add_(p.grad, alpha=-0.1)
        opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-6)


def test_initialising_under_no_grad_is_reproducible():
    layer = nn.Linear(200, 300)
    with dlcore.no_grad():
        dlcore.manual_seed(3)
        layer.weight.normal_(0.0, 0.02)
        layer.bias.uniform_(-0.5, 0.5)
        first = layer.weight.numpy().copy(), layer.bias.numpy().copy()
        dlcore.manual_seed(3)
        layer.weight.normal_(0.0, 0.02)
        layer.bias.uniform_(-0.5, 0.5)
    np.testing.assert_array_equal(layer.weight.numpy(), first[0])
    np.testing.assert_array_equal(layer.bias.numpy(), first[1])
    assert layer.weight.dtype == np.float32 and isinstance(layer.weight, nn.Parameter)
    assert abs(layer.weight.numpy().std() - 0.02) < 0.001
    assert abs(layer.weight.numpy().mean()) < 0.001
    assert -0.5 <= layer.bias.numpy().min() and layer.bias.numpy().max() < 0.5


@pytest.mark.parametrize("write", [
    lambda t: t.add_(1.0), lambda t: t.mul_(2.0), lambda t: t.fill_(0.0), lambda t: t.zero_(),
    lambda t: t.normal_(), lambda t: t.copy_(np.ones(2)), lambda t: t.__setitem__(0, 1.0),
])
def test_with_grad_on_tensors_that_require_grad_are_not_written(write):
    w = dlcore.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        write(w)
    h = w * 3
    with pytest.raises(RuntimeError, match="part of the graph.*new tensor"):
        write(h)
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(h.numpy(), [3.0, 6.0])


def test_a_value_that_requires_grad_is_not_written_silently():
    # The write would not be recorded, so w would get no gradient from it.
    w = dlcore.tensor([1.0, 2.0], requires_grad=True)
    x = dlcore.zeros(2)
    for write in (lambda: x.add_(w), lambda: x.copy_(w), lambda: x.__setitem__(0, w[0])):
        with pytest.raises(RuntimeError, match="gradient would be lost"):
            write()
    assert not x.numpy().any()
    with dlcore.no_grad():
        x.add_(w)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])
    # The operator form records it instead: `x += w` rebinds x to a new node.
    y = dlcore.zeros(2)
    y += w * w
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])


def test_operators_write_in_place_only_under_no_grad():
    x = dlcore.ones(3)
    alias = x
    x += 1.0  # grad mode on: a new tensor, as x = x + 1 (x might be saved by some op)
    assert x is not alias and alias.numpy().tolist() == [1.0, 1.0, 1.0]
    with dlcore.no_grad():
        y = alias
        y *= dlcore.tensor(3.0)
    assert y is alias
    np.testing.assert_array_equal(alias.numpy(), [3.0, 3.0, 3.0])


def test_batches_viewing_a_dataset_are_not_written_through():
    images = np.arange(12.0, dtype=np.float32).reshape(6, 2)
    dataset = dlcore.data.TensorDataset(dlcore.tensor(images), dlcore.tensor(np.arange(6)))
    before = images.copy()
    for loader in (dlcore.data.DataLoader(dataset, batch_size=4),
                   dlcore.data.DataLoader(dlcore.tensor(images), batch_size=4)):
        for batch in loader:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            with pytest.raises(ValueError, match=r"read-only.*dataset.*clone"):
                x.add_(1.0)
            with pytest.raises(ValueError, match="read-only"):
                x[0] = 0.0
            with dlcore.no_grad():
                x -= 100.0  # the operator gives a new tensor instead
            assert x.numpy().max() < 0
            copy = batch[0].clone() if isinstance(batch, (tuple, list)) else batch.clone()
            copy.add_(1.0)
    np.testing.assert_array_equal(images, before)
    sample, _ = dataset[2]
    with pytest.raises(ValueError, match="read-only"):
        sample.mul_(2.0)
    np.testing.assert_array_equal(images, before)
    # Shuffled batches are copies, and writable.
    for x, _ in dlcore.data.DataLoader(dataset, batch_size=4, shuffle=True):
        x.add_(1.0)
    np.testing.assert_array_equal(images, before)


def test_backward_refuses_ops_whose_inputs_were_written_after_them():
    w = dlcore.tensor([1.0, 2.0], requires_grad=True)
    x = dlcore.tensor([3.0, 4.0])
    y = (w * x).sum()  # saves x for w's gradient
    x.mul_(10.0)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*changed in place.*clone"):
        y.backward()
    assert w.grad is None
    # A graph recorded after the write is fine.
    (w * x).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [30.0, 40.0])


def test_backward_refuses_a_graph_whose_leaf_was_updated_under_no_grad():
    w = dlcore.tensor([1.0, 2.0], requires_grad=True)
    loss = (w ** 2).sum()
    with dlcore.no_grad():
        w -= 1.0
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()
    (w ** 2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 2.0])


def test_backward_refuses_an_output_written_after_its_op():
    # sigmoid's derivative is computed from its saved output.
    w = dlcore.tensor([0.5], requires_grad=True)
    s = w.sigmoid()
    with dlcore.no_grad():
        s.fill_(0.0)
    with pytest.raises(RuntimeError, match="SigmoidBackward|changed in place"):
        s.sum().backward()


def test_backward_after_an_optimizer_step_is_refused_as_in_pytorch():
    # A GAN-style slip: the discriminator steps, then the generator's loss, recorded before
    # that step, is backpropagated through the changed weights.
    dlcore.manual_seed(0)
    disc = nn.Linear(3, 1)
    opt = dlcore.optim.Adam(disc.parameters(), lr=0.1)
    fake = dlcore.randn(4, 3, requires_grad=True)
    g_loss = disc(fake).sum()
    d_loss = (disc(fake.detach()) ** 2).mean()
    d_loss.backward()
    opt.step()
    with pytest.raises(RuntimeError, match=r"shape \(1, 3\).*optimizer step"):
        g_loss.backward()
    assert fake.grad is None
    # The usual order, backward then step, every iteration, is untouched.
    for _ in range(3):
        opt.zero_grad()
        loss = (disc(fake) ** 2).mean()
        loss.backward()
        opt.step()
    assert fake.grad is not None


def test_parameters_without_gradients_are_not_stamped_by_a_step():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    opt = dlcore.optim.SGD([*a.parameters(), *b.parameters()], lr=0.1)
    x = dlcore.randn(3, 2)
    b_out = b(x).sum()  # b gets no gradient before the step: its values do not change
    a(x).sum().backward()
    opt.step()
    b_out.backward()
    assert b.weight.grad is not None


def test_load_state_dict_and_init_count_as_writes():
    lin = nn.Linear(2, 2)
    x = dlcore.randn(3, 2)
    out = lin(x).sum()
    lin.load_state_dict(nn.Linear(2, 2).state_dict())
    with pytest.raises(RuntimeError, match="changed in place"):
        out.backward()
    out = lin(x).sum()
    nn.init.zeros_(lin.weight)
    with pytest.raises(RuntimeError, match="changed in place"):
        out.backward()
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.tile(x.numpy().sum(0), (2, 1)),
                               rtol=1e-6)


def test_bad_values_name_the_shapes_and_dtypes():
    x = dlcore.zeros(2, 3)
    with pytest.raises(ValueError, match=r"add_.*\(2, 3\).*\(4,\)"):
        x.add_(np.ones(4))
    with pytest.raises(ValueError, match=r"__setitem__.*\(2, 3\).*\(2,\)"):
        x[0] = np.ones(2)
    with pytest.raises(ValueError, match=r"fill_.*number.*\(3,\)"):
        x.fill_(np.ones(3))
    ints = dlcore.tensor([1, 2])
    with pytest.raises(TypeError, match=r"int64.*float64"):
        ints.add_(np.array([0.5, 0.5]))
    with pytest.raises(TypeError, match=r"int64.*float64"):
        ints[0] = 1.7
    with pytest.raises(TypeError, match="floating-point.*int64"):
        ints.normal_()
    with pytest.raises(ValueError, match="std"):
        x.normal_(0.0, -1.0)
    with pytest.raises(ValueError, match="a <= b"):
        x.uniform_(1.0, 0.0)
    with pytest.raises(ValueError, match="min and max"):
        x.clamp_()
    np.testing.assert_array_equal(ints.numpy(), [1, 2])
    assert not x.numpy().any()


def test_size_is_numpy_s_count_and_pytorch_s_method():
    x = dlcore.zeros(4, 3, 2)
    assert x.size == 24 and isinstance(x.size, int) and x.size + 1 == 25
    assert x.size() == (4, 3, 2)
    assert x.size(0) == 4 and x.size(-1) == 2
    assert np.zeros(x.size).shape == (24,)
    assert dlcore.tensor(5.0).size() == () and dlcore.tensor(5.0).size == 1
    with pytest.raises(ValueError, match="size: dim 3 is out of range.*3 dimensions"):
        x.size(3)
    for twin in (pickle.loads(pickle.dumps(x.size)), copy.deepcopy(x.size)):
        assert twin == 24 and twin() == (4, 3, 2)


def test_one_element_tensors_take_number_formats():
    loss = dlcore.tensor(0.123456)
    assert f"{loss:.3f}" == "0.123" and f"{dlcore.tensor([2.5]):>6.1f}" == "   2.5"
    assert f"{loss}" == str(loss)
    x = dlcore.zeros(2)
    assert f"{x}" == str(x)
    with pytest.raises(TypeError, match=r"one-element.*\(2,\)"):
        f"{x:.2f}"
