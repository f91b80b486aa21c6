"""ModuleList and ModuleDict register what they hold; plain lists of modules are warned about."""

import warnings

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = layer(x).relu()
        return self.layers[-1](x)


def test_module_list_registers_parameters_with_pytorch_names():
    model = MLP([4, 8, 3])
    assert list(model.state_dict()) == ["layers.0.weight", "layers.0.bias",
                                        "layers.1.weight", "layers.1.bias"]
    assert sum(p.data.size for p in model.parameters()) == 4 * 8 + 8 + 8 * 3 + 3
    assert model(np.ones((5, 4), dtype=np.float32)).shape == (5, 3)


def test_module_list_trains_with_an_optimizer():
    dlcore.manual_seed(0)
    model = MLP([2, 16, 2])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    opt = optim.Adam(model.parameters(), lr=0.05)
    before = model.layers[0].weight.data.copy()
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert not np.array_equal(before, model.layers[0].weight.data)
    assert losses[-1] < 0.5 * losses[0]


def test_module_list_behaves_like_a_list():
    a, b, c = nn.Linear(1, 1), nn.ReLU(), nn.Tanh()
    layers = nn.ModuleList([a, b])
    assert len(layers) == 2 and layers[0] is a and layers[-1] is b
    assert list(layers) == [a, b]
    layers.append(c)
    assert [type(m).__name__ for m in layers] == ["Linear", "ReLU", "Tanh"]
    tail = layers[1:]
    assert isinstance(tail, nn.ModuleList) and list(tail) == [b, c]
    layers.insert(0, nn.Sigmoid())
    assert list(layers._modules) == ["0", "1", "2", "3"]
    assert isinstance(layers[0], nn.Sigmoid) and layers[1] is a
    assert layers.pop(0).__class__ is nn.Sigmoid and list(layers) == [a, b, c]
    del layers[1]
    assert list(layers) == [a, c] and list(layers._modules) == ["0", "1"]
    layers[1] = b
    assert list(layers) == [a, b]
    layers += [c]
    assert list(layers) == [a, b, c]
    assert list(layers + nn.ModuleList([a])) == [a, b, c, a]
    assert "(2): Tanh()" in repr(layers)


def test_module_list_refuses_what_is_not_a_module():
    with pytest.raises(TypeError, match="ModuleList: item 1 must be a Module, got function"):
        nn.ModuleList([nn.ReLU(), lambda x: x])
    with pytest.raises(TypeError, match="use append"):
        nn.ModuleList().extend(nn.ReLU())
    layers = nn.ModuleList([nn.ReLU()])
    with pytest.raises(IndexError, match="index 1 is out of range for 1 modules"):
        layers[1]
    with pytest.raises(TypeError, match="indices must be integers"):
        layers["0"]
    with pytest.raises(NotImplementedError):
        layers(np.ones(1))


def test_module_dict_registers_and_looks_up_by_name():
    heads = nn.ModuleDict({"digit": nn.Linear(4, 10), "parity": nn.Linear(4, 2)})
    assert list(heads.state_dict()) == ["digit.weight", "digit.bias",
                                        "parity.weight", "parity.bias"]
    assert heads.keys() == ["digit", "parity"] and "digit" in heads and len(heads) == 2
    assert [k for k, _ in heads.items()] == list(heads)
    heads["parity"] = nn.Linear(4, 1)
    assert heads["parity"].out_features == 1 and heads.keys() == ["digit", "parity"]
    heads.update([("extra", nn.ReLU())])
    assert heads.pop("extra").__class__ is nn.ReLU and "extra" not in heads
    del heads["digit"]
    assert heads.keys() == ["parity"]
    with pytest.raises(KeyError, match="has no module 'nope'"):
        heads["nope"]
    with pytest.raises(KeyError, match="contain no '.'"):
        heads["a.b"] = nn.ReLU()
    with pytest.raises(TypeError, match="keys must be strings"):
        heads[1] = nn.ReLU()
    with pytest.raises(TypeError, match="must be a Module, got int"):
        heads["x"] = 3


def test_state_dict_round_trip_through_containers():
    dlcore.manual_seed(1)
    a = MLP([3, 5, 2])
    dlcore.manual_seed(2)
    b = MLP([3, 5, 2])
    b.load_state_dict(a.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


@pytest.mark.parametrize("container", [list, tuple])
def test_a_plain_list_of_layers_is_warned_about(container):
    class Hidden(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = container([nn.Linear(2, 2), nn.ReLU()])

    with pytest.warns(UserWarning, match=r"Hidden.layers: a plain \w+ holding Linear, ReLU; "
                                         r"their parameters are not registered.*nn.ModuleList"):
        model = Hidden()
    assert list(model.parameters()) == []


def test_a_plain_dict_of_layers_is_warned_about_and_plain_data_is_not():
    class Hidden(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = {"a": nn.Linear(2, 2)}

    with pytest.warns(UserWarning, match="use nn.ModuleDict"):
        Hidden()

    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.sizes = [1, 2, 3]
            self.names = {"a": "b"}
            self.empty = []

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Plain()
