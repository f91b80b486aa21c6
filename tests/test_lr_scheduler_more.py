"""The schedules of dlcore.optim.lr_scheduler_more against PyTorch's documented formulas.

Every expected sequence is written from the formula in PyTorch's documentation (or its
documented example), not from the implementation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dlcore
from dlcore import Tensor, nn, optim
from dlcore.callbacks import LearningRateScheduler
from dlcore.optim import lr_scheduler
from dlcore.optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LinearLR,
    MultiplicativeLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

BASES = (0.1, 0.2)  # each group's initial lr


def make_optimizer(groups=2, cls=optim.SGD, **kwargs):
    params = [nn.Parameter(np.zeros(2, np.float32)) for _ in range(groups)]
    return cls([{"params": [p], "lr": BASES[i]} for i, p in enumerate(params)], **kwargs)


def lrs_over(scheduler, steps):
    """The rate of each group at steps 0..steps-1 (step 0 is the one after construction)."""
    seen = []
    for _ in range(steps):
        seen.append([g["lr"] for g in scheduler.optimizer.param_groups])
        scheduler.step()
    return np.array(seen)


def per_group(fn, steps):
    """The expected table: fn(step, base) for every step and group."""
    return np.array([[fn(e, base) for base in BASES] for e in range(steps)])


def test_the_new_schedules_are_part_of_lr_scheduler():
    from dlcore.optim import lr_scheduler_more

    for name in lr_scheduler_more.__all__:
        assert getattr(lr_scheduler, name) is getattr(lr_scheduler_more, name)
        assert name in lr_scheduler.__all__
        assert issubclass(getattr(lr_scheduler, name), lr_scheduler.LRScheduler)


# --------------------------------------------------------------------- warm restarts
def sgdr(eta_min, base, t_cur, t_i):
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_warm_restarts_with_fixed_cycles(eta_min):
    sched = CosineAnnealingWarmRestarts(make_optimizer(), T_0=5, eta_min=eta_min)
    want = per_group(lambda e, base: sgdr(eta_min, base, e % 5, 5), 23)
    np.testing.assert_allclose(lrs_over(sched, 23), want, rtol=1e-12, atol=1e-15)
    assert sched.last_epoch == 23 and sched.T_i == 5


def test_warm_restarts_with_growing_cycles():
    sched = CosineAnnealingWarmRestarts(make_optimizer(), T_0=3, T_mult=2, eta_min=0.001)
    table = [(t, length) for length in (3, 6, 12, 24) for t in range(length)]  # 45 epochs
    want = [[sgdr(0.001, base, t, length) for base in BASES] for t, length in table]
    np.testing.assert_allclose(lrs_over(sched, len(table)), want, rtol=1e-12)


def test_warm_restarts_fractional_epochs_as_in_pytorch_docs():
    sched = CosineAnnealingWarmRestarts(make_optimizer(), T_0=2, T_mult=2)
    iters = 4
    for epoch in range(14):
        for i in range(iters):
            x = epoch + i / iters
            sched.step(x)
            # cycles [0, 2), [2, 6), [6, 14)
            t_cur, t_i = (x, 2) if x < 2 else (x - 2, 4) if x < 6 else (x - 6, 8)
            got = [g["lr"] for g in sched.optimizer.param_groups]
            np.testing.assert_allclose(got, [sgdr(0.0, b, t_cur, t_i) for b in BASES],
                                       rtol=1e-12, atol=1e-15)
            assert sched.last_epoch == epoch
    # step(epoch) may also go back, and a plain step() continues from there
    sched.step(1.5)
    sched.step()
    assert sched.last_epoch == 2
    np.testing.assert_allclose(sched.get_last_lr()[0], sgdr(0.0, 0.1, 0.5, 4))  # cycle 2 is 4 long


def test_warm_restarts_jump_lands_exactly_on_restarts():
    # Cycles 1, 3, 9, 27, 81 start at epochs 0, 1, 4, 13, 40, 121; a logarithm would round
    # log3(243) down and miss the restart at 121.
    sched = CosineAnnealingWarmRestarts(make_optimizer(), T_0=1, T_mult=3, eta_min=0.0)
    for start, length in [(1, 3), (4, 9), (13, 27), (40, 81), (121, 243)]:
        sched.step(start)
        assert sched.get_last_lr() == pytest.approx(list(BASES), rel=1e-12)
        sched.step(start + length / 2)
        assert sched.get_last_lr() == pytest.approx([b / 2 for b in BASES], rel=1e-9)


def test_warm_restarts_resumed_take_the_closed_form():
    opt = make_optimizer()
    CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    opt.param_groups[0]["lr"] = 5.0  # whatever training left there
    resumed = CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, last_epoch=6)
    # epoch 7 on: cycle [6, 14) of length 8
    want = per_group(lambda e, base: sgdr(0.0, base, e + 1, 8), 6)
    np.testing.assert_allclose(lrs_over(resumed, 6), want, rtol=1e-12)


# --------------------------------------------------------------------- cyclic
def triangle(it, up, down):
    """How far up the cycle step ``it`` is (0 at the bottom, 1 at the peak), and which cycle
    (from 1) it is in: up linearly for ``up`` steps, down for ``down``."""
    position = it % (up + down)
    rise = position / up if position <= up else (up + down - position) / down
    return rise, it // (up + down) + 1


@pytest.mark.parametrize("mode, scale", [
    ("triangular", lambda cycle, it: 1.0),
    ("triangular2", lambda cycle, it: 0.5 ** (cycle - 1)),
    ("exp_range", lambda cycle, it: 0.97**it),
])
def test_cyclic_modes_with_momentum_on_sgd(mode, scale):
    opt = make_optimizer(momentum=0.5)
    sched = CyclicLR(opt, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=4,
                     step_size_down=2, mode=mode, gamma=0.97)
    lows, highs = (0.01, 0.02), (0.1, 0.3)
    lrs, momenta = [], []
    for _ in range(30):
        lrs.append([g["lr"] for g in opt.param_groups])
        momenta.append([g["momentum"] for g in opt.param_groups])
        sched.step()
    want_lrs, want_momenta = [], []
    for it in range(30):
        rise, cycle = triangle(it, 4, 2)
        amplitude = rise * scale(cycle, it)
        want_lrs.append([lo + (hi - lo) * amplitude for lo, hi in zip(lows, highs)])
        want_momenta.append([0.9 - (0.9 - 0.8) * amplitude] * 2)
    np.testing.assert_allclose(lrs, want_lrs, rtol=1e-12)
    np.testing.assert_allclose(momenta, want_momenta, rtol=1e-12)
    assert [g["base_momentum"] for g in opt.param_groups] == [0.8, 0.8]


def test_cyclic_default_down_equals_up_and_adam_cycles_beta1_only():
    opt = make_optimizer(cls=optim.Adam, betas=(0.9, 0.99))
    sched = CyclicLR(opt, base_lr=0.001, max_lr=0.01, step_size_up=3, base_momentum=0.85,
                     max_momentum=0.95)
    for it in range(13):
        rise, _ = triangle(it, 3, 3)
        for g in opt.param_groups:
            assert g["lr"] == pytest.approx(0.001 + 0.009 * rise, rel=1e-12)
            assert g["betas"][0] == pytest.approx(0.95 - 0.1 * rise, rel=1e-12)
            assert g["betas"][1] == 0.99
        sched.step()


@pytest.mark.parametrize("scale_mode", ["cycle", "iterations"])
def test_cyclic_custom_scale_fn(scale_mode):
    def scale(x):
        return 1 / (1 + x)

    opt = make_optimizer(cls=optim.Adagrad)
    sched = CyclicLR(opt, base_lr=0.0, max_lr=1.0, step_size_up=2, mode="not-used",
                     scale_fn=scale, scale_mode=scale_mode, cycle_momentum=False)
    for it in range(12):
        rise, cycle = triangle(it, 2, 2)
        x = cycle if scale_mode == "cycle" else it
        assert sched.get_last_lr() == pytest.approx([rise * scale(x)] * 2, abs=1e-15)
        sched.step()


def test_cyclic_drives_the_optimizer_with_cycled_momentum():
    p = nn.Parameter(np.zeros(1, np.float64))
    opt = optim.SGD([p], lr=123.0)  # no momentum of its own: the cycled one is used
    sched = CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2, base_momentum=0.5,
                     max_momentum=0.5)
    velocity, x = 0.0, 0.0
    for it in range(5):
        rise, _ = triangle(it, 2, 2)
        lr = 0.1 + 0.4 * rise
        assert opt.param_groups[0]["lr"] == pytest.approx(lr)
        p.grad = Tensor(np.ones(1, np.float64))
        opt.step()
        velocity = 0.5 * velocity + 1.0 if it else 1.0  # SGD: buf = momentum * buf + grad
        x -= lr * velocity
        sched.step()
    np.testing.assert_allclose(p.data, [x], rtol=1e-12)


# --------------------------------------------------------------------- simple factors
@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_polynomial_decays_to_zero_then_holds(power):
    sched = PolynomialLR(make_optimizer(), total_iters=6, power=power)
    want = per_group(lambda e, base: base * (1 - min(e, 6) / 6) ** power, 10)
    np.testing.assert_allclose(lrs_over(sched, 10), want, rtol=1e-12, atol=1e-15)


def test_polynomial_resumed_takes_the_closed_form():
    opt = make_optimizer()
    PolynomialLR(opt, total_iters=8, power=2.0)
    opt.param_groups[1]["lr"] = 9.0
    resumed = PolynomialLR(opt, total_iters=8, power=2.0, last_epoch=2)
    want = per_group(lambda e, base: base * (1 - min(e + 3, 8) / 8) ** 2, 8)
    np.testing.assert_allclose(lrs_over(resumed, 8), want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("factor", [0.5, 1 / 3, 0.0, 1.0])
def test_constant_factor_then_restored(factor):
    sched = ConstantLR(make_optimizer(), factor=factor, total_iters=4)
    want = per_group(lambda e, base: base * (factor if e < 4 else 1.0), 9)
    np.testing.assert_allclose(lrs_over(sched, 9), want, rtol=1e-12)


def test_multiplicative_per_group():
    sched = MultiplicativeLR(make_optimizer(), [lambda e: 0.9, lambda e: 1 / (e + 1)])
    got = lrs_over(sched, 8)
    want = [[0.1 * 0.9**e, 0.2 / math.factorial(e + 1)] for e in range(8)]  # prod 1/(k+1)
    np.testing.assert_allclose(got, want, rtol=1e-12)


# --------------------------------------------------------------------- combinations
def test_sequential_pytorch_docs_example():
    # PyTorch's example: lr 0.1, 0.1, then 0.9, 0.81, 0.729, ... (initial lr 1)
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    constant = ConstantLR(opt, factor=0.1, total_iters=2)
    exponential = ExponentialLR(opt, gamma=0.9)
    sched = SequentialLR(opt, schedulers=[constant, exponential], milestones=[2])
    want = [0.1, 0.1] + [0.9 ** (e - 2) for e in range(2, 10)]
    np.testing.assert_allclose(lrs_over(sched, 10)[:, 0], want, rtol=1e-12)
    assert sched.get_last_lr() == [pytest.approx(0.9**8)]


def test_sequential_warmup_then_cosine_then_warm_restarts():
    opt = make_optimizer()
    warmup = LinearLR(opt, start_factor=0.25, total_iters=3)
    cosine = CosineAnnealingLR(opt, T_max=4, eta_min=0.001)
    restarts = CosineAnnealingWarmRestarts(opt, T_0=3)
    sched = SequentialLR(opt, [warmup, cosine, restarts], milestones=[3, 8])

    def want(e, base):
        if e < 3:
            return base * (0.25 + 0.75 * e / 3)
        if e < 8:
            return 0.001 + (base - 0.001) * (1 + math.cos(math.pi * (e - 3) / 4)) / 2
        return sgdr(0.0, base, (e - 8) % 3, 3)

    np.testing.assert_allclose(lrs_over(sched, 16), per_group(want, 16), rtol=1e-12)


def test_sequential_restarts_a_schedule_without_closed_form_from_the_current_rate():
    # As in PyTorch: MultiplicativeLR has no closed form, so its epoch 0 keeps the rate the
    # previous schedule left (ConstantLR's reduced one, its total_iters never reached).
    opt = make_optimizer()
    sched = SequentialLR(opt, [ConstantLR(opt, factor=0.5, total_iters=4),
                               MultiplicativeLR(opt, lambda e: 0.9)], milestones=[2])
    want = per_group(lambda e, base: base * 0.5 * 0.9 ** max(e - 2, 0), 7)
    np.testing.assert_allclose(lrs_over(sched, 7), want, rtol=1e-12)


def test_chained_pytorch_docs_example():
    # PyTorch's example: 0.09, 0.081, 0.729, 0.6561, ... (initial lr 1): the factors multiply
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    sched = ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=2),
                              ExponentialLR(opt, gamma=0.9)])
    assert sched.optimizer is opt
    want = [0.9**e * (0.1 if e < 2 else 1.0) for e in range(8)]
    np.testing.assert_allclose(lrs_over(sched, 8)[:, 0], want, rtol=1e-12)
    assert sched.get_last_lr() == [pytest.approx(0.9**8)]


def test_chained_with_step_and_polynomial_per_group():
    opt = make_optimizer()
    sched = ChainedScheduler([StepLR(opt, step_size=3, gamma=0.5),
                              PolynomialLR(opt, total_iters=10, power=1.0)], optimizer=opt)
    want = per_group(lambda e, base: base * 0.5 ** (e // 3) * (1 - min(e, 10) / 10), 12)
    np.testing.assert_allclose(lrs_over(sched, 12), want, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------- state
class Halving:
    """A callable object: its attributes are part of the scheduler's state."""

    def __init__(self):
        self.factor = 0.5

    def __call__(self, x):
        return self.factor**x


