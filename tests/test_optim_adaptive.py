"""dlcore.optim.Adamax, NAdam and RAdam: what the shared reference tests of test_optim.py do
not reach: NAdam's per-parameter ``mu_product`` (a scalar the kernel carries), RAdam's switch
from momentum steps to rectified adaptive steps, Adamax's infinity norm, and the checks of the
Rust bindings' extra arguments."""

from __future__ import annotations

import math
from typing import Any, Dict, List

import numpy as np
import pytest

import dlcore
from dlcore import _core, nn, optim
from dlcore.reference import optim as ref


def nadam_mu_product(t: int, beta1: float = 0.9, momentum_decay: float = 4e-3) -> float:
    """``mu_1 * ... * mu_t``, computed afresh."""
    return math.prod(beta1 * (1 - 0.5 * 0.96 ** (i * momentum_decay)) for i in range(1, t + 1))


def grads_for(shapes, rng, dtype=np.float32) -> List[np.ndarray]:
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nadam_keeps_a_float64_mu_product_per_parameter(dtype):
    # The second parameter has a gradient only every other step, so the two run at different
    # step counts and must each carry their own product.
    rng = np.random.default_rng(0)
    a = nn.Parameter(rng.standard_normal((4, 3)).astype(dtype))
    b = nn.Parameter(rng.standard_normal(5).astype(dtype))
    opt = optim.NAdam([a, b], lr=0.01, momentum_decay=0.1)
    arrays = [a.data.copy(), b.data.copy()]
    states: List[Dict[str, Any]] = [{}, {}]
    for step in range(9):
        ga, gb = grads_for([(4, 3), (5,)], rng, dtype)
        a.grad = dlcore.Tensor(ga)
        b.grad = dlcore.Tensor(gb) if step % 2 == 0 else None
        opt.step()
        ref.nadam(arrays[0], ga, states[0], lr=0.01, momentum_decay=0.1)
        if step % 2 == 0:
            ref.nadam(arrays[1], gb, states[1], lr=0.01, momentum_decay=0.1)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for p, want, st, t in zip([a, b], arrays, states, [9, 5]):
        state = opt.state[p]
        assert int(state["step"]) == t
        assert np.asarray(state["mu_product"]).dtype == np.float64
        assert float(state["mu_product"]) == pytest.approx(nadam_mu_product(t, 0.9, 0.1),
                                                           rel=1e-14)
        np.testing.assert_allclose(p.data, want, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(state["exp_avg"], st["exp_avg"], rtol=rtol, atol=rtol)


def test_nadam_state_dict_carries_mu_product():
    rng = np.random.default_rng(1)
    p = nn.Parameter(rng.standard_normal(6).astype(np.float32))
    opt = optim.NAdam([p], lr=0.01)
    for _ in range(4):
        p.grad = dlcore.Tensor(grads_for([(6,)], rng)[0])
        opt.step()
    saved = opt.state_dict()
    assert float(saved["state"][0]["mu_product"]) == pytest.approx(nadam_mu_product(4))
    # The saved value is a copy: further steps do not change it.
    p.grad = dlcore.Tensor(grads_for([(6,)], rng)[0])
    opt.step()
    assert float(saved["state"][0]["mu_product"]) == pytest.approx(nadam_mu_product(4))

    # A mu_product edited in the saved state (a plain float here) is the one the step uses.
    saved["state"][0]["mu_product"] = 0.5
    twin = nn.Parameter(p.data.copy())
    twin_opt = optim.NAdam([twin], lr=0.01)
    twin_opt.load_state_dict(saved)
    want = twin.data.copy()
    ref_state = {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                 for k, v in saved["state"][0].items()}
    ref_state["step"] = int(ref_state["step"])
    g = grads_for([(6,)], rng)[0]
    twin.grad = dlcore.Tensor(g)
    twin_opt.step()
    ref.nadam(want, g, ref_state, lr=0.01)
    np.testing.assert_allclose(twin.data, want, rtol=1e-6)
    assert float(twin_opt.state[twin]["mu_product"]) == pytest.approx(ref_state["mu_product"])
    assert ref_state["mu_product"] < 0.5


def test_nadam_mu_product_set_by_hand_is_used():
    p = nn.Parameter(np.ones(3, np.float32))
    opt = optim.NAdam([p], lr=0.1)
    p.grad = dlcore.Tensor(np.ones(3, np.float32))
    opt.step()
    opt.state[p]["mu_product"] = 0.25
    opt.step()
    mu2 = 0.9 * (1 - 0.5 * 0.96 ** (2 * 4e-3))
    assert float(opt.state[p]["mu_product"]) == pytest.approx(0.25 * mu2, rel=1e-15)


def test_radam_takes_momentum_steps_until_rho_t_exceeds_five():
    # With beta2 = 0.999, rho_t is about 1, 2, 3, 4, 5, 6, ... at steps 1, 2, 3, ...: the
    # first five steps are p -= lr * m_hat, whatever the gradient's scale.
    p = nn.Parameter(np.zeros(2, np.float64))
    opt = optim.RAdam([p], lr=0.1, eps=0.0)
    g = np.array([1e-3, -50.0])
    for t in range(1, 6):
        p.grad = dlcore.Tensor(g)
        opt.step()
        # A constant gradient makes m_hat equal it exactly (up to round-off).
        np.testing.assert_allclose(p.data, -0.1 * t * g, rtol=1e-12)
    p.grad = dlcore.Tensor(g)
    before = p.data.copy()
    opt.step()
    # The rectified adaptive step: with v = (1 - beta2**t) g**2 it is lr * r * sign(g) for
    # both coordinates, whatever their scale (r is small this early: about 0.026).
    rho_inf = 2 / (1 - 0.999) - 1
    rho_6 = rho_inf - 2 * 6 * 0.999**6 / (1 - 0.999**6)
    assert 5 < rho_6 < 6
    r = math.sqrt((rho_6 - 4) * (rho_6 - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_6))
    np.testing.assert_allclose(before - p.data, 0.1 * r * np.sign(g), rtol=1e-6)


def test_adamax_normalises_by_the_largest_recent_gradient():
    p = nn.Parameter(np.zeros(3, np.float64))
    opt = optim.Adamax([p], lr=0.01, eps=0.0)
    p.grad = dlcore.Tensor(np.array([4.0, -0.5, 0.0]))
    opt.step()
    # m = 0.1 g, u = |g|, bias correction 0.1: the first step is lr * sign(g) (0/0 = NaN
    # only where g = 0 and eps = 0, as in PyTorch).
    np.testing.assert_allclose(p.data[:2], [-0.01, 0.01], rtol=1e-12)
    assert np.isnan(p.data[2])
    np.testing.assert_array_equal(opt.state[p]["exp_inf"][:2], [4.0, 0.5])


@pytest.mark.parametrize("name", ["Adamax", "NAdam", "RAdam"])
def test_training_a_model(name):
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    x = np.random.default_rng(0).uniform(-1, 1, (64, 2)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:]).astype(np.float32)
    opt = getattr(optim, name)(model.parameters(), lr=0.01, weight_decay=1e-4)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


