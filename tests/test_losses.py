"""Losses: forward against the NumPy formulas (PyTorch's conventions), backward against
finite differences, error messages, stability, the modules and the Keras names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import away_from
from helpers import check_op as _check_op

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.reference import loss as ref


def check_op(op, reference, inputs, **kwargs):
    """The shared helper with tight float64 tolerances and a float32 forward check."""
    options = {"rtol": 1e-10, "atol": 1e-10, "float32_rtol": 1e-5, **kwargs}
    _check_op(op, reference, inputs, **options)


RNG = np.random.default_rng(1)
REDUCTIONS = ["mean", "sum", "none"]


def pair(shape=(4, 3), gap=0.05, kinks=(0.0,)):
    """Inputs and targets whose differences stay ``gap`` away from the loss's kinks."""
    t = RNG.normal(size=shape)
    d = RNG.normal(size=shape)
    for k in kinks:
        for sign in (1, -1):
            near = np.abs(d - sign * k) < gap
            d[near] += 3 * gap
    return t + d, t


# --------------------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse(reduction):
    x, t = pair()
    check_op(lambda a, b: F.mse_loss(a, b, reduction), lambda a, b: ref.mse(a, b, reduction),
             [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1(reduction):
    x, t = pair()
    check_op(lambda a, b: F.l1_loss(a, b, reduction), lambda a, b: ref.l1(a, b, reduction),
             [x, t])


def distributions(shape=(4, 5)):
    """Log-probabilities and a target distribution per row (no zeros)."""
    logits, target_logits = RNG.normal(size=shape), RNG.normal(size=shape)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    t = np.exp(target_logits) / np.exp(target_logits).sum(-1, keepdims=True)
    return log_p, t


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div(reduction, log_target):
    x, t = distributions()
    if log_target:
        t = np.log(t)
    check_op(lambda a, b: F.kl_div(a, b, reduction, log_target),
             lambda a, b: ref.kl_div(a, b, reduction, log_target), [x, t])
    module = nn.KLDivLoss(reduction, log_target)
    np.testing.assert_allclose(module(x, t).numpy(), ref.kl_div(x, t, reduction, log_target))


def test_kl_div_batchmean_is_the_divergence_and_zero_targets_count_zero():
    x, t = distributions((3, 4))
    want = np.mean([np.sum(ti * (np.log(ti) - xi)) for xi, ti in zip(x, t)])
    np.testing.assert_allclose(F.kl_div(x, t, "batchmean").item(), want, rtol=1e-12)
    # Identical distributions: zero. A zero target entry adds nothing, and its gradient
    # (log t - x + 1, minus infinity in the limit) is taken as 0, where PyTorch gives NaN.
    p = np.array([[0.0, 0.25, 0.75]])
    log_p = dlcore.tensor(np.log(np.where(p > 0, p, 1e-300)), requires_grad=True)
    target = dlcore.tensor(p, requires_grad=True)
    loss = F.kl_div(log_p, target, "sum")
    assert abs(loss.item()) < 1e-12
    loss.backward()
    np.testing.assert_allclose(log_p.grad.numpy(), -p)
    np.testing.assert_allclose(target.grad.numpy(), [[0.0, 1.0, 1.0]], atol=1e-12)
    # A negative target is no distribution: the loss says so with NaN instead of hiding it.
    assert np.isnan(F.kl_div(np.zeros(2), np.array([-0.5, 1.5]), "sum").item())


def test_kl_div_bad_input():
    with pytest.raises(ValueError, match=r"reduction must be one of .*batchmean.*got 'avg'"):
        F.kl_div(np.zeros((2, 3)), np.ones((2, 3)) / 3, reduction="avg")
    with pytest.raises(ValueError, match=r"input has shape \(2, 3\) but target has shape"):
        F.kl_div(np.zeros((2, 3)), np.ones((3, 2)) / 2)
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be one of"):
        nn.KLDivLoss("avg")
    assert repr(nn.KLDivLoss("batchmean", log_target=True)) == (
        "KLDivLoss(reduction='batchmean', log_target=True)")


def test_l1_subgradient_is_zero_where_input_equals_target():
    x = dlcore.tensor([1.0, 2.0, 3.0], requires_grad=True)
    F.l1_loss(x, np.array([1.0, 0.0, 5.0], np.float32), reduction="sum").backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, -1.0])


