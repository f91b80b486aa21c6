"""Forward hooks and model.summary()."""

import numpy as np
import pytest

import dlcore
from dlcore import nn


def _lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.BatchNorm1d(120), nn.Dropout(0.5), nn.Linear(120, 10))


def _lines(model, *args, **kwargs):
    out = []
    model.summary(*args, print_fn=out.append, **kwargs)
    return out


def test_summary_gives_each_layers_output_shape_and_parameters():
    model = _lenet()
    lines = _lines(model, input_shape=(1, 28, 28))
    rows = {line.split()[0] + " " + line.split()[1]: line for line in lines[4:15]}
    assert "(None, 6, 28, 28)" in rows["0 (Conv2d)"] and rows["0 (Conv2d)"].endswith(" 156")
    assert "(None, 16, 5, 5)" in rows["5 (MaxPool2d)"]
    assert "(None, 400)" in rows["6 (Flatten)"] and rows["6 (Flatten)"].endswith(" 0")
    assert rows["7 (Linear)"].endswith(" 48,120")
    assert "(None, 10)" in rows["10 (Linear)"]
    total = sum(p.data.size for p in model.parameters())
    assert f"Total params: {total:,}" in lines and "Non-trainable params: 0" in lines


def test_summary_leaves_the_model_as_it_was():
    model = _lenet()
    model.train()
    model[8].eval()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    _lines(model, input_shape=(1, 28, 28))
    assert model.training and not model[8].training and model[9].training
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks for m in model.modules())
    for key, value in model.state_dict().items():  # batch norm's running stats untouched
        np.testing.assert_array_equal(value, before[key])


def test_summary_of_nested_modules_and_frozen_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Linear(4, 8), nn.Tanh())
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.features(x))

    net = Net()
    net.head.bias.requires_grad = False
    lines = _lines(net, (4,))
    assert lines[0] == 'Model: "Net"'
    assert any(line.startswith("  0 (Linear)") and "(None, 8)" in line for line in lines)
    assert "Trainable params: 56" in lines and "Non-trainable params: 2" in lines
    without_shapes = _lines(net)
    assert "Output Shape" not in without_shapes[2]
    assert len(without_shapes) == len(lines)


def test_summary_with_a_wrong_input_shape_names_the_mismatch():
    with pytest.raises(ValueError, match=r"linear: input has shape \(2, 5\) but weight"):
        _lines(nn.Sequential(nn.Linear(4, 2)), input_shape=(5,))
    with pytest.raises(ValueError, match="input_shape must be non-negative"):
        _lines(nn.Sequential(nn.Linear(4, 2)), input_shape=(-1,))


def test_forward_hooks_see_and_may_replace_outputs():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = np.ones((5, 3), np.float32)
    seen = []
    handle = model[0].register_forward_hook(
        lambda module, inputs, output: seen.append((module, inputs[0].shape, output.shape)))
    model(x)
    assert seen == [(model[0], (5, 3), (5, 4))]
    handle.remove()
    handle.remove()  # twice is harmless
    model(x)
    assert len(seen) == 1
    with model[1].register_forward_hook(lambda module, inputs, output: output * 0):
        out = model(x)
        np.testing.assert_allclose(out.numpy(), np.broadcast_to(model[2].bias.numpy(), (5, 2)))
    np.testing.assert_array_equal(model(x).numpy(), model[2](model[1](model[0](x))).numpy())


def test_gradients_flow_through_a_replacing_hook():
    layer = nn.Linear(2, 1)
    layer.register_forward_hook(lambda module, inputs, output: output * 3)
    x = dlcore.tensor(np.ones((1, 2)), requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * layer.weight.numpy())


def test_a_hook_must_be_callable():
    with pytest.raises(TypeError, match="hook must be callable, got int"):
        nn.Linear(2, 2).register_forward_hook(3)
