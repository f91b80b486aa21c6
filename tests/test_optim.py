"""dlcore.optim: every optimizer against PyTorch's update rule in NumPy, and the bookkeeping
(parameter groups, state, state_dict, errors) around the fused Rust step."""

from __future__ import annotations

import collections
import copy
import pickle
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import pytest

import dlcore
from dlcore import _core, nn, optim
from dlcore.reference import optim as ref

SHAPES: List[Tuple[int, ...]] = [(5, 3), (7,), (2, 3, 4), (), (0, 3)]

CONFIGS: List[Tuple[str, Dict[str, Any]]] = [
    ("SGD", {}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1,
             "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1}),
    ("Adagrad", {"initial_accumulator_value": 0.1, "eps": 1e-6, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}),
    ("RMSprop", {}),
    ("RMSprop", {"weight_decay": 0.05}),
    ("RMSprop", {"momentum": 0.9}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"momentum": 0.9, "centered": True, "weight_decay": 0.01, "alpha": 0.9}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "amsgrad": True, "weight_decay": 0.1,
              "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.05}),
    ("Adamax", {"betas": (0.8, 0.99), "eps": 1e-3, "weight_decay": 0.1, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.05}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"betas": (0.8, 0.99), "momentum_decay": 0.5, "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.05}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"betas": (0.8, 0.9), "eps": 1e-3, "maximize": True}),
]


def make_params(shapes: Sequence[Tuple[int, ...]], dtype: Any, seed: int = 0) -> List[nn.Parameter]:
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in shapes]


def gradients(shapes: Sequence[Tuple[int, ...]], dtype: Any, rng: np.random.Generator):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def run_both(name: str, kwargs: Dict[str, Any], shapes=SHAPES, dtype=np.float32, steps=100,
             seed=0):
    """Run dlcore's optimizer and the NumPy reference side by side on the same gradients;
    return (params, optimizer, reference arrays, reference states)."""
    params = make_params(shapes, dtype, seed)
    arrays = [p.data.copy() for p in params]
    states: List[Dict[str, Any]] = [{} for _ in params]
    opt = getattr(optim, name)(params, **kwargs)
    update = ref.UPDATES[name]
    rng = np.random.default_rng(seed + 1)
    for _ in range(steps):
        grads = gradients(shapes, dtype, rng)
        for p, g in zip(params, grads):
            p.grad = dlcore.Tensor(g.copy())
        opt.step()
        for a, g, st in zip(arrays, grads, states):
            update(a, g, st, **kwargs)
    return params, opt, arrays, states


def assert_state_matches(opt, params, arrays, states, rtol, atol):
    for p, a, st in zip(params, arrays, states):
        np.testing.assert_allclose(p.data, a, rtol=rtol, atol=atol)
        got = opt.state[p]
        for key, want in st.items():
            if key == "step":
                assert int(got["step"]) == want
            else:
                np.testing.assert_allclose(got[key], want, rtol=rtol, atol=atol, err_msg=key)
        assert set(got) == set(st)


@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_matches_reference_float32(name, kwargs):
    params, opt, arrays, states = run_both(name, kwargs)
    assert_state_matches(opt, params, arrays, states, rtol=1e-5, atol=1e-6)
    assert all(p.data.dtype == np.float32 for p in params)


@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_matches_reference_float64(name, kwargs):
    params, opt, arrays, states = run_both(name, kwargs, dtype=np.float64, steps=30)
    assert_state_matches(opt, params, arrays, states, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adamax", "NAdam", "RAdam"])
def test_large_parameter_uses_the_parallel_path(name):
    kwargs = {"SGD": {"momentum": 0.9}, "RMSprop": {"momentum": 0.9},
              "Adam": {"amsgrad": True}}.get(name, {"weight_decay": 0.01})
    params, opt, arrays, states = run_both(name, kwargs, shapes=[(300_001,), (3, 70_000)],
                                           steps=5)
    assert_state_matches(opt, params, arrays, states, rtol=1e-5, atol=1e-6)


def test_many_small_tensors_equal_one_large_one():
    rng = np.random.default_rng(3)
    flat = rng.standard_normal(100 * 1000).astype(np.float32)
    big = nn.Parameter(flat.copy())
    small = [nn.Parameter(c.copy()) for c in flat.reshape(100, 1000)]
    opt_big, opt_small = optim.Adam([big], lr=0.01), optim.Adam(small, lr=0.01)
    for _ in range(5):
        g = rng.standard_normal(flat.size).astype(np.float32)
        big.grad = dlcore.Tensor(g.copy())
        for p, gs in zip(small, g.reshape(100, 1000)):
            p.grad = dlcore.Tensor(gs.copy())
        opt_big.step()
        opt_small.step()
    np.testing.assert_array_equal(np.concatenate([p.data for p in small]), big.data)


def test_param_groups_have_their_own_hyperparameters():
    a, b, c = make_params([(3, 2), (4,), (2, 2)], np.float32)
    opt = optim.SGD([{"params": [a, b], "lr": 0.5, "momentum": 0.9}, {"params": [c]}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[1]["lr"] == 0.1
    assert opt.param_groups[1]["momentum"] == 0
    want = [p.data.copy() for p in (a, b, c)]
    states: List[Dict[str, Any]] = [{}, {}, {}]
    rng = np.random.default_rng(0)
    for _ in range(20):
        grads = gradients([(3, 2), (4,), (2, 2)], np.float32, rng)
        for p, g in zip((a, b, c), grads):
            p.grad = dlcore.Tensor(g)
        opt.step()
        for arr, g, st, hyper in zip(want, grads, states,
                                     [dict(lr=0.5, momentum=0.9)] * 2 + [dict(lr=0.1)]):
            ref.sgd(arr, g, st, **hyper)
    for p, arr in zip((a, b, c), want):
        np.testing.assert_allclose(p.data, arr, rtol=1e-6)
    assert "momentum_buffer" not in opt.state[c]


def test_hyperparameter_changes_apply_at_the_next_step():
    (p,) = make_params([(4,)], np.float32)
    opt = optim.Adam([p], lr=0.1)
    want, state = p.data.copy(), {}
    rng = np.random.default_rng(0)
    for step in range(10):
        g = rng.standard_normal(4).astype(np.float32)
        p.grad = dlcore.Tensor(g)
        lr = 0.1 / (step + 1)
        opt.param_groups[0]["lr"] = lr
        opt.param_groups[0]["amsgrad"] = step >= 5
        opt.step()
        if step == 5:
            state["max_exp_avg_sq"] = np.zeros_like(want)
        ref.adam(want, g, state, lr=lr, amsgrad=step >= 5)
    np.testing.assert_allclose(p.data, want, rtol=1e-6)


def test_parameters_without_grad_are_skipped():
    a, b = make_params([(3,), (2,)], np.float32)
    before = b.data.copy()
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = dlcore.Tensor(np.ones(3, np.float32))
    opt.step()
    np.testing.assert_array_equal(b.data, before)
    assert b not in opt.state and int(opt.state[a]["step"]) == 1
    b.grad = dlcore.Tensor(np.ones(2, np.float32))
    opt.step()
    assert int(opt.state[a]["step"]) == 2 and int(opt.state[b]["step"]) == 1
    a.grad = None
    opt.step()
    assert int(opt.state[a]["step"]) == 2 and int(opt.state[b]["step"]) == 2


def test_params_are_updated_in_place():
    (p,) = make_params([(4, 3)], np.float32)
    data = p.data
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    for _ in range(3):
        p.grad = dlcore.Tensor(np.ones((4, 3), np.float32))
        opt.step()
    assert p.data is data


def test_non_contiguous_parameter_is_updated_in_place():
    base = np.arange(24, dtype=np.float32).reshape(4, 6) / 10
    p = nn.Parameter(base)
    p.data = base[:, ::2]
    assert not p.data.flags.c_contiguous
    want, state = p.data.copy(), {}
    opt = optim.Adam([p], lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        g = rng.standard_normal((4, 3)).astype(np.float32)
        p.grad = dlcore.Tensor(g)
        opt.step()
        ref.adam(want, g, state, lr=0.1)
    np.testing.assert_allclose(base[:, ::2], want, rtol=1e-6)
    np.testing.assert_array_equal(base[:, 1::2], (np.arange(24).reshape(4, 6) / 10)[:, 1::2]
                                  .astype(np.float32))


def test_gradients_of_other_dtype_or_layout_are_converted():
    (p,) = make_params([(3, 4)], np.float32)
    want, state = p.data.copy(), {}
    opt = optim.Adam([p], lr=0.1)
    g64 = np.random.default_rng(0).standard_normal((4, 3))
    p.grad = dlcore.Tensor(g64.T, dtype=np.float64)
    opt.step()
    ref.adam(want, np.ascontiguousarray(g64.T, dtype=np.float32), state, lr=0.1)
    np.testing.assert_allclose(p.data, want, rtol=1e-6)
    assert p.data.dtype == np.float32


def test_mixed_dtype_group():
    a = make_params([(3,)], np.float32)[0]
    b = make_params([(2, 2)], np.float64, seed=1)[0]
    opt = optim.RMSprop([a, b], lr=0.01, momentum=0.5)
    want = [a.data.copy(), b.data.copy()]
    states: List[Dict[str, Any]] = [{}, {}]
    rng = np.random.default_rng(0)
    for _ in range(10):
        grads = [rng.standard_normal(3).astype(np.float32), rng.standard_normal((2, 2))]
        a.grad, b.grad = dlcore.Tensor(grads[0]), dlcore.Tensor(grads[1], dtype=np.float64)
        opt.step()
        for arr, g, st in zip(want, grads, states):
            ref.rmsprop(arr, g, st, lr=0.01, momentum=0.5)
    np.testing.assert_allclose(a.data, want[0], rtol=1e-6)
    np.testing.assert_allclose(b.data, want[1], rtol=1e-12)
    assert opt.state[a]["square_avg"].dtype == np.float32
    assert opt.state[b]["square_avg"].dtype == np.float64


def test_state_edited_by_hand_is_used():
    (p,) = make_params([(5,)], np.float32)
    opt = optim.Adam([p], lr=0.1)
    want, state = p.data.copy(), {}
    rng = np.random.default_rng(0)
    for step in range(8):
        if step == 4:
            opt.state[p]["exp_avg"] = np.zeros(5, np.float32)
            state["exp_avg"] = np.zeros(5, np.float32)
            opt.state[p]["step"] = 0
            state["step"] = 0
        g = rng.standard_normal(5).astype(np.float32)
        p.grad = dlcore.Tensor(g)
        opt.step()
        ref.adam(want, g, state, lr=0.1)
    np.testing.assert_allclose(p.data, want, rtol=1e-6)
    assert int(opt.state[p]["step"]) == 4


def test_replacing_the_whole_state_resets_the_optimizer():
    (p,) = make_params([(5,)], np.float32)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    for _ in range(3):
        p.grad = dlcore.Tensor(np.ones(5, np.float32))
        opt.step()
    opt.state = collections.defaultdict(dict)
    start = p.data.copy()
    opt.step()  # the first step after a reset: the buffer restarts as the gradient
    np.testing.assert_allclose(p.data, start - 0.1, rtol=1e-6)


def test_zero_grad():
    a, b = make_params([(3,), (2,)], np.float32)
    opt = optim.SGD([a, b], lr=0.1)
    a.grad = dlcore.Tensor(np.ones(3, np.float32))
    grad_array = a.grad.data
    opt.zero_grad(set_to_none=False)
    assert a.grad.data is grad_array and not grad_array.any() and b.grad is None
    opt.zero_grad()
    assert a.grad is None


def test_closure_is_called_with_grad_enabled():
    (p,) = make_params([(3,)], np.float32)
    opt = optim.SGD([p], lr=0.1)
    calls = []

    def closure():
        calls.append(dlcore.is_grad_enabled())
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with dlcore.no_grad():
        loss = opt.step(closure)
    assert calls == [True] and isinstance(loss, dlcore.Tensor)


def test_add_param_group_while_training():
    a, b = make_params([(3,), (2,)], np.float32)
    opt = optim.Adam([a], lr=0.1)
    a.grad = dlcore.Tensor(np.ones(3, np.float32))
    opt.step()
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    before = b.data.copy()
    b.grad = dlcore.Tensor(np.ones(2, np.float32))
    opt.step()
    np.testing.assert_allclose(b.data, before - 0.5, rtol=1e-5)
    assert int(opt.state[a]["step"]) == 2


@pytest.mark.parametrize("name,kwargs", [c for c in CONFIGS if c[1]])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    shapes = [(4, 3), (5,)]
    cls = getattr(optim, name)
    params = make_params(shapes, np.float32)
    opt = cls([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}], **kwargs)
    rng = np.random.default_rng(1)
    for _ in range(10):
        for p, g in zip(params, gradients(shapes, np.float32, rng)):
            p.grad = dlcore.Tensor(g)
        opt.step()
    saved = opt.state_dict()
    twins = [nn.Parameter(p.data.copy()) for p in params]
    twin_opt = cls([{"params": twins[:1]}, {"params": twins[1:], "lr": 0.5}], **kwargs)
    twin_opt.load_state_dict(saved)
    assert twin_opt.param_groups[1]["lr"] == 0.02
    for _ in range(10):
        for p, t, g in zip(params, twins, gradients(shapes, np.float32, rng)):
            p.grad, t.grad = dlcore.Tensor(g), dlcore.Tensor(g.copy())
        opt.step()
        twin_opt.step()
    for p, t in zip(params, twins):
        np.testing.assert_array_equal(p.data, t.data)


def test_state_dict_is_a_copy_and_names_parameters_by_index():
    a, b = make_params([(3,), (2,)], np.float32)
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])
    a.grad = dlcore.Tensor(np.ones(3, np.float32))
    opt.step()
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]
    assert saved["param_groups"][1]["lr"] == 0.5 and set(saved["state"]) == {0}
    exp_avg = saved["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"], exp_avg)
    assert int(saved["state"][0]["step"]) == 1
    assert pickle.loads(pickle.dumps(saved))["param_groups"][1]["lr"] == 0.5


