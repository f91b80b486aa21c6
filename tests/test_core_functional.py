"""linear / cross_entropy / mse_loss / softmax kernels of the foundation, and the threads."""

import numpy as np
import pytest
from helpers import check_op

import dlcore
import dlcore.nn.functional as F
from dlcore import _core, nn
from dlcore.reference import core as ref

R = np.random.default_rng(5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_reference(reduction):
    logits = R.standard_normal((6, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2, 0])
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    check_op(lambda x: F.cross_entropy(x, labels, reduction=reduction),
             lambda x: reduce(ref.cross_entropy(x, labels)), [logits])


def test_cross_entropy_float32_kernel_matches_reference_gradient():
    logits = R.standard_normal((50, 10)).astype(np.float32)
    labels = R.integers(0, 10, 50)
    x = dlcore.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, labels)
    loss.backward()
    np.testing.assert_allclose(loss.item(), ref.cross_entropy(logits, labels).mean(), rtol=1e-5)
    want = ref.cross_entropy_backward(logits.astype(np.float64), labels, np.full(50, 1 / 50))
    np.testing.assert_allclose(x.grad.data, want, atol=1e-6)


def test_cross_entropy_ignore_index_and_probabilities_and_smoothing():
    logits = R.standard_normal((4, 3))
    labels = np.array([0, -100, 2, 1])
    keep = labels != -100
    check_op(lambda x: F.cross_entropy(x, labels),
             lambda x: ref.cross_entropy(x[keep], labels[keep]).mean(), [logits])
    onehot = np.eye(3)[[0, 1, 2, 1]]
    check_op(lambda x: F.cross_entropy(x, onehot),
             lambda x: ref.cross_entropy(x, np.array([0, 1, 2, 1])).mean(), [logits])
    smooth = onehot * 0.9 + 0.1 / 3
    check_op(lambda x: F.cross_entropy(x, np.array([0, 1, 2, 1]), label_smoothing=0.1),
             lambda x: -(ref.log_softmax(x, 1) * smooth).sum(1).mean(), [logits])


def test_cross_entropy_is_stable_for_huge_logits():
    with np.errstate(all="raise"):
        loss = F.cross_entropy(dlcore.tensor([[1e4, -1e4], [-1e4, 1e4]]), np.array([0, 0]))
    assert loss.item() == pytest.approx(1e4)


def test_cross_entropy_errors_name_the_problem():
    logits = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(2,\)"):
        F.cross_entropy(logits, np.array([1, 2]))
    with pytest.raises(ValueError, match="label 7.*4 classes"):
        F.cross_entropy(logits, np.array([1, 2, 7]))
    with pytest.raises(ValueError, match="label -1"):
        F.cross_entropy(logits, np.array([1, 2, -1]))
    with pytest.raises(TypeError, match="integers"):
        F.cross_entropy(logits, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 0, 0]), reduction="avg")


def test_mse_loss_and_its_shape_check():
    a, b = R.standard_normal((4, 2)), R.standard_normal((4, 2))
    check_op(lambda x, y: F.mse_loss(x, y), lambda x, y: np.mean((x - y) ** 2), [a, b])
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        F.mse_loss(np.zeros((4, 1)), np.zeros(4))
    assert nn.MSELoss(reduction="sum")(dlcore.ones(3), np.zeros(3)).item() == 3


def test_loss_modules():
    logits, labels = R.standard_normal((5, 3)), np.array([0, 1, 2, 0, 1])
    np.testing.assert_allclose(nn.CrossEntropyLoss()(logits, labels).item(),
                               ref.cross_entropy(logits, labels).mean(), rtol=1e-6)
    logp = ref.log_softmax(logits, 1)
    check_op(lambda x: nn.NLLLoss()(x, labels),
             lambda x: -x[np.arange(5), labels].mean(), [logp])


