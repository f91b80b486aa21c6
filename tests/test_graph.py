"""grad_fn nodes and print_graph: the recorded graph, as a lesson shows it."""

import io

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.autograd import AccumulateGrad, Node, print_graph


def _drawn(t):
    out = io.StringIO()
    print_graph(t, file=out)
    return out.getvalue().splitlines()


def test_nodes_are_named_after_their_ops():
    x = dlcore.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    cases = {
        "AddBackward": x + 1, "SubBackward": x - 1, "MulBackward": x * 2,
        "DivBackward": x / 2, "PowBackward": x**2, "MatmulBackward": x @ x,
        "NegBackward": -x, "SumBackward": x.sum(), "MeanBackward": x.mean(),
        "ExpBackward": x.exp(), "SinBackward": x.sin(), "ReluBackward": x.relu(),
        "SigmoidBackward": x.sigmoid(), "TanhBackward": x.tanh(),
        "SoftmaxBackward": x.softmax(-1), "LogSoftmaxBackward": x.log_softmax(-1),
        "ReshapeBackward": x.reshape(4), "GetitemBackward": x[0],
        "CrossEntropyBackward": F.cross_entropy(x, np.array([0, 1])),
        "MseLossBackward": F.mse_loss(x, np.zeros((2, 2))),
        "Conv2dBackward": F.conv2d(x.reshape(1, 1, 2, 2), np.ones((1, 1, 1, 1))),
    }
    for name, t in cases.items():
        assert t.grad_fn.name == name
        assert repr(t.grad_fn) == f"<{name}>"
        assert f"grad_fn=<{name}>" in repr(t)
    assert x.grad_fn is None and dlcore.tensor(1.0).grad_fn is None


def test_next_functions_lead_to_the_leaves():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    c = dlcore.tensor([3.0, 4.0])
    y = (x * c).sum()
    (mul,) = y.grad_fn.next_functions
    assert isinstance(mul, Node) and mul.name == "MulBackward"
    leaf, constant = mul.next_functions
    assert isinstance(leaf, AccumulateGrad) and leaf.variable is x and constant is None
    assert leaf.next_functions == ()
    # Calling a node is its op's local chain-rule step.
    (gx, gc) = mul(np.ones(2))
    np.testing.assert_array_equal(gx, [3.0, 4.0])


def test_a_layer_graph_is_drawn_down_to_its_parameters():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    loss = model(np.ones((5, 4), np.float32)).sum()
    assert _drawn(loss) == [
        "SumBackward -> () float32",
        "└─ ReluBackward -> (5, 3) float32",
        "   └─ LinearBackward -> (5, 3) float32",
        "      ├─ constant (5, 4) float32",
        "      ├─ AccumulateGrad: leaf (3, 4) float32",
        "      └─ AccumulateGrad: leaf (3,) float32",
    ]


def test_a_value_used_twice_is_drawn_once():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    lines = _drawn(h * h + h)
    assert lines[0] == "AddBackward -> (2,) float32"
    assert sum("ExpBackward" in line for line in lines) == 3
    assert sum(line.endswith("(drawn above)") for line in lines) == 2


def test_after_backward_the_node_says_the_graph_was_freed():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert y.grad_fn.name == "Freed" and "retain_graph=True" in repr(y.grad_fn)
    kept = (x * x).sum()
    kept.backward(retain_graph=True)
    assert kept.grad_fn.name == "SumBackward"


def test_print_graph_wants_a_tensor():
    with pytest.raises(TypeError, match="print_graph: expected a Tensor, got ndarray"):
        print_graph(np.ones(2))
