"""Ranking, embedding, margin and likelihood losses, the pairwise distance and Bilinear:
forward against the NumPy formulas (dlcore.reference.loss_more), backward against finite
differences, shapes, dtypes, extreme values, errors and the modules."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from helpers import check_op as _check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.autograd import gradcheck
from dlcore.reference import loss_more as ref

REDUCTIONS = ["mean", "sum", "none"]


def check_op(op, reference, inputs, **kwargs):
    """The shared helper with tight float64 tolerances and a float32 forward check."""
    options = {"rtol": 1e-10, "atol": 1e-10, "float32_rtol": 1e-5, "float32_atol": 1e-5,
               **kwargs}
    _check_op(op, reference, inputs, **options)


def rng(seed=0):
    return np.random.default_rng(seed)


def signs(shape, seed=0):
    return rng(seed).choice([-1.0, 1.0], size=shape)


def off_kink(values, gap=0.05):
    """``values`` moved at least ``gap`` away from 0 (where a hinge bends)."""
    values = np.array(values, dtype=np.float64)
    near = np.abs(values) < gap
    values[near] = np.where(values[near] >= 0, 2 * gap, -2 * gap)
    return values


# --------------------------------------------------------------------- margin ranking
@pytest.mark.parametrize("margin", [0.0, 0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking(reduction, margin):
    r = rng(1)
    y = signs(7, 1)
    x2 = r.normal(size=7)
    x1 = x2 - y * (off_kink(r.normal(size=7)) + margin)  # -y (x1 - x2) + margin = off_kink
    check_op(lambda a, b: F.margin_ranking_loss(a, b, y, margin, reduction=reduction),
             lambda a, b: ref.margin_ranking(a, b, y, margin, reduction), [x1, x2])
    module = nn.MarginRankingLoss(margin, reduction=reduction)
    np.testing.assert_allclose(module(x1, x2, y).numpy(),
                               ref.margin_ranking(x1, x2, y, margin, reduction))


def test_margin_ranking_broadcasts_and_checks_dimensions():
    x1, x2 = rng(2).normal(size=(3, 4)), rng(3).normal(size=(1, 4))
    y = signs((3, 1), 4)
    np.testing.assert_allclose(F.margin_ranking_loss(x1, x2, y, 0.2, reduction="none").numpy(),
                               ref.margin_ranking(x1, x2, y, 0.2, "none"))
    with pytest.raises(ValueError, match=r"same number of dimensions.*input1 \(3,\).*"
                                          r"target \(3, 1\)"):
        F.margin_ranking_loss(np.zeros(3), np.zeros(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"do not broadcast.*input1 \(3,\), input2 \(4,\)"):
        F.margin_ranking_loss(np.zeros(3), np.zeros(4), np.ones(3))


# --------------------------------------------------------------------- hinge embedding
@pytest.mark.parametrize("margin", [1.0, 2.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding(reduction, margin):
    y = signs((5, 3), 5)
    x = margin - off_kink(rng(5).normal(size=(5, 3)) * 2)  # away from the hinge at margin
    check_op(lambda a: F.hinge_embedding_loss(a, y, margin, reduction=reduction),
             lambda a: ref.hinge_embedding(a, y, margin, reduction), [x])
    module = nn.HingeEmbeddingLoss(margin, reduction=reduction)
    np.testing.assert_allclose(module(x, y).numpy(), ref.hinge_embedding(x, y, margin, reduction))


def test_hinge_embedding_gradient_by_hand():
    x = dlcore.tensor([0.3, 0.3, 1.5, -2.0], requires_grad=True)
    loss = F.hinge_embedding_loss(x, np.array([1, -1, -1, 1]), reduction="sum")
    assert loss.item() == pytest.approx(0.3 + 0.7 + 0.0 - 2.0)
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -1.0, 0.0, 1.0])


# --------------------------------------------------------------------- cosine embedding
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.4])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding(reduction, margin):
    r = rng(6)
    y = signs(6, 6)
    x1, x2 = r.normal(size=(6, 4)), r.normal(size=(6, 4))
    cos = np.sum(x1 * x2, 1) / np.linalg.norm(x1, axis=1) / np.linalg.norm(x2, axis=1)
    assert np.all(np.abs(cos - margin) > 1e-3)  # no hinge kink inside the finite differences
    check_op(lambda a, b: F.cosine_embedding_loss(a, b, y, margin, reduction=reduction),
             lambda a, b: ref.cosine_embedding(a, b, y, margin, reduction), [x1, x2])
    module = nn.CosineEmbeddingLoss(margin, reduction=reduction)
    np.testing.assert_allclose(module(x1, x2, y).numpy(),
                               ref.cosine_embedding(x1, x2, y, margin, reduction))


def test_cosine_embedding_unbatched_and_zero_vectors():
    a, b = np.array([1.0, 2.0, 2.0]), np.array([2.0, 4.0, 4.0])
    assert F.cosine_embedding_loss(a, b, 1).item() == pytest.approx(0.0, abs=1e-12)
    assert F.cosine_embedding_loss(a, b, -1, 0.5, reduction="none").shape == ()
    assert F.cosine_embedding_loss(a, b, -1, 0.5).item() == pytest.approx(0.5)
    # PyTorch's 1e-12 under the root keeps a zero vector finite: cosine 0.
    x = dlcore.tensor(np.zeros((1, 3)), requires_grad=True)
    loss = F.cosine_embedding_loss(x, np.ones((1, 3)), np.array([1]))
    loss.backward()
    assert loss.item() == pytest.approx(1.0)
    assert np.all(np.isfinite(x.grad.numpy()))


def test_cosine_embedding_shapes_are_checked():
    with pytest.raises(ValueError, match=r"input1 has shape \(2, 3\) but input2 has shape "
                                         r"\(2, 4\)"):
        F.cosine_embedding_loss(np.ones((2, 3)), np.ones((2, 4)), np.ones(2))
    with pytest.raises(ValueError, match=r"got inputs \(2, 3\) and target \(3,\)"):
        F.cosine_embedding_loss(np.ones((2, 3)), np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"got inputs \(2, 3, 1\) and target \(2, 3\)"):
        F.cosine_embedding_loss(np.ones((2, 3, 1)), np.ones((2, 3, 1)), np.ones((2, 3)))


# --------------------------------------------------------------------- triplet margin
def triplets(seed, shape=(5, 4), margin=1.0, p=2.0, swap=False):
    """Anchors, positives and negatives whose hinge argument stays off 0 (redrawn if not)."""
    for attempt in range(100):
        r = rng(seed + 1000 * attempt)
        a, pos, neg = r.normal(size=shape), r.normal(size=shape), r.normal(size=shape)
        d_pos = ref.pairwise_distance(a, pos, p)
        d_neg = ref.pairwise_distance(a, neg, p)
        d_swap = ref.pairwise_distance(pos, neg, p)
        if (np.all(np.abs(margin + d_pos - d_neg) > 1e-3)
                and np.all(np.abs(margin + d_pos - np.minimum(d_neg, d_swap)) > 1e-3)
                and np.all(np.abs(d_neg - d_swap) > 1e-3)):
            return a, pos, neg
    raise AssertionError("no triplets off the kinks")


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin(reduction, p, swap):
    margin = 0.7
    a, pos, neg = triplets(7, margin=margin, p=p)
    check_op(lambda x, y, z: F.triplet_margin_loss(x, y, z, margin, p, 1e-6, swap,
                                                   reduction=reduction),
             lambda x, y, z: ref.triplet_margin(x, y, z, margin, p, 1e-6, swap, reduction),
             [a, pos, neg])
    module = nn.TripletMarginLoss(margin, p, swap=swap, reduction=reduction)
    np.testing.assert_allclose(module(a, pos, neg).numpy(),
                               ref.triplet_margin(a, pos, neg, margin, p, 1e-6, swap, reduction))


def test_triplet_swap_changes_the_loss_and_eps_is_used():
    a, pos, neg = np.zeros((1, 2)), np.array([[3.0, 0.0]]), np.array([[3.0, 0.5]])
    plain = F.triplet_margin_loss(a, pos, neg, margin=1.0, eps=0.0).item()
    swapped = F.triplet_margin_loss(a, pos, neg, margin=1.0, eps=0.0, swap=True).item()
    assert plain == pytest.approx(1.0 + 3.0 - math.hypot(3.0, 0.5))
    assert swapped == pytest.approx(1.0 + 3.0 - 0.5)
    big_eps = F.triplet_margin_loss(a, a, a, margin=0.0, eps=1.0, reduction="none").numpy()
    np.testing.assert_allclose(big_eps, [0.0])


def test_triplet_margin_checks_dimensions():
    with pytest.raises(ValueError, match=r"same number of dimensions.*anchor \(2, 3\), "
                                         r"positive \(3,\)"):
        F.triplet_margin_loss(np.ones((2, 3)), np.ones(3), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"do not broadcast.*negative \(2, 4\)"):
        F.triplet_margin_loss(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="p must be positive"):
        nn.TripletMarginLoss(p=0)


# --------------------------------------------------------------------- soft margin
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin(reduction):
    x, y = rng(8).normal(size=(4, 5)) * 3, signs((4, 5), 8)
    check_op(lambda a: F.soft_margin_loss(a, y, reduction=reduction),
             lambda a: ref.soft_margin(a, y, reduction), [x])
    module = nn.SoftMarginLoss(reduction=reduction)
    np.testing.assert_allclose(module(x, y).numpy(), ref.soft_margin(x, y, reduction))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_soft_margin_extreme_values_do_not_overflow(dtype):
    x = dlcore.tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype), requires_grad=True)
    y = np.array([1, 1, -1, -1])
    # exp(-1e4) underflowing to 0 is the formula working as meant; anything else raises.
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        losses = F.soft_margin_loss(x, y, reduction="none")
        losses.sum().backward()
    assert losses.dtype == dtype
    np.testing.assert_array_equal(losses.numpy(), [0.0, 1e4, 1e4, 0.0])
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, -1.0, 1.0, 0.0])


# --------------------------------------------------------------------- multi-label soft margin
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin(reduction, weighted):
    r = rng(9)
    x, t = r.normal(size=(4, 3)) * 2, r.uniform(size=(4, 3))
    w = r.uniform(0.5, 2.0, size=3)
    if weighted:  # input, target and weight are all differentiable, as in PyTorch
        check_op(lambda a, b, c: F.multilabel_soft_margin_loss(a, b, c, reduction=reduction),
                 lambda a, b, c: ref.multilabel_soft_margin(a, b, c, reduction), [x, t, w])
    else:
        check_op(lambda a, b: F.multilabel_soft_margin_loss(a, b, reduction=reduction),
                 lambda a, b: ref.multilabel_soft_margin(a, b, None, reduction), [x, t])
    module = nn.MultiLabelSoftMarginLoss(w if weighted else None, reduction=reduction)
    np.testing.assert_allclose(module(x, t).numpy(),
                               ref.multilabel_soft_margin(x, t, w if weighted else None,
                                                          reduction))


def test_multilabel_soft_margin_unbatched_int_targets_and_state_dict():
    x = np.array([0.5, -1.0, 2.0])
    labels = np.array([1, 0, 1])
    got = F.multilabel_soft_margin_loss(x, labels, reduction="none")
    assert got.shape == ()
    np.testing.assert_allclose(got.numpy(), ref.multilabel_soft_margin(x, labels, None, "none"))
    module = nn.MultiLabelSoftMarginLoss(weight=np.array([1.0, 2.0, 3.0]))
    assert set(module.state_dict()) == {"weight"}
    with pytest.raises(ValueError, match=r"weight of shape \(2,\) does not broadcast to the "
                                         r"input's shape \(4, 3\)"):
        F.multilabel_soft_margin_loss(np.zeros((4, 3)), np.zeros((4, 3)), np.ones(2))
    # Large logits stay finite (log-sigmoid, not log of a rounded sigmoid).
    big = F.multilabel_soft_margin_loss(np.array([[1e4, -1e4]], np.float32),
                                        np.array([[0.0, 1.0]]), reduction="sum")
    assert big.item() == pytest.approx(1e4)


# --------------------------------------------------------------------- multi margin
def margin_scores(seed, shape, labels, margin):
    """Scores whose hinges ``margin - x[y] + x[j]`` stay off 0."""
    x = rng(seed).normal(size=shape)
    rows = x.reshape(-1, shape[-1])
    for i, label in enumerate(np.atleast_1d(labels)):
        others = np.arange(shape[-1]) != label
        rows[i, others] = rows[i, label] - margin + off_kink(
            rows[i, others] - rows[i, label] + margin, 0.02)
    return x


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin(reduction, p, weighted):
    labels = np.array([0, 3, 1, 3, 2])
    margin = 0.8
    x = margin_scores(10, (5, 4), labels, margin)
    w = rng(11).uniform(0.5, 2.0, size=4) if weighted else None
    check_op(lambda a: F.multi_margin_loss(a, labels, p, margin, w, reduction=reduction),
             lambda a: ref.multi_margin(a, labels, p, margin, w, reduction), [x])
    module = nn.MultiMarginLoss(p, margin, w, reduction=reduction)
    np.testing.assert_allclose(module(x, labels).numpy(),
                               ref.multi_margin(x, labels, p, margin, w, reduction))


def test_multi_margin_unbatched_and_by_hand():
    x = np.array([0.1, 0.2, 0.4])
    want = (max(0, 1 - 0.2 + 0.1) + max(0, 1 - 0.2 + 0.4)) / 3
    assert F.multi_margin_loss(x, np.int64(1), reduction="none").shape == ()
    assert F.multi_margin_loss(x, np.int64(1)).item() == pytest.approx(want)
    assert F.multi_margin_loss(x, np.array([1]), reduction="none").shape == (1,)
    check_op(lambda a: F.multi_margin_loss(a, np.int64(2), 2),
             lambda a: ref.multi_margin(a, np.int64(2), 2), [x])


def test_multi_margin_bad_input():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        F.multi_margin_loss(x, np.array([0, 1]), p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match=r"label 3 at position 1 is out of range for 3 classes"):
        F.multi_margin_loss(x, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"label -1 at position 0"):
        F.multi_margin_loss(x, np.array([-1, 0]))
    with pytest.raises(TypeError, match="integer class labels"):
        F.multi_margin_loss(x, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"input has shape \(2, 3\) but target has shape "
                                         r"\(3,\); expected \(2,\)"):
        F.multi_margin_loss(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"one entry per class, shape \(3,\), got \(2,\)"):
        F.multi_margin_loss(x, np.array([0, 1]), weight=np.ones(2))
    with pytest.raises(ValueError, match=r"\(N, C\) or \(C,\) with C > 0, got \(2, 3, 1\)"):
        F.multi_margin_loss(np.zeros((2, 3, 1)), np.array([0, 1]))


# --------------------------------------------------------------------- Poisson NLL
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll(reduction, log_input, full):
    r = rng(12)
    x = r.normal(size=(4, 3)) if log_input else r.uniform(0.2, 3.0, size=(4, 3))
    counts = r.poisson(2.5, size=(4, 3)).astype(np.float64)
    counts = np.where(np.abs(counts - 1) < 0.5, 1.5, counts) + 0.1  # Stirling's switch at 1
    check_op(lambda a, b: F.poisson_nll_loss(a, b, log_input, full, reduction=reduction),
             lambda a, b: ref.poisson_nll(a, b, log_input, full, 1e-8, reduction), [x, counts])
    module = nn.PoissonNLLLoss(log_input, full, reduction=reduction)
    np.testing.assert_allclose(module(x, counts).numpy(),
                               ref.poisson_nll(x, counts, log_input, full, 1e-8, reduction))


def test_poisson_nll_eps_and_integer_counts():
    x = np.array([0.0, 1.0])
    counts = np.array([0, 3])
    got = F.poisson_nll_loss(x, counts, log_input=False, eps=0.5, reduction="none").numpy()
    np.testing.assert_allclose(got, [0.0, 1.0 - 3 * np.log(1.5)])
    full = F.poisson_nll_loss(np.log([2.0, 2.0]), np.array([0, 4]), full=True,
                              reduction="none").numpy()
    stirling = 4 * np.log(4) - 4 + 0.5 * np.log(2 * np.pi * 4)
    np.testing.assert_allclose(full, [2.0, 2.0 - 4 * np.log(2.0) + stirling])


# --------------------------------------------------------------------- Gaussian NLL
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1)])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll(reduction, full, var_shape):
    r = rng(13)
    x, t = r.normal(size=(4, 3)), r.normal(size=(4, 3))
    var = r.uniform(0.1, 2.0, size=var_shape)
    check_op(lambda a, b, v: F.gaussian_nll_loss(a, b, v, full, reduction=reduction),
             lambda a, b, v: ref.gaussian_nll(a, b, v, full, 1e-6, reduction), [x, t, var])
    module = nn.GaussianNLLLoss(full=full, reduction=reduction)
    np.testing.assert_allclose(module(x, t, var).numpy(),
                               ref.gaussian_nll(x, t, var, full, 1e-6, reduction))


def test_gaussian_nll_number_var_and_broadcast_target():
    x, t = rng(14).normal(size=(3, 2)), rng(15).normal(size=(3, 1))
    np.testing.assert_allclose(F.gaussian_nll_loss(x, t, 0.7, reduction="none").numpy(),
                               ref.gaussian_nll(x, t, 0.7, reduction="none"))
    with pytest.raises(ValueError, match=r"target of shape \(3, 3\) does not broadcast to the "
                                         r"input's shape \(3, 2\)"):
        F.gaussian_nll_loss(x, np.zeros((3, 3)), 1.0)
    with pytest.raises(ValueError, match=r"target of shape \(3, 2\) does not broadcast to the "
                                         r"input's shape \(3, 1\)"):
        F.gaussian_nll_loss(t, x, 1.0)


def test_gaussian_nll_clamps_var_but_keeps_its_gradient():
    """PyTorch clamps var in place under no_grad: the gradient is the formula's at the
    clamped value, and still reaches var where it was clamped."""
    eps = 0.1
    x, t = np.array([1.0, 1.0]), np.array([0.0, 0.0])
    var = dlcore.tensor([0.01, 0.5], requires_grad=True)
    loss = F.gaussian_nll_loss(x, t, var, eps=eps, reduction="sum")
    clamped = np.array([eps, 0.5])
    assert loss.item() == pytest.approx(np.sum(0.5 * (np.log(clamped) + 1 / clamped)))
    loss.backward()
    np.testing.assert_allclose(var.grad.numpy(), 0.5 * (1 / clamped - 1 / clamped**2))


def test_gaussian_nll_bad_var():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"var has shape \(4, 2\) but input has shape \(4, 3\)"):
        F.gaussian_nll_loss(x, x, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"var has shape \(3,\)"):
        F.gaussian_nll_loss(x, x, np.ones(3))
    with pytest.raises(ValueError, match="var must be non-negative"):
        F.gaussian_nll_loss(x, x, -np.ones((4, 3)))
    with pytest.raises(ValueError, match="var must be non-negative"):
        F.gaussian_nll_loss(x, x, -1.0)
    with pytest.raises(ValueError, match="eps must be non-negative"):
        nn.GaussianNLLLoss(eps=-1.0)


# --------------------------------------------------------------------- pairwise distance
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_pairwise_distance(p, keepdim):
    x1, x2 = rng(16).normal(size=(5, 4)), rng(17).normal(size=(5, 4))
    check_op(lambda a, b: F.pairwise_distance(a, b, p, 1e-6, keepdim),
             lambda a, b: ref.pairwise_distance(a, b, p, 1e-6, keepdim), [x1, x2])
    got = nn.PairwiseDistance(p, keepdim=keepdim)(x1, x2)
    assert got.shape == ((5, 1) if keepdim else (5,))


def test_pairwise_distance_shapes_ints_and_errors():
    x1, x2 = rng(18).normal(size=(3, 4)), rng(19).normal(size=(1, 4))
    np.testing.assert_allclose(F.pairwise_distance(x1, x2).numpy(),
                               ref.pairwise_distance(x1, x2))
    assert F.pairwise_distance(np.ones(3), np.zeros(3)).shape == ()
    ints = F.pairwise_distance(np.array([[3, 0]]), np.array([[0, 4]]), eps=0.0)
    assert ints.dtype == np.float32 and ints.item() == pytest.approx(5.0)
    # Equal inputs: eps keeps the 2-norm's gradient finite.
    x = dlcore.tensor(np.ones((2, 3)), requires_grad=True)
    F.pairwise_distance(x, np.ones((2, 3))).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 1 / np.sqrt(3)))
    with pytest.raises(ValueError, match=r"x1 of shape \(2, 3\) and x2 of shape \(2, 4\)"):
        F.pairwise_distance(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="p must be positive"):
        F.pairwise_distance(np.ones(3), np.ones(3), p=0)
    with pytest.raises(ValueError, match="scalars"):
        F.pairwise_distance(1.0, 2.0)


# --------------------------------------------------------------------- bilinear
@pytest.mark.parametrize("lead", [(5,), (2, 3), ()])
@pytest.mark.parametrize("with_bias", [True, False])
def test_bilinear(lead, with_bias):
    r = rng(20)
    x1, x2 = r.normal(size=lead + (3,)), r.normal(size=lead + (4,))
    w, b = r.normal(size=(2, 3, 4)), r.normal(size=2)
    if with_bias:
        check_op(F.bilinear, ref.bilinear, [x1, x2, w, b])
    else:
        check_op(lambda a, c, d: F.bilinear(a, c, d), lambda a, c, d: ref.bilinear(a, c, d),
                 [x1, x2, w])


def test_bilinear_module_parameters_init_and_repr():
    dlcore.manual_seed(0)
    layer = nn.Bilinear(16, 5, 7)
    assert layer.weight.shape == (7, 16, 5) and layer.bias.shape == (7,)
    assert layer.weight.dtype == np.float32
    bound = 1 / math.sqrt(16)
    for p in (layer.weight.numpy(), layer.bias.numpy()):
        assert np.all(np.abs(p) <= bound)
    assert np.abs(layer.weight.numpy()).max() > 0.8 * bound  # uniform over the whole range
    assert repr(layer) == "Bilinear(in1_features=16, in2_features=5, out_features=7, bias=True)"
    out = layer(np.ones((4, 16)), np.ones((4, 5)))
    assert out.shape == (4, 7) and out.dtype == np.float32
    out.sum().backward()
    assert layer.weight.grad.shape == (7, 16, 5) and layer.bias.grad.shape == (7,)
    no_bias = nn.Bilinear(2, 3, 4, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match="in2_features must be a non-negative int"):
        nn.Bilinear(2, -1, 3)


def test_bilinear_bad_shapes():
    w = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"input1 has shape \(5, 2\) but weight \(2, 3, 4\) "
                                         r"expects 3"):
        F.bilinear(np.zeros((5, 2)), np.zeros((5, 4)), w)
    with pytest.raises(ValueError, match=r"input2 has shape \(5, 3\) but weight \(2, 3, 4\) "
                                         r"expects 4"):
        F.bilinear(np.zeros((5, 3)), np.zeros((5, 3)), w)
    with pytest.raises(ValueError, match=r"input1 \(5, 3\) and input2 \(6, 4\) must have the "
                                         r"same leading"):
        F.bilinear(np.zeros((5, 3)), np.zeros((6, 4)), w)
    with pytest.raises(ValueError, match=r"weight must be 3-D.*got shape \(3, 4\)"):
        F.bilinear(np.zeros((5, 3)), np.zeros((5, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"bias has shape \(3,\) but expected \(2,\)"):
        F.bilinear(np.zeros((5, 3)), np.zeros((5, 4)), w, np.zeros(3))


# --------------------------------------------------------------------- all losses together
def cases(n, d, seed):
    """Each loss as (name, function of dlcore/NumPy inputs, reference, inputs)."""
    r = rng(seed)
    x1, x2, x3 = r.normal(size=(n, d)), r.normal(size=(n, d)), r.normal(size=(n, d))
    v1, v2 = r.normal(size=n), r.normal(size=n)
    y, yy = signs(n, seed), signs((n, d), seed + 1)
    t01 = r.uniform(size=(n, d))
    labels = r.integers(0, d, size=n)
    counts = r.poisson(2.0, size=(n, d)).astype(np.float64)
    var = r.uniform(0.2, 2.0, size=(n, d))
    return [
        ("margin_ranking", lambda a, b, red: F.margin_ranking_loss(a, b, y, 0.1, reduction=red),
         lambda a, b, red: ref.margin_ranking(a, b, y, 0.1, red), [v1, v2]),
        ("hinge_embedding", lambda a, red: F.hinge_embedding_loss(a, yy, reduction=red),
         lambda a, red: ref.hinge_embedding(a, yy, 1.0, red), [x1]),
        ("cosine_embedding",
         lambda a, b, red: F.cosine_embedding_loss(a, b, y, 0.2, reduction=red),
         lambda a, b, red: ref.cosine_embedding(a, b, y, 0.2, red), [x1, x2]),
        ("triplet_margin",
         lambda a, b, c, red: F.triplet_margin_loss(a, b, c, swap=True, reduction=red),
         lambda a, b, c, red: ref.triplet_margin(a, b, c, swap=True, reduction=red),
         [x1, x2, x3]),
        ("soft_margin", lambda a, red: F.soft_margin_loss(a, yy, reduction=red),
         lambda a, red: ref.soft_margin(a, yy, red), [x1]),
        ("multilabel_soft_margin",
         lambda a, b, red: F.multilabel_soft_margin_loss(a, b, reduction=red),
         lambda a, b, red: ref.multilabel_soft_margin(a, b, None, red), [x1, t01]),
        ("multi_margin", lambda a, red: F.multi_margin_loss(a, labels, 2, reduction=red),
         lambda a, red: ref.multi_margin(a, labels, 2, 1.0, None, red), [x1]),
        ("poisson_nll",
         lambda a, b, red: F.poisson_nll_loss(a, b, full=True, reduction=red),
         lambda a, b, red: ref.poisson_nll(a, b, True, True, 1e-8, red), [x1, counts]),
        ("gaussian_nll", lambda a, b, v, red: F.gaussian_nll_loss(a, b, v, reduction=red),
         lambda a, b, v, red: ref.gaussian_nll(a, b, v, False, 1e-6, red), [x1, x2, var]),
    ]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), d=st.integers(1, 5), seed=st.integers(0, 10_000),
       reduction=st.sampled_from(REDUCTIONS))
def test_every_loss_matches_its_reference_for_any_shape(n, d, seed, reduction):
    for name, op, reference, inputs in cases(n, d, seed):
        got = op(*inputs, reduction)
        want = reference(*inputs, reduction)
        assert got.shape == np.shape(want), name
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("index", range(9))
def test_float32_stays_float32_and_non_contiguous_inputs_work(index):
    name, op, reference, inputs = cases(4, 3, 21)[index]
    singles = [np.asarray(a, np.float32) for a in inputs]
    for reduction in REDUCTIONS:
        got = op(*singles, reduction)
        assert got.dtype == np.float32, (name, reduction)
        np.testing.assert_allclose(got.numpy(), reference(*inputs, reduction), rtol=2e-5,
                                   atol=2e-5, err_msg=name)
    # Strided views (every other column of a wider array, reversed rows) give the same loss.
    strided = []
    for a in inputs:
        wide = np.repeat(a[::-1], 2, axis=-1)[..., ::2][::-1]
        assert not wide.flags.c_contiguous
        strided.append(wide)
    np.testing.assert_allclose(op(*strided, "none").numpy(), reference(*inputs, "none"),
                               rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("index", range(9))
def test_empty_batch_gives_nan_mean_and_zero_sum(index):
    name, op, reference, inputs = cases(0, 3, 22)[index]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, total, none = (op(*inputs, r) for r in REDUCTIONS)
    assert np.isnan(mean.item()), name
    assert total.item() == 0.0, name
    assert none.shape == reference(*inputs, "none").shape and none.shape[0] == 0, name


@pytest.mark.parametrize("index", range(9))
def test_nan_input_propagates(index):
    name, op, _, inputs = cases(3, 2, 23)[index]
    first = inputs[0].copy()
    first.flat[0] = np.nan
    assert np.isnan(op(first, *inputs[1:], "sum").item()), name


LOSS_CALLS = {
    "margin_ranking_loss": lambda **kw: F.margin_ranking_loss(np.zeros(2), np.zeros(2),
                                                              np.ones(2), **kw),
    "hinge_embedding_loss": lambda **kw: F.hinge_embedding_loss(np.zeros(2), np.ones(2), **kw),
    "cosine_embedding_loss": lambda **kw: F.cosine_embedding_loss(np.ones((2, 3)),
                                                                  np.ones((2, 3)), np.ones(2),
                                                                  **kw),
    "triplet_margin_loss": lambda **kw: F.triplet_margin_loss(np.ones((2, 3)), np.ones((2, 3)),
                                                              np.ones((2, 3)), **kw),
    "soft_margin_loss": lambda **kw: F.soft_margin_loss(np.zeros(2), np.ones(2), **kw),
    "multilabel_soft_margin_loss": lambda **kw: F.multilabel_soft_margin_loss(
        np.zeros((2, 3)), np.ones((2, 3)), **kw),
    "multi_margin_loss": lambda **kw: F.multi_margin_loss(np.zeros((2, 3)), np.array([0, 1]),
                                                          **kw),
    "poisson_nll_loss": lambda **kw: F.poisson_nll_loss(np.zeros(2), np.ones(2), **kw),
    "gaussian_nll_loss": lambda **kw: F.gaussian_nll_loss(np.zeros(2), np.ones(2), np.ones(2),
                                                          **kw),
}


@pytest.mark.parametrize("name", sorted(LOSS_CALLS))
def test_bad_reduction_is_refused(name):
    call = LOSS_CALLS[name]
    with pytest.raises(ValueError, match=rf"{name}: reduction must be one of .*got 'avg'"):
        call(reduction="avg")


@pytest.mark.parametrize("module", [
    nn.MarginRankingLoss, nn.HingeEmbeddingLoss, nn.CosineEmbeddingLoss, nn.TripletMarginLoss,
    nn.SoftMarginLoss, nn.MultiLabelSoftMarginLoss, nn.MultiMarginLoss, nn.PoissonNLLLoss,
    nn.GaussianNLLLoss])
def test_modules_refuse_a_bad_reduction(module):
    with pytest.raises(ValueError, match=rf"{module.__name__}: reduction must be one of"):
        module(reduction="avg")


def test_integer_inputs_are_refused_like_the_other_losses():
    with pytest.raises(TypeError, match="soft_margin_loss: input must be a float tensor"):
        F.soft_margin_loss(np.array([1, 2]), np.array([1, -1]))
    with pytest.raises(TypeError, match="triplet_margin_loss: input must be a float tensor"):
        F.triplet_margin_loss(np.ones((2, 3), int), np.ones((2, 3)), np.ones((2, 3)))


@pytest.mark.parametrize("call", [
    lambda y: F.margin_ranking_loss(np.zeros(3), np.zeros(3), y),
    lambda y: F.hinge_embedding_loss(np.zeros(3), y),
    lambda y: F.cosine_embedding_loss(np.ones((3, 2)), np.ones((3, 2)), y),
    lambda y: F.soft_margin_loss(np.zeros(3), y),
])
def test_zero_one_labels_are_refused(call):
    with pytest.raises(ValueError, match=r"target must hold only 1 or -1, got 0(\.0)? at index "
                                         r"\(1,\).*2 \* target - 1"):
        call(np.array([1, 0, 1]))
    with pytest.raises(ValueError, match="only 1 or -1, got nan"):
        call(np.array([1.0, np.nan, -1.0]))


@pytest.mark.parametrize("fn", [F.hinge_embedding_loss, F.soft_margin_loss,
                                F.multilabel_soft_margin_loss, F.poisson_nll_loss])
def test_pointwise_shape_mismatch_names_both_shapes(fn):
    with pytest.raises(ValueError, match=r"input has shape \(4, 1\) but target has shape \(4,\)"):
        fn(np.zeros((4, 1)), np.ones(4))


def test_module_reprs():
    assert repr(nn.MarginRankingLoss()) == "MarginRankingLoss(margin=0.0)"
    assert repr(nn.HingeEmbeddingLoss(2.0, reduction="sum")) == (
        "HingeEmbeddingLoss(margin=2.0, reduction='sum')")
    assert repr(nn.CosineEmbeddingLoss(0.5)) == "CosineEmbeddingLoss(margin=0.5)"
    assert repr(nn.TripletMarginLoss(swap=True)) == (
        "TripletMarginLoss(margin=1.0, p=2.0, eps=1e-06, swap=True)")
    assert repr(nn.SoftMarginLoss(reduction="none")) == "SoftMarginLoss(reduction='none')"
    assert repr(nn.MultiLabelSoftMarginLoss()) == "MultiLabelSoftMarginLoss()"
    assert repr(nn.MultiMarginLoss(p=2)) == "MultiMarginLoss(p=2, margin=1.0)"
    assert repr(nn.PoissonNLLLoss(full=True)) == (
        "PoissonNLLLoss(log_input=True, full=True, eps=1e-08)")
    assert repr(nn.GaussianNLLLoss(full=True)) == "GaussianNLLLoss(full=True, eps=1e-06)"
    assert repr(nn.PairwiseDistance(p=1.0, keepdim=True)) == (
        "PairwiseDistance(p=1.0, eps=1e-06, keepdim=True)")


def test_options_after_pytorchs_deprecated_arguments_are_keyword_only():
    """PyTorch code that passes ``size_average`` / ``reduce`` positionally fails loudly."""
    with pytest.raises(TypeError):
        nn.PoissonNLLLoss(True, False, None, 1e-8)
    with pytest.raises(TypeError):
        F.margin_ranking_loss(np.zeros(2), np.zeros(2), np.ones(2), 0.0, None, None, "sum")
    with pytest.raises(TypeError):
        nn.GaussianNLLLoss(True)  # keyword-only in PyTorch too


def test_training_with_the_losses_reduces_them():
    """A few SGD steps on an embedding pair: the losses and their gradients work together."""
    dlcore.manual_seed(0)
    layer = nn.Bilinear(3, 3, 2, dtype=np.float64)
    x1, x2 = rng(24).normal(size=(8, 3)), rng(25).normal(size=(8, 3))
    labels = rng(26).integers(0, 2, size=8)
    loss_fn = nn.MultiMarginLoss()
    first = None
    for _ in range(30):
        loss = loss_fn(layer(x1, x2), labels)
        first = loss.item() if first is None else first
        layer.zero_grad()
        loss.backward()
        for p in layer.parameters():
            p.data -= 0.5 * p.grad.numpy()
    assert loss.item() < 0.5 * first
    assert gradcheck(lambda w: F.multi_margin_loss(F.bilinear(x1, x2, w), labels),
                     [layer.weight.numpy() + 0.013])