def test_load_state_dict_casts_to_parameter_dtype():
    (p64,) = make_params([(3,)], np.float64)
    opt = optim.Adam([p64])
    p64.grad = dlcore.Tensor(np.ones(3))
    opt.step()
    (p32,) = make_params([(3,)], np.float32)
    opt32 = optim.Adam([p32])
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[p32]["exp_avg"].dtype == np.float32
    p32.grad = dlcore.Tensor(np.ones(3, np.float32))
    opt32.step()
    assert int(opt32.state[p32]["step"]) == 2


def test_load_state_dict_refuses_mismatches():
    a, b = make_params([(3,), (2,)], np.float32)
    opt = optim.Adam([a, b])
    a.grad, b.grad = dlcore.Tensor(np.ones(3, np.float32)), dlcore.Tensor(np.ones(2, np.float32))
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="1 parameters but the optimizer's group 0 has 2"):
        optim.Adam([a, b]).load_state_dict(
            {"state": {}, "param_groups": [dict(saved["param_groups"][0], params=[0])]})
    with pytest.raises(ValueError, match="2 parameter groups but the optimizer has 1"):
        optim.Adam([a, b]).load_state_dict(
            {"state": {}, "param_groups": saved["param_groups"] * 2})
    c, d = make_params([(3,), (5,)], np.float32)
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 1 has shape \(2,\) but the "
                                         r"parameter has shape \(5,\)"):
        optim.Adam([c, d]).load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.Adam([a]).load_state_dict({"param_groups": []})
    # Another optimizer's state dict: its groups lack this one's hyperparameters (a bare
    # KeyError: 'momentum' before).
    with pytest.raises(ValueError, match=r"group 0 lacks SGD's hyperparameters: momentum, "
                                         r"dampening.*another optimizer"):
        optim.SGD([a, b], lr=0.1).load_state_dict(saved)
    saved["state"][0]["step"] = -3
    with pytest.raises(ValueError, match="step count of parameter 0 is -3"):
        optim.Adam([a, b]).load_state_dict(saved)