def _sequential(opt):
    return SequentialLR(opt, [LinearLR(opt, 0.2, total_iters=3),
                              CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)], [3])


SCHEDULES = {
    "warm_restarts": lambda o: CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
    "cyclic": lambda o: CyclicLR(o, 0.01, 0.2, step_size_up=3, step_size_down=5),
    "cyclic_scale_object": lambda o: CyclicLR(o, 0.01, 0.2, 2, scale_fn=Halving()),
    "polynomial": lambda o: PolynomialLR(o, total_iters=12, power=2.0),
    "constant": lambda o: ConstantLR(o, factor=0.25, total_iters=9),
    "multiplicative": lambda o: MultiplicativeLR(o, lambda e: 0.95),
    "sequential": _sequential,
    "chained": lambda o: ChainedScheduler([ExponentialLR(o, 0.9), ConstantLR(o, 0.5, 9)]),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_state_dict_round_trip_mid_schedule(name):
    make = SCHEDULES[name]
    opt = make_optimizer(momentum=0.5)
    sched = make(opt)
    for _ in range(7):
        sched.step()
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    assert "optimizer" not in saved_sched
    for child in saved_sched.get("_schedulers", []):
        assert isinstance(child, dict) and "optimizer" not in child
    twin_opt = make_optimizer(momentum=0.5)
    twin = make(twin_opt)
    twin_opt.load_state_dict(saved_opt)
    twin.load_state_dict(saved_sched)
    assert twin.state_dict().keys() == saved_sched.keys()

    def trace(s):
        out = []
        for _ in range(15):
            out.append([(g["lr"], g["momentum"]) for g in s.optimizer.param_groups])
            s.step()
        return np.array(out)

    np.testing.assert_allclose(trace(twin), trace(sched), rtol=1e-12)


def test_cyclic_state_keeps_the_scale_objects_attributes():
    opt = make_optimizer(cls=optim.Adagrad)
    scale = Halving()
    sched = CyclicLR(opt, 0.0, 1.0, 2, scale_fn=scale, cycle_momentum=False)
    scale.factor = 0.25
    saved = sched.state_dict()
    assert saved["_scale_fn_custom"] == {"factor": 0.25}
    twin_scale = Halving()
    CyclicLR(make_optimizer(cls=optim.Adagrad), 0.0, 1.0, 2, scale_fn=twin_scale,
             cycle_momentum=False).load_state_dict(saved)
    assert twin_scale.factor == 0.25


# --------------------------------------------------------------------- fit
def _fit_model(lr=0.05):
    dlcore.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0, 2.0])).astype(np.float32)[:, None]
    model = nn.Sequential(nn.Linear(3, 1))
    model.compile(optim.SGD(model.parameters(), lr=lr, momentum=0.9), loss="mse")
    return model, x, y


