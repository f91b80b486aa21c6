"""ParameterList and ParameterDict: registration (parameters(), state_dict keys, load), list
and dict behaviour, optimizer updates, dtype conversion, reprs and bad input."""

import warnings

import numpy as np
import pytest

import dlcore
from dlcore import nn

RNG = np.random.default_rng(0)


class Mixture(nn.Module):
    def __init__(self):
        super().__init__()
        self.means = nn.ParameterList([np.zeros(2, np.float32), dlcore.ones(2)])
        self.gains = nn.ParameterDict({"red": np.ones(3, np.float32),
                                       "blue": nn.Parameter(np.full(3, 2.0, np.float32))})

    def forward(self, x):
        return (x - self.means[0]) ** 2 * self.gains["red"].sum() + self.means[1].sum() \
            * self.gains["blue"].mean()


def test_state_dict_keys_and_parameters():
    model = Mixture()
    assert list(model.state_dict()) == ["means.0", "means.1", "gains.red", "gains.blue"]
    assert [name for name, _ in model.named_parameters()] == list(model.state_dict())
    assert len(list(model.parameters())) == 4
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())
    assert list(nn.ParameterList([np.ones(1)] * 3).state_dict()) == ["0", "1", "2"]


def test_optimizer_updates_every_parameter():
    model = Mixture()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    opt = dlcore.optim.SGD(model.parameters(), lr=0.1)
    loss = model(dlcore.tensor(RNG.normal(size=(4, 2)).astype(np.float32))).sum()
    loss.backward()
    opt.step()
    after = model.state_dict()
    for key in before:
        assert not np.allclose(before[key], after[key]), key


def test_load_state_dict_and_dtype_conversion():
    source, target = Mixture(), Mixture()
    source.means[1].data[:] = 7
    source.gains["blue"].data[:] = -1
    target.load_state_dict(source.state_dict())
    np.testing.assert_array_equal(target.means[1].numpy(), [7, 7])
    np.testing.assert_array_equal(target.gains["blue"].numpy(), [-1, -1, -1])
    target.double()
    assert target.means[0].dtype == np.float64 and target.gains["red"].dtype == np.float64


def test_list_behaviour():
    params = nn.ParameterList()
    assert len(params) == 0 and repr(params) == "ParameterList()"
    params.append(np.zeros((3, 4), np.float32))
    params.extend([dlcore.ones(5), nn.Parameter(np.ones(2))])
    params += [np.zeros(1)]
    assert len(params) == 4 and [p.shape for p in params] == [(3, 4), (5,), (2,), (1,)]
    assert params[-1] is params[3]
    window = params[1:3]
    assert isinstance(window, nn.ParameterList) and window[0] is params[1]
    replacement = nn.Parameter(np.full(5, 3.0))
    params[1] = replacement
    assert params[1] is replacement and list(params.parameters())[1] is replacement
    wrapped = dlcore.tensor(np.ones(2))
    params.append(wrapped)
    assert isinstance(params[4], nn.Parameter) and params[4].requires_grad
    assert repr(nn.ParameterList([np.zeros((3, 4), np.float32)])) == (
        "ParameterList(\n    (0): Parameter containing: [float32 of size 3x4]\n)")


def test_dict_behaviour():
    gains = nn.ParameterDict([("a", np.ones(1)), ("b", np.ones(2))])
    assert gains.keys() == ["a", "b"] and "a" in gains and "z" not in gains
    assert [p.shape for p in gains.values()] == [(1,), (2,)]
    gains["c"] = dlcore.zeros(3)
    gains.update({"a": np.full(4, 2.0)})
    assert list(gains) == ["a", "b", "c"] and gains["a"].shape == (4,)
    assert gains.get("z") is None and gains.get("b") is gains["b"]
    made = gains.setdefault("d", np.ones(1))
    assert gains.setdefault("d", np.zeros(9)) is made
    del gains["b"]
    popped = gains.pop("c")
    assert popped.shape == (3,) and list(gains.state_dict()) == ["a", "d"]
    key, last = gains.popitem()
    assert key == "d" and last is made and len(gains) == 1
    copy = gains.copy()
    assert copy["a"] is gains["a"] and copy is not gains
    gains.clear()
    assert len(gains) == 0 and list(gains.parameters()) == []
    assert repr(nn.ParameterDict({"w": np.zeros((2, 2))})) == (
        "ParameterDict(\n    (w): Parameter containing: [float64 of size 2x2]\n)")


def test_no_warning_for_registered_parameters():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.ParameterList([np.ones(2)])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(Model().parameters())) == 1


def test_bad_input():
    with pytest.raises(TypeError, match="ParameterList.append: expected a Parameter, Tensor or "
                                        "NumPy array, got str"):
        nn.ParameterList(["weights"])
    with pytest.raises(TypeError, match="got a single ndarray"):
        nn.ParameterList().extend(np.ones(3))
    with pytest.raises(IndexError, match="index 2 is out of range for 2 parameters"):
        nn.ParameterList([np.ones(1), np.ones(1)])[2]
    with pytest.raises(TypeError, match="indices must be integers or slices, got str"):
        nn.ParameterList([np.ones(1)])["0"]
    with pytest.raises(KeyError, match="must be non-empty and contain no '.'"):
        nn.ParameterDict({"a.b": np.ones(1)})
    with pytest.raises(TypeError, match="keys must be strings, got int"):
        nn.ParameterDict({1: np.ones(1)})
    with pytest.raises(KeyError, match=r"has no parameter 'x'; it has \['a'\]"):
        nn.ParameterDict({"a": np.ones(1)})["x"]
    with pytest.raises(TypeError, match="value for 'a': expected a Parameter.*got float"):
        nn.ParameterDict({"a": 1.0})
    with pytest.raises(TypeError, match=r"expected a mapping or \(key, value\) pairs"):
        nn.ParameterDict(["ab", "c"])
    with pytest.raises(KeyError, match="empty"):
        nn.ParameterDict().popitem()