BAD_HYPERPARAMETERS = [
    ("SGD", {"lr": -1}, "Invalid learning rate: -1"),
    ("SGD", {"momentum": -0.5}, "Invalid momentum value: -0.5"),
    ("SGD", {"weight_decay": -1e-4}, "Invalid weight_decay value"),
    ("SGD", {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "Nesterov"),
    ("Adagrad", {"lr": -0.1}, "Invalid learning rate"),
    ("Adagrad", {"lr_decay": -1}, "Invalid lr_decay value"),
    ("Adagrad", {"initial_accumulator_value": -1}, "Invalid initial_accumulator_value"),
    ("Adagrad", {"eps": -1}, "Invalid epsilon value"),
    ("Adadelta", {"rho": 1.5}, "Invalid rho value: 1.5"),
    ("Adadelta", {"eps": -1}, "Invalid epsilon value"),
    ("RMSprop", {"alpha": -0.1}, "Invalid alpha value"),
    ("RMSprop", {"alpha": 1.5}, "Invalid alpha value: 1.5"),
    ("RMSprop", {"momentum": -1}, "Invalid momentum value"),
    ("RMSprop", {"lr": float("nan")}, "Invalid learning rate: nan"),
    ("Adam", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    ("Adam", {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
    ("Adam", {"eps": -1e-8}, "Invalid epsilon value"),
    ("AdamW", {"weight_decay": -0.01}, "Invalid weight_decay value: -0.01"),
    ("Adamax", {"lr": -2e-3}, "Invalid learning rate: -0.002"),
    ("Adamax", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
    ("Adamax", {"eps": float("nan")}, "Invalid epsilon value: nan"),
    ("Adamax", {"weight_decay": -1}, "Invalid weight_decay value: -1"),
    ("NAdam", {"momentum_decay": -4e-3}, "Invalid momentum_decay value: -0.004"),
    ("NAdam", {"betas": (-0.1, 0.999)}, "Invalid beta parameter at index 0: -0.1"),
    ("NAdam", {"betas": (0.9,)}, "Invalid betas"),
    ("NAdam", {"eps": -1e-8}, "Invalid epsilon value"),
    ("RAdam", {"lr": float("nan")}, "Invalid learning rate: nan"),
    ("RAdam", {"betas": (0.9, 1.5)}, "Invalid beta parameter at index 1: 1.5"),
    ("RAdam", {"weight_decay": -0.1, "decoupled_weight_decay": True},
     "Invalid weight_decay value: -0.1"),
]


@pytest.mark.parametrize("name,kwargs,message", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_raise_at_construction(name, kwargs, message):
    params = make_params([(2,)], np.float32)
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)(params, **kwargs)
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)([{"params": params, **kwargs}])


@pytest.mark.parametrize("name,kwargs,message", [
    ("SGD", {"lr": "0.1"}, "Invalid learning rate: expected a number, got str '0.1'"),
    ("SGD", {"lr": None}, "Invalid learning rate: expected a number, got NoneType"),
    ("SGD", {"lr": 0.1, "momentum": "0.9"}, "Invalid momentum value: expected a number"),
    ("Adam", {"betas": ("0.9", 0.999)}, "Invalid beta parameter at index 0: expected a number"),
    ("RMSprop", {"alpha": True}, "Invalid alpha value: expected a number, got bool"),
])
def test_hyperparameters_that_are_not_numbers_are_type_errors(name, kwargs, message):
    params = make_params([(2,)], np.float32)
    with pytest.raises(TypeError, match=message):
        getattr(optim, name)(params, **kwargs)


def test_numpy_scalar_hyperparameters_are_numbers():
    params = make_params([(2,)], np.float32)
    optim.SGD(params, lr=np.float32(0.1), momentum=np.float64(0.9))
    optim.Adam(params, lr=np.float64(1e-3), betas=(np.float32(0.9), 0.999))


def test_bad_parameter_lists():
    (p,) = make_params([(2,)], np.float32)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="parameter 1 is a ndarray"):
        optim.SGD([p, np.zeros(2)])
    with pytest.raises(TypeError, match="parameter 0 has dtype int64"):
        optim.Adam([dlcore.tensor(np.arange(3))])
    with pytest.raises(ValueError, match="parameter 1 appears more than once"):
        optim.Adam([p, p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.Adam([{"params": [p]}, {"params": [p]}])
    with pytest.raises(TypeError, match="not a set"):
        optim.Adam({p})
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2])


def test_gradient_of_wrong_shape_names_the_parameter():
    a, b = make_params([(3,), (2, 2)], np.float32)
    opt = optim.Adam([a, b])
    a.grad = dlcore.Tensor(np.ones(3, np.float32))
    b.grad = dlcore.Tensor(np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(4,\) but the parameter has "
                                         r"shape \(2, 2\)"):
        opt.step()
    assert int(opt.state[a]["step"]) == 0  # nothing was updated


def quadratic_loss(x: dlcore.Tensor) -> dlcore.Tensor:
    scales = np.array([1.0, 4.0, 0.5], np.float32)
    return (((x - np.array([1.0, -2.0, 3.0], np.float32)) ** 2) * scales).sum()


@pytest.mark.parametrize("name,kwargs,steps", [
    ("SGD", {"lr": 0.05}, 300),
    ("SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True}, 300),
    ("Adagrad", {"lr": 0.5}, 500),
    ("Adadelta", {"lr": 50.0}, 500),
    ("RMSprop", {"lr": 0.01, "centered": True}, 1000),
    ("Adam", {"lr": 0.05}, 1000),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.0}, 1000),
    ("Adamax", {"lr": 0.05}, 1000),
    ("NAdam", {"lr": 0.05}, 1000),
    ("RAdam", {"lr": 0.05}, 1000),
])
def test_quadratic_is_minimised(name, kwargs, steps):
    x = nn.Parameter(np.zeros(3, np.float32))
    opt = getattr(optim, name)([x], **kwargs)
    start = quadratic_loss(x).item()
    for _ in range(steps):
        opt.zero_grad()
        loss = quadratic_loss(x)
        loss.backward()
        opt.step()
    assert quadratic_loss(x).item() < 1e-3 * start
    np.testing.assert_allclose(x.data, [1.0, -2.0, 3.0], atol=0.05)


def test_training_a_model():
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    x = np.random.default_rng(0).uniform(-1, 1, (64, 2)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:]).astype(np.float32)
    opt = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


def test_repr_lists_the_groups():
    params = make_params([(2,)], np.float32)
    text = repr(optim.SGD(params, lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


# ----------------------------------------------------------------- the Rust binding itself
def adam_args(n=2, shape=(3,), dtype=np.float32):
    make = [np.ones(shape, dtype) for _ in range(n)]
    return dict(params=make, grads=[np.ones(shape, dtype) for _ in range(n)],
                exp_avgs=[np.zeros(shape, dtype) for _ in range(n)],
                exp_avg_sqs=[np.zeros(shape, dtype) for _ in range(n)],
                max_exp_avg_sqs=None, steps=np.zeros(n, np.int64))


def test_binding_increments_steps_and_updates_in_place():
    args = adam_args()
    _core.adam_step(**args, lr=0.1)
    np.testing.assert_array_equal(args["steps"], [1, 1])
    np.testing.assert_allclose(args["params"][0], 0.9, rtol=1e-6)
    _core.adam_step(**args, lr=0.1)
    np.testing.assert_array_equal(args["steps"], [2, 2])


@pytest.mark.parametrize("change,error,message", [
    (lambda a: a["grads"].__setitem__(1, np.ones(4, np.float32)), ValueError,
     r"grads\[1\] has shape \(4,\) but params\[1\] has shape \(3,\)"),
    (lambda a: a["exp_avgs"].__setitem__(0, np.zeros((3, 1), np.float32)), ValueError,
     r"exp_avgs\[0\] has shape \(3, 1\) but params\[0\] has shape \(3,\)"),
    (lambda a: a["grads"].__setitem__(1, np.ones(3)), TypeError,
     r"grads\[1\] must be a float32 numpy array like params\[0\], got float64"),
    (lambda a: a["params"].__setitem__(0, np.ones(3, np.int32)), TypeError,
     r"params\[0\] must be a float32 or float64 numpy array, got int32"),
    (lambda a: a["params"][1].setflags(write=False), ValueError,
     r"params\[1\] is read-only"),
    (lambda a: a["exp_avg_sqs"].__setitem__(1, np.zeros(6, np.float32)[::2]), ValueError,
     r"exp_avg_sqs\[1\] \(shape \(3,\)\) must be C-contiguous"),
    (lambda a: a["exp_avgs"].__setitem__(1, a["exp_avgs"][0]), ValueError,
     r"exp_avgs\[.\] shares memory with exp_avgs\[.\]"),
    (lambda a: a["grads"].__setitem__(0, a["params"][0][:]), ValueError,
     "shares memory"),
    (lambda a: a.__setitem__("steps", np.zeros(2, np.int32)), TypeError,
     "steps must be an int64 numpy array"),
    (lambda a: a.__setitem__("steps", np.zeros(3, np.int64)), ValueError,
     r"steps has shape \(3,\) but there are 2 params"),
    (lambda a: a.__setitem__("steps", np.array([0, -1])), ValueError,
     r"steps\[1\] is -1"),
    # The count is incremented in place: at i64::MAX it would wrap to a negative count.
    (lambda a: a.__setitem__("steps", np.array([0, 2**63 - 1])), ValueError,
     r"steps\[1\] is 9223372036854775807"),
    (lambda a: a["grads"].pop(), ValueError, "got 1 grads for 2 params"),
])
def test_binding_checks_every_array(change, error, message):
    args = adam_args()
    change(args)
    before = [p.copy() for p in args["params"]]
    steps_before = np.array(args["steps"], copy=True)
    with pytest.raises(error, match=message):
        _core.adam_step(**args, lr=0.1)
    for p, b in zip(args["params"], before):
        np.testing.assert_array_equal(p, b)
    np.testing.assert_array_equal(args["steps"], steps_before)


def test_binding_needs_the_buffers_its_options_use():
    args = adam_args()
    with pytest.raises(ValueError, match="max_exp_avg_sqs must be given"):
        _core.adam_step(**args, lr=0.1, amsgrad=True)
    p, g = [np.ones(2, np.float32)], [np.ones(2, np.float32)]
    with pytest.raises(ValueError, match="momentum_buffers must be given"):
        _core.sgd_step(p, g, None, np.zeros(1, np.int64), 0.1, momentum=0.9)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        _core.sgd_step(p, g, None, np.zeros(1, np.int64), -1.0)


def test_binding_accepts_an_empty_group():
    _core.adam_step([], [], [], [], None, np.zeros(0, np.int64), 0.1)


def test_state_reset_by_hand_restarts_the_optimizer():
    (p,) = make_params([(4,)], np.float32)
    opt = optim.Adam([p], lr=0.1)
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(4).astype(np.float32) for _ in range(6)]
    for g in grads[:3]:
        p.grad = dlcore.Tensor(g)
        opt.step()
    for reset in (opt.state.clear, lambda: opt.state.pop(p),
                  lambda: opt.state.__setitem__(p, {})):
        reset()
        want, state = p.data.copy(), {}
        for g in grads[3:]:
            p.grad = dlcore.Tensor(g)
            opt.step()
            ref.adam(want, g, state, lr=0.1)
        np.testing.assert_allclose(p.data, want, rtol=1e-6)
        assert int(opt.state[p]["step"]) == 3


def test_state_entry_deleted_by_hand_is_recreated():
    (p,) = make_params([(4,)], np.float32)
    opt = optim.Adam([p], lr=0.1)
    p.grad = dlcore.Tensor(np.ones(4, np.float32))
    opt.step()
    del opt.state[p]["exp_avg_sq"]
    state = {k: np.array(v, copy=True) for k, v in opt.state[p].items()}
    state["step"] = int(state["step"])
    state["exp_avg_sq"] = np.zeros(4, np.float32)
    want = p.data.copy()
    opt.step()
    ref.adam(want, np.ones(4, np.float32), state, lr=0.1)
    np.testing.assert_allclose(p.data, want, rtol=1e-6)
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], state["exp_avg_sq"], rtol=1e-6)