@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber(delta, reduction):
    x, t = pair(shape=(5, 4), kinks=(0.0, delta))
    check_op(lambda a, b: F.huber_loss(a, b, reduction, delta),
             lambda a, b: ref.huber(a, b, delta, reduction), [x, t])


@pytest.mark.parametrize("beta", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_smooth_l1(beta, reduction):
    x, t = away_from(RNG.normal(size=(4, 3)) * 2, [0.0]), np.zeros((4, 3))
    if beta:
        x = away_from(away_from(x, [beta]), [-beta])
    check_op(lambda a, b: F.smooth_l1_loss(a, b, reduction, beta),
             lambda a, b: ref.smooth_l1(a, b, beta, reduction), [x, t])
    module = nn.SmoothL1Loss(reduction, beta)
    np.testing.assert_allclose(module(x, t).numpy(), ref.smooth_l1(x, t, beta, reduction))
    with pytest.raises(ValueError, match="beta must be non-negative"):
        nn.SmoothL1Loss(beta=-1.0)


def test_huber_is_quadratic_inside_and_linear_outside():
    x = np.array([0.5, 3.0])
    np.testing.assert_allclose(F.huber_loss(x, np.zeros(2), "none").numpy(), [0.125, 2.5])
    with pytest.raises(ValueError, match="delta"):
        F.huber_loss(x, x, delta=0.0)


def test_rmse():
    x, t = pair()
    check_op(lambda a, b: F.rmse_loss(a, b), lambda a, b: ref.rmse(a, b), [x, t])
    check_op(lambda a, b: F.rmse_loss(a, b, eps=0.5), lambda a, b: ref.rmse(a, b, 0.5), [x, t])


def test_rmse_gradient_is_finite_at_a_perfect_fit():
    x = dlcore.tensor(np.ones(5), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = F.rmse_loss(x, np.ones(5))
        loss.backward()
    assert loss.item() == pytest.approx(1e-4)  # sqrt(eps)
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(5))


def test_rmse_accepts_only_mean():
    with pytest.raises(ValueError, match="root of a mean"):
        F.rmse_loss(np.zeros(2), np.zeros(2), reduction="sum")
    with pytest.raises(ValueError, match="root of a mean"):
        nn.RMSELoss(reduction="none")


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.huber_loss, F.rmse_loss,
                                F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_shape_mismatch_names_both_shapes(fn):
    with pytest.raises(ValueError, match=r"input has shape \(4, 1\) but target has shape \(4,\)"):
        fn(np.full((4, 1), 0.5, np.float32), np.zeros(4, np.float32))


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.huber_loss])
def test_bad_reduction_is_refused(fn):
    with pytest.raises(ValueError, match="reduction"):
        fn(np.zeros(2), np.zeros(2), reduction="avg")


# --------------------------------------------------------------------- binary cross-entropy
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce(reduction, weighted):
    p = RNG.uniform(0.05, 0.95, size=(6, 2))
    t = RNG.uniform(size=(6, 2))
    w = RNG.uniform(0.5, 2, size=(2,)) if weighted else None
    check_op(lambda a: F.binary_cross_entropy(a, t, w, reduction),
             lambda a: ref.bce(a, t, w, reduction), [p])


def test_bce_clamps_log_at_minus_100_without_warnings():
    p = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        x = dlcore.tensor(p, requires_grad=True)
        losses = F.binary_cross_entropy(x, t, reduction="none")
        losses.sum().backward()
    np.testing.assert_array_equal(losses.numpy(), [100.0, 100.0, 0.0, 0.0])
    assert np.all(np.isfinite(x.grad.numpy()))