@pytest.mark.parametrize("name,kwargs", [
    ("NAdam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
    ("RAdam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
])
def test_decoupled_weight_decay_shrinks_without_a_gradient_term(name, kwargs):
    # With a zero gradient, decoupled decay only shrinks p; L2 decay would also move m and v.
    p = nn.Parameter(np.full(3, 2.0))
    opt = getattr(optim, name)([p], lr=0.1, **kwargs)
    p.grad = dlcore.Tensor(np.zeros(3))
    opt.step()
    np.testing.assert_allclose(p.data, 2.0 * (1 - 0.1 * 0.1), rtol=1e-15)
    np.testing.assert_array_equal(opt.state[p]["exp_avg"], 0.0)


def test_signatures_follow_pytorch():
    params = [nn.Parameter(np.zeros(2, np.float32))]
    assert optim.Adamax(params).defaults == dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8,
                                                 weight_decay=0, maximize=False)
    assert optim.NAdam(params, 1e-2, (0.8, 0.9), 1e-6, 0.1, 0.01, True).defaults == dict(
        lr=1e-2, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1, momentum_decay=0.01,
        decoupled_weight_decay=True, maximize=False)
    assert optim.RAdam(params, 1e-2, (0.8, 0.9), 1e-6, 0.1, True).defaults == dict(
        lr=1e-2, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1, decoupled_weight_decay=True,
        maximize=False)
    with pytest.raises(TypeError):
        optim.Adamax(params, 1e-3, (0.9, 0.999), 1e-8, 0, True)  # maximize is keyword-only


# ----------------------------------------------------------------- the Rust bindings
def nadam_args(n=2, shape=(3,), dtype=np.float64):
    return dict(params=[np.ones(shape, dtype) for _ in range(n)],
                grads=[np.ones(shape, dtype) for _ in range(n)],
                exp_avgs=[np.zeros(shape, dtype) for _ in range(n)],
                exp_avg_sqs=[np.zeros(shape, dtype) for _ in range(n)],
                mu_products=np.ones(n), steps=np.zeros(n, np.int64))


def test_nadam_binding_updates_mu_products_in_place():
    args = nadam_args()
    args["mu_products"][1] = 0.5
    _core.nadam_step(**args, lr=0.1)
    mu1 = 0.9 * (1 - 0.5 * 0.96**4e-3)
    np.testing.assert_allclose(args["mu_products"], [mu1, 0.5 * mu1], rtol=1e-15)
    np.testing.assert_array_equal(args["steps"], [1, 1])


@pytest.mark.parametrize("change,error,message", [
    (lambda a: a.__setitem__("mu_products", np.ones(2, np.float32)), TypeError,
     "mu_products must be a float64 numpy array"),
    (lambda a: a.__setitem__("mu_products", np.ones(3)), ValueError,
     r"mu_products has shape \(3,\) but there are 2 params"),
    (lambda a: a["mu_products"].setflags(write=False), ValueError,
     "mu_products must be C-contiguous and writeable"),
    (lambda a: a.__setitem__("mu_products", np.ones(4)[::2]), ValueError,
     "mu_products must be C-contiguous"),
    (lambda a: a.__setitem__("mu_products", a["params"][0][:2]), ValueError,
     r"(mu_products shares memory with params\[0\]|params\[0\] shares memory with "
     r"mu_products)"),
    (lambda a: a.__setitem__("mu_products", a["grads"][1][1:]), ValueError,
     r"mu_products shares memory with grads\[1\]"),
])
def test_nadam_binding_checks_mu_products(change, error, message):
    args = nadam_args()
    change(args)
    before = [p.copy() for p in args["params"]]
    with pytest.raises(error, match=message):
        _core.nadam_step(**args, lr=0.1)
    for p, b in zip(args["params"], before):
        np.testing.assert_array_equal(p, b)
    np.testing.assert_array_equal(args["steps"], 0)


@pytest.mark.parametrize("step,kwargs,message", [
    (_core.adamax_step, {"beta2": 1.0}, "adamax: Invalid beta parameter at index 1: 1"),
    (_core.nadam_step, {"momentum_decay": -1.0}, "nadam: Invalid momentum_decay value: -1"),
    (_core.radam_step, {"eps": -1.0}, "radam: Invalid epsilon value: -1"),
])
def test_bindings_refuse_bad_hyperparameters(step, kwargs, message):
    args = nadam_args()
    if step is not _core.nadam_step:
        del args["mu_products"]
    if step is _core.adamax_step:
        args["exp_infs"] = args.pop("exp_avg_sqs")
    with pytest.raises(ValueError, match=message):
        step(**args, lr=0.1, **kwargs)
    np.testing.assert_array_equal(args["params"][0], 1.0)