@pytest.mark.parametrize("clone", [lambda o: pickle.loads(pickle.dumps(o)), copy.deepcopy])
def test_copied_optimizer_continues_identically(clone):
    params = make_params([(3, 2), (4,)], np.float32)
    opt = optim.Adam(params, lr=0.1, amsgrad=True)
    rng = np.random.default_rng(0)
    for p, g in zip(params, gradients([(3, 2), (4,)], np.float32, rng)):
        p.grad = dlcore.Tensor(g)
    opt.step()
    twin = clone(opt)
    twin_params = twin.param_groups[0]["params"]
    assert all(t is not p for t, p in zip(twin_params, params))
    for _ in range(3):
        for p, t, g in zip(params, twin_params, gradients([(3, 2), (4,)], np.float32, rng)):
            p.grad, t.grad = dlcore.Tensor(g), dlcore.Tensor(g.copy())
        opt.step()
        twin.step()
    for p, t in zip(params, twin_params):
        np.testing.assert_array_equal(p.data, t.data)
        assert int(twin.state[t]["step"]) == 4


def test_state_assigned_as_plain_dicts_is_used():
    (p,) = make_params([(3,)], np.float32)
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    opt.state[p] = {"momentum_buffer": np.full(3, 2.0, np.float32)}
    start = p.data.copy()
    p.grad = dlcore.Tensor(np.ones(3, np.float32))
    opt.step()
    np.testing.assert_allclose(p.data, start - 0.1 * (0.5 * 2.0 + 1.0), rtol=1e-6)
    opt.state[p]["momentum_buffer"][:] = 0  # in place: the step uses the same array
    start = p.data.copy()
    opt.step()
    np.testing.assert_allclose(p.data, start - 0.1, rtol=1e-6)
