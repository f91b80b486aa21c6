"""Module registration, traversal, state dicts, modes; Linear and Sequential."""

from collections import OrderedDict

import numpy as np
import pytest
from helpers import check_op

import dlcore
from dlcore import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))
        self.register_buffer("count", np.zeros(1))
        self.note = "plain attribute"

    def forward(self, x):
        return self.fc(x) * self.scale


def test_registration_and_traversal():
    model = nn.Sequential(Block(), nn.ReLU(), nn.Linear(4, 2))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.scale", "0.fc.weight", "0.fc.bias", "2.weight", "2.bias"]
    assert len(list(model.children())) == 3
    assert [n for n, _ in model.named_buffers()] == ["0.count"]
    assert model[0].note == "plain attribute"
    assert isinstance(model[-1], nn.Linear) and len(model[:2]) == 2


def test_shared_parameters_are_listed_once():
    fc = nn.Linear(2, 2)
    model = nn.Sequential(fc, fc)
    assert len(list(model.parameters())) == 2


def test_state_dict_round_trip_and_copy_semantics():
    dlcore.manual_seed(0)
    a = nn.Sequential(Block(), nn.Linear(4, 2))
    b = nn.Sequential(Block(), nn.Linear(4, 2))
    state = a.state_dict()
    assert list(state) == ["0.scale", "0.count", "0.fc.weight", "0.fc.bias", "1.weight",
                           "1.bias"]
    state["1.bias"][:] = 99  # a copy: the model is unchanged
    assert not np.any(a[1].bias.data == 99)
    b.load_state_dict(a.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_state_dict_errors_name_keys_and_shapes():
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="missing keys: bias"):
        model.load_state_dict({"weight": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="unexpected keys: extra"):
        model.load_state_dict({**model.state_dict(), "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"weight: shape \(3, 2\).*\(2, 3\)"):
        model.load_state_dict({"weight": np.zeros((3, 2)), "bias": np.zeros(2)})
    missing, unexpected = model.load_state_dict({"weight": np.zeros((2, 3))}, strict=False)
    assert missing == ["bias"] and unexpected == []


def test_load_state_dict_checks_everything_before_copying():
    # A value that cannot be cast used to fail half way, leaving the first layers loaded.
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = model.state_dict()
    state = {**{k: np.zeros_like(v) for k, v in before.items()},
             "1.weight": np.array([["a", "b", "c"]])}
    with pytest.raises(TypeError, match=r"1\.weight: dtype <U1 .* float32"):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([("0.weight", np.zeros((3, 2)))])


def test_non_float_dtypes_are_refused_for_parameters():
    with pytest.raises(TypeError, match="float"):
        nn.Linear(2, 2).to(np.int64)
    with pytest.raises(TypeError, match="numeric"):
        nn.Parameter([1.0, None])
    with pytest.raises(TypeError, match="float"):
        nn.Linear(3, 2, dtype=np.int64)
    with pytest.raises(TypeError, match="weight must be a float"):
        nn.functional.linear(np.full((1, 2), 0.5), np.ones((1, 2), np.int64))
    # .to("cpu") is what ported PyTorch code writes: there is only the CPU, so it is a no-op.
    layer = nn.Linear(2, 2)
    assert layer.to("cpu") is layer and layer.weight.dtype == np.float32
    assert layer.weight.to("cpu") is layer.weight


def test_train_eval_and_zero_grad():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    assert model.training and model[0].training
    model.eval()
    assert not model.training and not model[1].training
    model.train()
    model(np.ones((1, 2), dtype=np.float32)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_repr_shows_structure():
    text = repr(nn.Sequential(nn.Linear(784, 128), nn.ReLU()))
    assert "(0): Linear(in_features=784, out_features=128, bias=True)" in text
    assert "(1): ReLU()" in text


def test_forgetting_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(RuntimeError, match=r"super\(\)\.__init__"):
        Broken()


def test_sequential_from_ordered_dict_and_bad_member():
    model = nn.Sequential(OrderedDict(hidden=nn.Linear(2, 3), act=nn.Tanh()))
    assert [n for n, _ in model.named_children()] == ["hidden", "act"]
    with pytest.raises(TypeError, match="argument 0"):
        nn.Sequential(lambda x: x)


def test_linear_matches_formula_and_gradients():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5)
    check_op(lambda x, w, b: nn.functional.linear(x, w, b), lambda x, w, b: x @ w.T + b,
             [x, w, b])
    x3 = rng.standard_normal((2, 4, 3))
    check_op(lambda x, w: nn.functional.linear(x, w), lambda x, w: x @ w.T, [x3, w])


def test_linear_default_init_bounds_and_dtype_handling():
    dlcore.manual_seed(0)
    layer = nn.Linear(100, 50)
    bound = 1 / np.sqrt(100)
    assert layer.weight.dtype == np.float32 and layer.weight.shape == (50, 100)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.9 * bound
    # float64 and uint8 inputs are cast to the layer's dtype.
    assert layer(np.ones((2, 100))).dtype == np.float32
    assert layer(np.ones((2, 100), dtype=np.uint8)).dtype == np.float32
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_shape_errors_name_shapes():
    layer = nn.Linear(784, 128)
    with pytest.raises(ValueError, match=r"\(64, 785\).*\(128, 784\).*784"):
        layer(np.zeros((64, 785), dtype=np.float32))
    with pytest.raises(ValueError, match="non-negative int"):
        nn.Linear(-1, 3)


def test_linear_with_zero_features():
    # reshape(-1, 0) cannot infer the batch size: Linear(0, n) raised NumPy's 'cannot reshape
    # array of size 0'. With no input features the output is the bias, as in PyTorch.
    layer = nn.Linear(0, 3)
    x = dlcore.tensor(np.zeros((2, 0), np.float32), requires_grad=True)
    y = layer(x)
    np.testing.assert_array_equal(y.data, np.broadcast_to(layer.bias.data, (2, 3)))
    y.sum().backward()
    assert x.grad.shape == (2, 0) and layer.weight.grad.shape == (3, 0)
    np.testing.assert_array_equal(layer.bias.grad.data, [2, 2, 2])
    empty_out = nn.Linear(3, 0)
    x = dlcore.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    y = empty_out(x)
    assert y.shape == (4, 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((4, 3)))


def test_module_to_double_for_gradcheck():
    layer = nn.Linear(3, 2).double()
    assert layer.weight.dtype == np.float64
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert dlcore.gradcheck(lambda w: nn.functional.linear(x, w, layer.bias.detach()),
                            [layer.weight.data])