def test_activation_kernels_match_reference_on_big_arrays():
    x = R.standard_normal(200_003).astype(np.float32) * 5  # crosses the threading grain
    g = R.standard_normal(x.shape).astype(np.float32)
    for name, fwd in [("relu", ref.relu), ("sigmoid", ref.sigmoid), ("tanh", ref.tanh)]:
        y = _core.activation_forward(name, x)
        np.testing.assert_allclose(y, fwd(x), rtol=1e-6, atol=1e-6)
        dx = _core.activation_backward(name, x, y, g)
        if name == "relu":
            want = ref.relu_backward(x, g)
        elif name == "sigmoid":
            want = ref.sigmoid_backward(y, g)
        else:
            want = ref.tanh_backward(y, g)
        np.testing.assert_allclose(dx, want, rtol=1e-5, atol=1e-6)


def test_activation_kernel_errors():
    with pytest.raises(ValueError, match="unknown activation"):
        _core.activation_forward("swish2", np.ones(2, np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.activation_forward("relu", np.ones((4, 4), np.float32)[:, ::2])
    with pytest.raises(ValueError, match=r"grad has shape \(3,\)"):
        x = np.ones(2, np.float32)
        _core.activation_backward("relu", x, x, np.ones(3, np.float32))


def test_non_contiguous_and_integer_inputs_to_activations():
    x = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2] - 3
    np.testing.assert_allclose(F.relu(x).data, np.maximum(x, 0))
    assert F.sigmoid(np.array([0, 1])).dtype == np.float32


def test_thread_count_is_settable():
    before = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(1)
        assert dlcore.get_num_threads() == 1
        a = R.standard_normal((300, 300)).astype(np.float32)
        np.testing.assert_allclose(_core.matmul(a, a), a @ a, rtol=1e-4, atol=1e-3)
        with pytest.raises(ValueError, match="at least 1"):
            dlcore.set_num_threads(0)
        with pytest.raises(ValueError, match="at least 1 and at most 1024, got -2"):
            dlcore.set_num_threads(-2)
        # A slip of the keyboard is refused, not a million threads started.
        with pytest.raises(ValueError, match="at most 1024, got 1000000"):
            dlcore.set_num_threads(10**6)
        with pytest.raises(ValueError, match=f"at most 1024, got {10**30}"):
            dlcore.set_num_threads(10**30)
        with pytest.raises(TypeError):
            dlcore.set_num_threads("2")
        assert dlcore.get_num_threads() == 1  # refused calls leave the pool as it was
        dlcore.set_num_threads(np.int64(3))
        assert dlcore.get_num_threads() == 3
    finally:
        dlcore.set_num_threads(before)


def test_simd_level_is_reported():
    assert dlcore.simd_level() in {"avx512f", "avx2+fma", "sse2", "neon", "scalar"}


@pytest.mark.parametrize("rows, cols", [(8000, 5), (12345, 6), (9001, 7)])
def test_softmax_and_cross_entropy_over_many_rows_of_odd_width(rows, cols):
    # Split across two threads, these widths once gave tasks that cut a row in two: a Rust
    # panic for (8000, 5), silently wrong rows for (12345, 6).
    before = dlcore.get_num_threads()
    dlcore.set_num_threads(2)
    try:
        x = R.standard_normal((rows, cols)).astype(np.float32)
        labels = R.integers(0, cols, rows)
        shifted = np.exp(x - x.max(axis=1, keepdims=True))
        want = shifted / shifted.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(F.softmax(x, dim=1).numpy(), want, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(F.log_softmax(x, dim=1).numpy(), np.log(want), rtol=1e-5,
                                   atol=1e-6)
        logits = dlcore.tensor(x, requires_grad=True)
        loss = F.cross_entropy(logits, labels, reduction="sum")
        loss.backward()
        onehot = np.eye(cols, dtype=np.float32)[labels]
        np.testing.assert_allclose(loss.item(), -np.log(want[np.arange(rows), labels]).sum(),
                                   rtol=1e-4)
        np.testing.assert_allclose(logits.grad.numpy(), want - onehot, rtol=1e-5, atol=1e-6)
    finally:
        dlcore.set_num_threads(before)