def test_bce_refuses_values_outside_0_1():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*from -0.5 to 1.5"):
        F.binary_cross_entropy(np.array([-0.5, 1.5]), np.zeros(2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits(reduction, weighted, pos_weighted):
    x = RNG.normal(scale=2, size=(5, 3))
    t = RNG.uniform(size=(5, 3))
    w = RNG.uniform(0.5, 2, size=(5, 1)) if weighted else None
    pw = RNG.uniform(0.5, 4, size=(3,)) if pos_weighted else None
    check_op(lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction, pw),
             lambda a, b: ref.bce_with_logits(a, b, w, pw, reduction), [x, t])


def test_bce_with_logits_equals_bce_of_sigmoid():
    x = RNG.normal(size=8)
    t = (RNG.uniform(size=8) > 0.5).astype(np.float64)
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, t).item(),
                               F.binary_cross_entropy(F.sigmoid(x), t).item(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_stable_for_huge_logits(dtype):
    x = dlcore.tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype), requires_grad=True)
    t = np.array([0.0, 0.0, 1.0, 1.0], dtype)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        losses = F.binary_cross_entropy_with_logits(x, t, reduction="none",
                                                    pos_weight=np.array([2.0], dtype))
        losses.sum().backward()
    np.testing.assert_array_equal(losses.numpy(), [1e4, 0.0, 0.0, 2e4])
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0, -2.0])


# The common case (no weights, a target that needs no gradient) runs one Rust pass each way.
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 3), (1,), (0, 4), (3, 70_001)])
def test_fused_bce_with_logits_matches_reference_and_finite_differences(reduction, shape):
    x = RNG.normal(scale=3, size=shape)
    t = RNG.uniform(size=shape)
    with warnings.catch_warnings():  # the reference's mean of nothing is NaN too
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ref.bce_with_logits(x, t, reduction=reduction)
    # (The reference is the naive log(sigmoid) formula: good to about 1e-11 here.)
    for dtype, rtol, atol in [(np.float64, 1e-10, 1e-14), (np.float32, 2e-5, 1e-6)]:
        xt = dlcore.tensor(x.astype(dtype), requires_grad=True)
        got = F.binary_cross_entropy_with_logits(xt, t.astype(dtype), reduction=reduction)
        assert got.dtype == dtype
        np.testing.assert_allclose(got.numpy(), want, rtol=rtol, atol=atol)
        upstream = RNG.normal(size=np.shape(want)).astype(dtype)
        got.backward(upstream)
        scale = 1 / max(x.size, 1) if reduction == "mean" else 1.0
        # From the rounded inputs: sigmoid(x) - t cancels where the two are close.
        xr, tr = x.astype(dtype).astype(np.float64), t.astype(dtype).astype(np.float64)
        want_grad = upstream * scale * (1 / (1 + np.exp(-xr)) - tr)
        np.testing.assert_allclose(xt.grad.numpy(), want_grad, rtol=rtol, atol=atol)
    if x.size and x.size < 100:
        assert dlcore.autograd.gradcheck(
            lambda a: F.binary_cross_entropy_with_logits(a, t, reduction=reduction), [x])


def test_fused_bce_with_logits_takes_views_nan_and_huge_logits():
    x = RNG.normal(size=(6, 4)).astype(np.float32)
    t = (RNG.uniform(size=(4, 6)) > 0.5).astype(np.float32)
    view = dlcore.tensor(x).T  # not C-contiguous
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(view, t).item(),
                               ref.bce_with_logits(x.T.astype(np.float64), t), rtol=1e-6)
    huge = dlcore.tensor(np.array([1e30, -1e30, 80.0, -80.0, np.nan], np.float32),
                         requires_grad=True)
    target = np.array([1.0, 0.0, 0.0, 1.0, 1.0], np.float32)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        losses = F.binary_cross_entropy_with_logits(huge, target, reduction="none")
        losses.sum().backward()
    np.testing.assert_allclose(losses.numpy()[:4], [0.0, 0.0, 80.0, 80.0], atol=1e-30)
    np.testing.assert_allclose(huge.grad.numpy()[:4], [0.0, 0.0, 1.0, -1.0], atol=1e-30)
    assert np.isnan(losses.numpy()[4]) and np.isnan(huge.grad.numpy()[4])


def test_bad_weight_shape_is_an_error():
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(np.zeros((2, 2)), np.zeros((2, 2)), np.ones(3))