def _spy_on_steps(opt):
    seen = []
    original_step = opt.step

    def spy():
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        original_step()

    opt.step = spy
    return seen


def test_fit_steps_cyclic_after_every_batch():
    model, x, y = _fit_model()
    opt = model._compiled.optimizer
    seen = _spy_on_steps(opt)
    sched = CyclicLR(opt, base_lr=0.01, max_lr=0.05, step_size_up=3)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                        callbacks=[LearningRateScheduler(sched)])
    want = []
    for it in range(12):
        rise, _ = triangle(it, 3, 3)
        want.append((0.01 + 0.04 * rise, 0.9 - 0.1 * rise))
    np.testing.assert_allclose(seen, want, rtol=1e-12)
    assert sched.last_epoch == 12
    assert history.history["lr"] == pytest.approx([want[3][0], want[7][0], want[11][0]])


def test_fit_steps_epoch_schedules_once_per_epoch():
    model, x, y = _fit_model(lr=0.04)
    opt = model._compiled.optimizer
    sched = SequentialLR(opt, [ConstantLR(opt, factor=0.5, total_iters=2),
                               CosineAnnealingWarmRestarts(opt, T_0=2)], milestones=[2])
    assert not sched.per_batch
    history = model.fit(x, y, epochs=6, batch_size=32, verbose=0,
                        callbacks=[LearningRateScheduler(sched)])
    want = [0.02, 0.02] + [sgdr(0.0, 0.04, (e - 2) % 2, 2) for e in range(2, 6)]
    assert history.history["lr"] == pytest.approx(want, rel=1e-12)
    chained = ChainedScheduler([ExponentialLR(opt, 0.9), CyclicLR(opt, 0.01, 0.02, 5)])
    assert chained.per_batch  # a per-batch schedule in the chain makes it per-batch
    assert not ChainedScheduler([StepLR(opt, 2)]).per_batch


