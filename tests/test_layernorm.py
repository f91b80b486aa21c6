"""layer_norm and LayerNorm: forward against the formula, gradients against finite differences."""

import numpy as np
import pytest
from helpers import check_op, rng
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim


def reference(x, shape, weight=None, bias=None, eps=1e-5):
    """Layer norm written out in float64 with NumPy's two-pass variance."""
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


@pytest.mark.parametrize("x_shape, shape", [
    ((4, 6), (6,)),
    ((3, 2, 5), (5,)),
    ((2, 3, 4, 4), (3, 4, 4)),
    ((5, 1), (1,)),
])
def test_forward_and_gradients_with_affine(x_shape, shape):
    g = rng(0)
    x = g.standard_normal(x_shape) * 3 + 1
    w = g.standard_normal(shape)
    b = g.standard_normal(shape)
    check_op(lambda x, w, b: F.layer_norm(x, shape, w, b),
             lambda x, w, b: reference(x, shape, w, b), [x, w, b], float32_rtol=1e-4,
             float32_atol=1e-5)


def test_forward_and_gradient_without_affine():
    x = rng(1).standard_normal((3, 7))
    check_op(lambda x: F.layer_norm(x, 7), lambda x: reference(x, (7,)), [x])


def test_each_sample_has_mean_zero_and_variance_one():
    x = rng(2).standard_normal((8, 32)).astype(np.float32) * 10 + 50
    y = F.layer_norm(x, 32).numpy()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=1), 1, atol=1e-3)


@settings(max_examples=40, deadline=None)
@given(lead=st.lists(st.integers(0, 3), min_size=0, max_size=2),
       trail=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       seed=st.integers(0, 2**16))
def test_random_shapes_against_reference(lead, trail, seed):
    g = rng(seed)
    shape = tuple(trail)
    x = g.standard_normal(tuple(lead) + shape)
    w, b = g.standard_normal(shape), g.standard_normal(shape)
    xt = dlcore.tensor(x, requires_grad=True)
    out = F.layer_norm(xt, shape, w, b)
    np.testing.assert_allclose(out.numpy(), reference(x, shape, w, b), rtol=1e-7, atol=1e-9)
    out.sum().backward()
    assert xt.grad.shape == x.shape
    # The output does not change when a constant is added to a sample, so neither does the
    # loss, and each sample's gradient sums to zero.
    if x.size:
        axes = tuple(range(len(lead), x.ndim))
        np.testing.assert_allclose(xt.grad.numpy().sum(axis=axes), 0, atol=1e-9)


def test_nan_stays_in_its_sample():
    x = np.ones((3, 4))
    x[1, 2] = np.nan
    x[0] = [1, 2, 3, 4]
    y = F.layer_norm(x, 4).numpy()
    assert np.isnan(y[1]).all()
    assert np.isfinite(y[0]).all() and np.isfinite(y[2]).all()


def test_functional_errors_name_the_shapes():
    x = np.zeros((2, 5), dtype=np.float32)
    with pytest.raises(ValueError, match=r"input has shape \(2, 5\) but normalized_shape "
                                         r"\(4,\) expects input of shape \(\*, 4\)"):
        F.layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"input has shape \(5,\) but normalized_shape"):
        F.layer_norm(np.zeros(5, dtype=np.float32), (2, 5))
    with pytest.raises(ValueError, match=r"weight has shape \(4,\) but normalized_shape is "
                                         r"\(5,\)"):
        F.layer_norm(x, 5, weight=np.ones(4))
    with pytest.raises(TypeError, match="must be a float tensor, got dtype int64"):
        F.layer_norm(np.zeros((2, 5), dtype=np.int64), 5)
    for bad in (0, (), (3, -1)):
        with pytest.raises(ValueError, match="normalized_shape must be positive and non-empty"):
            F.layer_norm(x, bad)
    for bad in (2.5, True, (5.0,), "5"):
        with pytest.raises(TypeError, match="normalized_shape must be an int or a tuple of ints"):
            F.layer_norm(x, bad)
    with pytest.raises(ValueError, match="eps must be positive"):
        F.layer_norm(x, 5, eps=0)


def test_module_parameters_repr_and_state_dict():
    layer = nn.LayerNorm((3, 4))
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.shape == (3, 4) and layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.numpy(), 1)
    np.testing.assert_array_equal(layer.bias.numpy(), 0)
    assert repr(layer) == "LayerNorm((3, 4), eps=1e-05, elementwise_affine=True)"
    assert list(nn.LayerNorm(4, bias=False).state_dict()) == ["weight"]
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []


def test_module_is_the_same_in_train_and_eval_and_takes_a_batch_of_one():
    layer = nn.LayerNorm(6)
    layer.weight.data[:] = np.arange(6)
    x = rng(3).standard_normal((1, 6)).astype(np.float32)
    train_out = layer(x).numpy()
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), train_out)
    np.testing.assert_allclose(train_out, reference(x.astype(np.float64), (6,),
                                                    np.arange(6.0), np.zeros(6)),
                               rtol=1e-5, atol=1e-5)


def test_module_casts_input_to_its_dtype_and_gradchecks_in_float64():
    layer = nn.LayerNorm(4)
    assert layer(np.arange(8, dtype=np.uint8).reshape(2, 4)).dtype == np.float32
    layer64 = nn.LayerNorm(4, dtype=np.float64)
    layer64.weight.data[:] = [0.5, 1, 2, -1]
    layer64.bias.data[:] = [0, 1, 0, 1]
    x = rng(4).standard_normal((3, 4))
    assert dlcore.autograd.gradcheck(lambda t: layer64(t), [x])
    out = layer64(dlcore.tensor(x, requires_grad=True))
    assert out.grad_fn.name == "LayerNormBackward"


def test_a_layer_normalised_mlp_learns():
    dlcore.manual_seed(0)
    g = rng(5)
    x = g.standard_normal((256, 10)).astype(np.float32)
    y = (x[:, :5].sum(axis=1) > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(10, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    first = None
    for _ in range(80):
        loss = F.cross_entropy(model(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first
    assert model[1].weight.grad is not None