# --------------------------------------------------------------------- cross-entropy
def labels_for(n, c, ignore=None):
    y = RNG.integers(0, c, size=n)
    if ignore is not None:
        y[::3] = ignore
    return y


CE_CASES = {
    "plain": {},
    "weight": {"weight": np.array([0.2, 1.0, 3.0, 0.7])},
    "ignore": {"ignore_index": 2},
    "ignore_negative": {"ignore_index": -1, "_ignore": -1},
    "smoothing": {"label_smoothing": 0.1},
    "weight_smoothing_ignore": {"weight": np.array([0.2, 1.0, 3.0, 0.7]),
                                "label_smoothing": 0.3, "ignore_index": -1, "_ignore": -1},
}


@pytest.mark.parametrize("case", sorted(CE_CASES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_integer_labels(case, reduction):
    kwargs = dict(CE_CASES[case])
    ignore = kwargs.pop("_ignore", None)
    y = labels_for(7, 4, ignore)
    logits = RNG.normal(scale=2, size=(7, 4))
    check_op(lambda a: F.cross_entropy(a, y, reduction=reduction, **kwargs),
             lambda a: ref.cross_entropy(a, y, reduction=reduction, **kwargs), [logits])


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_probability_targets(smoothing, weighted, reduction):
    logits = RNG.normal(size=(5, 3))
    probs = RNG.dirichlet(np.ones(3), size=5)
    w = np.array([0.5, 2.0, 1.0]) if weighted else None
    check_op(lambda a: F.cross_entropy(a, probs, w, reduction=reduction,
                                       label_smoothing=smoothing),
             lambda a: ref.cross_entropy(a, probs, w, reduction=reduction,
                                         label_smoothing=smoothing), [logits])


def test_one_hot_targets_equal_integer_labels():
    logits = RNG.normal(size=(6, 4))
    y = labels_for(6, 4)
    one_hot = np.eye(4)[y]
    sparse = F.cross_entropy(logits, y).item()
    assert F.cross_entropy(logits, one_hot).item() == pytest.approx(sparse, rel=1e-12)
    assert F.cross_entropy(logits, one_hot.astype(np.int64)).item() == pytest.approx(sparse,
                                                                                    rel=1e-12)


def test_cross_entropy_known_value():
    # -log softmax([1, 2, 3])[2] = log(e^1 + e^2 + e^3) - 3
    assert F.cross_entropy(np.array([[1.0, 2.0, 3.0]]), [2]).item() == pytest.approx(
        0.40760596444437994, rel=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_inputs(reduction):
    logits = RNG.normal(size=(2, 3, 4, 5))
    y = RNG.integers(0, 3, size=(2, 4, 5))
    flat_logits = np.moveaxis(logits, 1, -1).reshape(-1, 3)
    expected = ref.cross_entropy(flat_logits, y.reshape(-1), reduction=reduction)
    if reduction == "none":
        expected = expected.reshape(2, 4, 5)
    check_op(lambda a: F.cross_entropy(a, y, reduction=reduction), lambda a: expected,
             [logits])
    probs = np.moveaxis(np.eye(3)[y], -1, 1)
    np.testing.assert_allclose(F.cross_entropy(logits, probs, reduction=reduction).numpy(),
                               expected, rtol=1e-12)


def test_cross_entropy_unbatched_input():
    logits = RNG.normal(size=4)
    expected = ref.cross_entropy(logits[None], np.array([3]))
    out = F.cross_entropy(logits, np.int64(3), reduction="none")
    assert out.shape == ()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_cross_entropy_all_ignored_mean_is_nan_with_zero_gradient():
    for smoothing in (0.0, 0.1):
        x = dlcore.tensor(RNG.normal(size=(3, 2)), requires_grad=True)
        with warnings.catch_warnings(), np.errstate(all="raise"):
            warnings.simplefilter("error")
            loss = F.cross_entropy(x, [-100, -100, -100], label_smoothing=smoothing)
            loss.backward()
        assert np.isnan(loss.item())
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    x = dlcore.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        loss = F.cross_entropy(x, [1, 0], reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.numpy(), [2e4, 2e4 + np.log(2)], rtol=1e-6)
    assert np.all(np.isfinite(x.grad.numpy()))


def test_cross_entropy_is_exact_for_logits_far_from_zero():
    # The fused kernel's log-softmax lost the digits below the spacing of the row maximum.
    logits = np.array([[0.0, 5.0, 2.5], [-3.0, 1.0, 0.5]], np.float32)
    labels = np.array([0, 2])
    want = F.cross_entropy(logits, labels, reduction="none").numpy()
    got = F.cross_entropy(logits + np.float32(1e4), labels, reduction="none").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, ">f4"])
def test_cross_entropy_of_other_float_dtypes_runs_in_float32(dtype):
    # The fused kernel reads float32/float64 only; float16 logits (which every other loss
    # accepts) and big-endian ones used to reach it and fail with the kernel's TypeError.
    logits = RNG.normal(size=(4, 3))
    labels = np.array([0, 2, 1, 2])
    x = dlcore.tensor(logits.astype(dtype), requires_grad=True)
    loss = F.cross_entropy(x, labels)
    loss.backward()
    want = F.cross_entropy(logits.astype(dtype).astype(np.float32), labels)
    np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-6)
    assert x.grad.dtype == x.dtype and np.all(np.isfinite(x.grad.numpy()))


