"""What ported PyTorch code calls: sort/argsort/topk, devices (cpu, cuda, to), dtype
conversions, new_* constructors, t(), normalize and cosine_similarity."""

import numpy as np
import pytest
from helpers import check_op
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlcore
import dlcore.nn.functional as F
from dlcore import nn

RNG = np.random.default_rng(0)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                  elements=st.floats(-100, 100, allow_nan=False)),
       st.integers(0, 2), st.booleans())
def test_sort_and_argsort_match_numpy(data, dim, descending):
    dim = dim % data.ndim
    values, indices = dlcore.tensor(data).sort(dim=dim, descending=descending)
    want = np.sort(data, axis=dim)
    if descending:
        want = np.flip(want, dim)
    np.testing.assert_array_equal(values.numpy(), want)
    np.testing.assert_array_equal(np.take_along_axis(data, indices.numpy(), dim), want)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(dlcore.argsort(data, dim, descending).numpy(), indices.numpy())


def test_sort_is_stable_ascending_and_puts_nan_with_the_largest():
    values, indices = dlcore.tensor([2.0, 1.0, 2.0, 1.0]).sort()
    assert indices.numpy().tolist() == [1, 3, 0, 2]
    x = dlcore.tensor([1.0, np.nan, 3.0])
    assert x.sort()[1].numpy().tolist() == [0, 2, 1]
    assert x.sort(descending=True)[1].numpy().tolist() == [1, 2, 0]
    assert x.topk(1)[1].numpy().tolist() == [1]


def test_topk_values_indices_and_gradient():
    x = dlcore.tensor([[1.0, 5.0, 3.0, 4.0], [9.0, 7.0, 8.0, 6.0]], dtype=np.float64,
                      requires_grad=True)
    values, indices = x.topk(2, dim=1)
    np.testing.assert_array_equal(values.numpy(), [[5.0, 4.0], [9.0, 8.0]])
    np.testing.assert_array_equal(indices.numpy(), [[1, 3], [0, 2]])
    (values * dlcore.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0, 2], [3, 0, 4, 0]])
    _, where = dlcore.topk(x.detach(), 3, dim=1, largest=False)
    np.testing.assert_array_equal(where.numpy(), [[0, 2, 3], [3, 1, 2]])
    assert x.topk(0)[0].shape == (2, 0)
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 4\].*got 5"):
        x.topk(5)
    with pytest.raises(ValueError, match="scalar"):
        dlcore.tensor(1.0).topk(1)
    # Finite differences agree for distinct values.
    data = RNG.permutation(12).reshape(3, 4).astype(np.float64)
    check_op(lambda t: t.topk(2, dim=1)[0], lambda a: -np.sort(-a, axis=1)[:, :2], [data])
    check_op(lambda t: t.sort(dim=0, descending=True)[0], lambda a: -np.sort(-a, axis=0),
             [data])


def test_top5_accuracy_the_usual_way():
    logits = RNG.normal(size=(50, 10))
    labels = RNG.integers(0, 10, 50)
    _, top5 = dlcore.tensor(logits).topk(5, dim=1)
    hits = (top5 == dlcore.tensor(labels[:, None])).any(dim=1).float().mean().item()
    want = np.mean([labels[i] in np.argsort(-logits[i])[:5] for i in range(50)])
    assert hits == pytest.approx(want)


def test_devices_are_the_cpu_and_others_are_refused_clearly():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    assert x.cpu() is x and x.device == "cpu" and x.to("cpu") is x
    assert x.to(device="cpu") is x and x.to("cpu:0") is x
    assert x.to("cpu", np.float64).dtype == np.float64
    assert x.to(dtype=np.float64).dtype == np.float64 and x.to("float64").dtype == np.float64
    assert x.detach().cpu().numpy().tolist() == [1.0, 2.0]
    for move in (lambda: x.cuda(), lambda: x.to("cuda"), lambda: x.to("cuda:0", np.float32),
                 lambda: x.to(device="mps")):
        with pytest.raises(RuntimeError, match="CPU only"):
            move()
    model = nn.Linear(2, 2)
    assert model.cpu() is model and model.to("cpu") is model
    assert model.to("cpu", np.float64).weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        model.cuda()
    with pytest.raises(TypeError, match="unexpected arguments"):
        x.to(np.float64, memory_format=None)