# --------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("build, match", [
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=0), "T_0 must be a positive integer, got 0"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=2.5), "T_0"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), "T_mult"),
    (lambda o: CosineAnnealingWarmRestarts(o, 2, eta_min=float("nan")), "eta_min"),
    (lambda o: CosineAnnealingWarmRestarts(o, 2).step(-1), "epoch must be a non-negative"),
    (lambda o: CyclicLR(o, 0.1, 1.0, step_size_up=0), "step_size_up"),
    (lambda o: CyclicLR(o, 0.1, 1.0, step_size_down=-1), "step_size_down"),
    (lambda o: CyclicLR(o, 0.1, 1.0, mode="square"), "mode must be"),
    (lambda o: CyclicLR(o, 0.1, 1.0, scale_mode="epochs", scale_fn=abs), "scale_mode"),
    (lambda o: CyclicLR(o, 0.1, 1.0, mode="exp_range", gamma=0), "gamma"),
    (lambda o: CyclicLR(o, [0.1], 1.0), "expected 2 values of base_lr"),
    (lambda o: CyclicLR(o, 0.1, [1.0, 2.0, 3.0]), "expected 2 values of max_lr"),
    (lambda o: CyclicLR(o, 0.1, 1.0, base_momentum=[0.8]), "base_momentum"),
    (lambda o: CyclicLR(o, 0.1, float("inf")), "max_lr"),
    (lambda o: PolynomialLR(o, total_iters=0), "total_iters must be a positive integer"),
    (lambda o: PolynomialLR(o, power=-1.0), "power"),
    (lambda o: ConstantLR(o, factor=1.5), r"factor must be in \[0, 1\], got 1.5"),
    (lambda o: ConstantLR(o, total_iters=-2), "total_iters"),
    (lambda o: MultiplicativeLR(o, [lambda e: 1.0]), "expected 2 lr_lambdas"),
    (lambda o: SequentialLR(o, [], []), "schedulers is empty"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], []), "milestones has 0 entries"),
    (lambda o: SequentialLR(o, [StepLR(o, 2)] * 3, [4, 2]), "milestones must be ascending"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(make_optimizer(), 2)], [2]),
     r"schedulers\[1\] \(StepLR\) belongs to another optimizer"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), ReduceLROnPlateau(o)], [2]),
     r"schedulers\[1\] is a ReduceLROnPlateau"),
    (lambda o: ChainedScheduler([]), "schedulers is empty"),
    (lambda o: ChainedScheduler([StepLR(o, 2)], optimizer=make_optimizer()),
     "belongs to another optimizer"),
])
def test_bad_arguments_raise_value_error_naming_them(build, match):
    with pytest.raises(ValueError, match=match):
        build(make_optimizer())


def test_bad_argument_types():
    opt = make_optimizer(cls=optim.Adagrad)
    with pytest.raises(ValueError, match="Adagrad has neither.*cycle_momentum=False"):
        CyclicLR(opt, 0.1, 1.0)
    with pytest.raises(TypeError, match="lr_lambda must be a function"):
        MultiplicativeLR(opt, 0.9)
    with pytest.raises(TypeError, match=r"schedulers\[0\] is a str"):
        ChainedScheduler(["StepLR"], optimizer=opt)
    with pytest.raises(TypeError, match="not an Optimizer"):
        PolynomialLR("sgd")