@pytest.mark.parametrize("kwargs", [{}, {"weight": np.ones(3)}, {"label_smoothing": 0.1}])
def test_cross_entropy_label_out_of_range(kwargs):
    with pytest.raises(ValueError, match="label 3 at position 1 is out of range for 3 classes"):
        F.cross_entropy(np.zeros((2, 3)), [0, 3], **kwargs)
    with pytest.raises(ValueError, match="label -2 at position 0 is out of range"):
        F.cross_entropy(np.zeros((2, 3)), [-2, 0], **kwargs)


def test_cross_entropy_count_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"input has shape \(4, 3\) \(4 samples\) but target "
                                         r"has shape \(5,\)"):
        F.cross_entropy(np.zeros((4, 3)), np.zeros(5, np.int64))
    with pytest.raises(ValueError, match=r"class targets must have the input's shape"):
        F.cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 4, 4)))


def test_cross_entropy_float_labels_get_a_helpful_error():
    with pytest.raises(TypeError, match=r"astype\(np.int64\)"):
        F.cross_entropy(np.zeros((3, 2)), np.array([0.0, 1.0, 1.0]))


def test_cross_entropy_weight_shape_is_checked():
    with pytest.raises(ValueError, match=r"one entry per class, shape \(3,\)"):
        F.cross_entropy(np.zeros((2, 3)), [0, 1], weight=np.ones(2))


# --------------------------------------------------------------------- NLL
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll(reduction, weighted):
    log_p = np.log(RNG.dirichlet(np.ones(4), size=6))
    y = labels_for(6, 4, ignore=-100)
    w = np.array([1.0, 0.5, 2.0, 3.0]) if weighted else None
    check_op(lambda a: F.nll_loss(a, y, w, reduction=reduction),
             lambda a: ref.nll(a, y, w, reduction=reduction), [log_p])


def test_nll_of_log_softmax_is_cross_entropy():
    logits = RNG.normal(size=(2, 3, 5))
    y = RNG.integers(0, 3, size=(2, 5))
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(logits, 1), y, reduction="none").numpy(),
                               F.cross_entropy(logits, y, reduction="none").numpy(), rtol=1e-12)


def test_nll_errors():
    with pytest.raises(ValueError, match="label 4 at position 0 is out of range for 4 classes"):
        F.nll_loss(np.zeros((1, 4)), [4])
    with pytest.raises(ValueError, match=r"\(3 samples\) but target has shape \(2,\)"):
        F.nll_loss(np.zeros((3, 4)), [1, 2])