def test_dtype_conversions_constructors_and_t():
    x = dlcore.tensor([[1.7, -2.2], [0.0, 3.0]], requires_grad=True)
    assert x.long().dtype == np.int64 and x.long().numpy().tolist() == [[1, -2], [0, 3]]
    assert x.int().dtype == np.int32 and not x.long().requires_grad
    assert x.bool().numpy().tolist() == [[True, True], [False, True]]
    for made, shape, value in [(x.new_zeros(2, 3), (2, 3), 0), (x.new_ones((3,)), (3,), 1),
                               (x.new_full((2, 2), 7.0), (2, 2), 7)]:
        assert made.shape == shape and made.dtype == np.float32 and (made.numpy() == value).all()
        assert not made.requires_grad
    assert x.new_tensor([1, 2]).dtype == np.float32
    y = x.t()
    np.testing.assert_array_equal(y.numpy(), x.numpy().T)
    y.sum().backward()
    assert x.grad.shape == (2, 2)
    v = dlcore.tensor([1.0, 2.0])
    assert v.t() is v
    with pytest.raises(ValueError, match=r"at most 2 dimensions.*\(2, 2, 2\)"):
        dlcore.zeros(2, 2, 2).t()


def test_normalize_and_cosine_similarity():
    a, b = RNG.normal(size=(4, 5)), RNG.normal(size=(4, 5))
    check_op(lambda t: F.normalize(t, dim=1),
             lambda t: t / np.linalg.norm(t, axis=1, keepdims=True), [a])
    check_op(lambda t: F.normalize(t, p=1, dim=0),
             lambda t: t / np.abs(t).sum(axis=0, keepdims=True), [a])
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    check_op(lambda s, t: F.cosine_similarity(s, t), lambda s, t: cos, [a, b])
    np.testing.assert_allclose(F.cosine_similarity(a, a[:1], dim=1).numpy(),
                               (a * a[:1]).sum(1) / np.linalg.norm(a, axis=1)
                               / np.linalg.norm(a[0]), rtol=1e-12)
    zero = F.normalize(np.zeros((2, 3)))
    assert not np.isnan(zero.numpy()).any() and not zero.numpy().any()
    assert F.cosine_similarity(np.zeros(3), np.ones(3), dim=0).item() == 0.0
    assert F.normalize(np.ones((2, 3), np.int64)).dtype == np.float32
    with pytest.raises(ValueError, match=r"\(4, 5\) and \(3, 5\) do not broadcast"):
        F.cosine_similarity(a, b[:3])
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        F.cosine_similarity(a, b, dim=2)


def test_pytorch_dtype_names():
    # `dtype=torch.long`, `x.to(torch.float)`, `mask.dtype == torch.bool` as ported lines.
    x = dlcore.tensor([1.5, -2.5])
    assert dlcore.tensor([1, 2], dtype=dlcore.long).dtype == np.int64
    assert x.to(dlcore.long).dtype == np.int64
    assert dlcore.zeros(2, dtype=dlcore.float).dtype == np.float32
    assert x.to(dlcore.double).dtype == np.float64
    assert x.to(dlcore.int).dtype == np.int32
    assert (x > 0).dtype == dlcore.bool
    assert {dlcore.int8, dlcore.int16, dlcore.short, dlcore.int32, dlcore.uint8} == {
        np.int8, np.int16, np.int32, np.uint8}
    # `from dlcore import *` leaves Python's float, int and bool alone.
    namespace: dict = {}
    exec("from dlcore import *\nvalues = float('1.5'), int('3'), bool(0)", namespace)
    assert namespace["values"] == (1.5, 3, False)