# --------------------------------------------------------------------- modules and names
def test_modules_match_functions():
    x, t = pair()
    p = RNG.uniform(0.1, 0.9, size=(4, 3))
    logits, y = RNG.normal(size=(4, 3)), labels_for(4, 3)
    w = np.array([1.0, 2.0, 0.5])
    cases = [
        (nn.MSELoss(reduction="sum"), F.mse_loss(x, t, "sum"), (x, t)),
        (nn.L1Loss(), F.l1_loss(x, t), (x, t)),
        (nn.HuberLoss(delta=0.5), F.huber_loss(x, t, delta=0.5), (x, t)),
        (nn.RMSELoss(eps=1e-6), F.rmse_loss(x, t, eps=1e-6), (x, t)),
        (nn.BCELoss(weight=w), F.binary_cross_entropy(p, t > 0, w), (p, t > 0)),
        (nn.BCEWithLogitsLoss(pos_weight=w), F.binary_cross_entropy_with_logits(
            x, p, pos_weight=w), (x, p)),
        (nn.CrossEntropyLoss(w, label_smoothing=0.1), F.cross_entropy(
            logits, y, w, label_smoothing=0.1), (logits, y)),
        (nn.NLLLoss(ignore_index=0), F.nll_loss(logits, y, ignore_index=0), (logits, y)),
    ]
    for module, expected, args in cases:
        np.testing.assert_array_equal(module(*args).numpy(), expected.numpy())


def test_loss_weights_are_buffers_in_the_state_dict():
    loss = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0], np.float32))
    assert list(loss.state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=np.ones(2)).state_dict()) == ["pos_weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []


def test_cross_entropy_module_keeps_pytorch_argument_order():
    loss = nn.CrossEntropyLoss(np.array([1.0, 3.0]), -1, "sum", 0.2)
    assert (loss.ignore_index, loss.reduction, loss.label_smoothing) == (-1, "sum", 0.2)
    np.testing.assert_array_equal(loss.weight.numpy(), [1.0, 3.0])


@pytest.mark.parametrize("name, cls", [
    ("mse", nn.MSELoss), ("mean_squared_error", nn.MSELoss), ("MSELoss", nn.MSELoss),
    ("mae", nn.L1Loss), ("mean_absolute_error", nn.L1Loss), ("huber", nn.HuberLoss),
    ("rmse", nn.RMSELoss), ("binary_crossentropy", nn.BCEWithLogitsLoss),
    ("categorical_crossentropy", nn.CrossEntropyLoss),
    ("sparse_categorical_crossentropy", nn.CrossEntropyLoss),
    ("CrossEntropyLoss", nn.CrossEntropyLoss), ("NLLLoss", nn.NLLLoss), ("BCELoss", nn.BCELoss),
    ("cross_entropy", nn.CrossEntropyLoss), ("mse_loss", nn.MSELoss), ("l1_loss", nn.L1Loss),
    ("nll_loss", nn.NLLLoss), ("binary_cross_entropy", nn.BCELoss),
    ("binary_cross_entropy_with_logits", nn.BCEWithLogitsLoss), ("huber_loss", nn.HuberLoss),
    ("rmse_loss", nn.RMSELoss),
])
def test_get_loss_resolves_keras_and_pytorch_names(name, cls):
    assert type(nn.get_loss(name)) is cls


def test_get_loss_passes_objects_and_options_through():
    loss = nn.MSELoss()
    assert nn.get_loss(loss) is loss
    assert nn.get_loss(F.mse_loss) is F.mse_loss
    assert nn.get_loss("huber", delta=2.0).delta == 2.0
    assert type(nn.get_loss("binary_crossentropy", from_logits=False)) is nn.BCELoss
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*sparse_categorical"):
        nn.get_loss("hinge")


def test_keras_crossentropy_on_probabilities():
    logits = RNG.normal(size=(5, 3))
    y = labels_for(5, 3)
    probs = F.softmax(logits).numpy()
    expected = F.cross_entropy(logits, y).item()
    sparse = nn.get_loss("sparse_categorical_crossentropy", from_logits=False)
    dense = nn.get_loss("categorical_crossentropy", from_logits=False)
    assert sparse(probs, y).item() == pytest.approx(expected, rel=1e-9)
    assert dense(probs, np.eye(3)[y]).item() == pytest.approx(expected, rel=1e-9)
    # A probability of 0 is clipped to 1e-7 (Keras), not log(0) = -inf.
    assert sparse(np.array([[1.0, 0.0]]), [1]).item() == pytest.approx(-np.log(1e-7))
