"""dlcore.optim.lr_scheduler against PyTorch's documented schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlcore import Tensor, nn, optim
from dlcore.optim import lr_scheduler


def make_optimizer(lr=0.1, groups=1, cls=optim.SGD):
    params = [nn.Parameter(np.zeros(2, np.float32)) for _ in range(groups)]
    return cls([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(params)])


def lrs_over(scheduler, epochs):
    """The learning rate of each epoch 0..epochs-1 (epoch 0 is the one after construction)."""
    seen = []
    for _ in range(epochs):
        seen.append([g["lr"] for g in scheduler.optimizer.param_groups])
        scheduler.step()
    return np.array(seen)


def test_step_lr():
    opt = make_optimizer(groups=2)
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    got = lrs_over(sched, 10)
    want = [[0.1 * 0.5 ** (e // 3), 0.2 * 0.5 ** (e // 3)] for e in range(10)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]


def test_exponential_lr():
    sched = lr_scheduler.ExponentialLR(make_optimizer(), gamma=0.9)
    np.testing.assert_allclose(lrs_over(sched, 20)[:, 0], 0.1 * 0.9 ** np.arange(20), rtol=1e-12)


@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosine_annealing_follows_the_closed_form(eta_min):
    sched = lr_scheduler.CosineAnnealingLR(make_optimizer(), T_max=10, eta_min=eta_min)
    got = lrs_over(sched, 45)[:, 0]
    epochs = np.arange(45)
    want = eta_min + (0.1 - eta_min) * (1 + np.cos(np.pi * epochs / 10)) / 2
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert abs(got[10] - eta_min) < 1e-12 and abs(got[20] - 0.1) < 1e-9


def test_multi_step_lr_decays_at_each_milestone_counting_repeats():
    opt = make_optimizer(groups=2)
    sched = lr_scheduler.MultiStepLR(opt, milestones=[5, 2, 5], gamma=0.5)
    want = [[0.1 * 0.5 ** (int(e >= 2) + 2 * int(e >= 5)) * (g + 1) for g in range(2)]
            for e in range(8)]
    np.testing.assert_allclose(lrs_over(sched, 8), want, rtol=1e-12)


@pytest.mark.parametrize("start, end, total", [(0.1, 1.0, 5), (1.0, 0.0, 4), (0.5, 0.75, 1)])
def test_linear_lr_ramps_then_holds(start, end, total):
    opt = make_optimizer()
    sched = lr_scheduler.LinearLR(opt, start_factor=start, end_factor=end, total_iters=total)
    want = [[0.1 * (start + (end - start) * min(e, total) / total)] for e in range(total + 4)]
    np.testing.assert_allclose(lrs_over(sched, total + 4), want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("make, closed_form", [
    (lambda o, last: lr_scheduler.MultiStepLR(o, [2, 4], 0.1, last_epoch=last),
     lambda e: 0.1 * 0.1 ** ((e >= 2) + (e >= 4))),
    (lambda o, last: lr_scheduler.LinearLR(o, 0.25, 1.0, 6, last_epoch=last),
     lambda e: 0.1 * (0.25 + 0.75 * min(e, 6) / 6)),
])
def test_resumed_schedules_take_the_closed_form(make, closed_form):
    opt = make_optimizer()
    make(opt, -1)
    opt.param_groups[0]["lr"] = 123.0  # whatever training left there
    resumed = make(opt, 2)
    assert resumed.last_epoch == 3
    np.testing.assert_allclose(lrs_over(resumed, 5)[:, 0], [closed_form(e) for e in range(3, 8)],
                               rtol=1e-12)


def test_lambda_lr_per_group():
    opt = make_optimizer(groups=2)
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 0.95 ** e, lambda e: 1 / (e + 1)])
    got = lrs_over(sched, 8)
    e = np.arange(8)
    np.testing.assert_allclose(got, np.stack([0.1 * 0.95 ** e, 0.2 / (e + 1)], 1), rtol=1e-12)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])


def test_schedules_chain():
    opt = make_optimizer()
    step = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    expo = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    seen = []
    for _ in range(6):
        seen.append(opt.param_groups[0]["lr"])
        step.step()
        expo.step()
    e = np.arange(6)
    np.testing.assert_allclose(seen, 0.1 * 0.1 ** (e // 2) * 0.9 ** e, rtol=1e-12)


def test_the_optimizer_uses_the_scheduled_rate():
    p = nn.Parameter(np.zeros(1, np.float32))
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = Tensor(np.ones(1, np.float32))
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.data, [-(1 + 0.5 + 0.25)])


@pytest.mark.parametrize("make", [
    lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    lambda o: lr_scheduler.ExponentialLR(o, gamma=0.8),
    lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)),
    lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 6, 6], gamma=0.5),
    lambda o: lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=8),
    lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=20),
])
def test_state_dict_round_trip(make):
    opt = make_optimizer()
    sched = make(opt)
    for _ in range(5):
        sched.step()
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    assert "optimizer" not in saved_sched
    twin_opt = make_optimizer(lr=0.7)
    twin_opt.load_state_dict(saved_opt)
    twin = make(twin_opt)
    twin.load_state_dict(saved_sched)
    twin_opt.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    np.testing.assert_allclose(lrs_over(twin, 10), lrs_over(sched, 10), rtol=1e-12)


def test_resuming_needs_initial_lr():
    opt = make_optimizer()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)
    lr_scheduler.StepLR(opt, step_size=2)
    resumed = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1, last_epoch=4)
    assert resumed.last_epoch == 5


def plateau_lrs(sched, metrics):
    out = []
    for m in metrics:
        sched.step(m)
        out.append(sched.optimizer.param_groups[0]["lr"])
    return out


def test_reduce_on_plateau_waits_patience_then_cools_down():
    opt = make_optimizer(lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1)
    # Improves twice, then stalls: the 3rd bad epoch (> patience) halves the lr, one cooldown
    # epoch is not counted, then three more bad epochs halve it again.
    got = plateau_lrs(sched, [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    assert got == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert sched.get_last_lr() == [0.25]


def test_reduce_on_plateau_threshold_modes_and_max():
    opt = make_optimizer(lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=0, threshold=0.1,
                                           threshold_mode="abs", min_lr=0.3)
    # In 'max'/'abs' mode an improvement must exceed best + 0.1.
    got = plateau_lrs(sched, [0.5, 0.65, 0.7, 0.9, 0.95, 0.96])
    assert got == [1.0, 1.0, 0.5, 0.5, 0.3, 0.3]
    opt = make_optimizer(lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, threshold=0.1)
    # 'min'/'rel': better means below best * 0.9.
    assert plateau_lrs(sched, [1.0, 0.95, 0.8]) == [1.0, 0.1, 0.1]


def test_reduce_on_plateau_state_dict_and_errors():
    opt = make_optimizer(lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    plateau_lrs(sched, [1.0, 1.0])
    twin = lr_scheduler.ReduceLROnPlateau(make_optimizer(lr=1.0), patience=5)
    twin.load_state_dict(sched.state_dict())
    assert twin.patience == 1 and twin.num_bad_epochs == 1 and twin.best == 1.0
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode sideways is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="sideways")
    with pytest.raises(ValueError, match="expected 1 min_lrs, got 2"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)


def test_invalid_schedule_arguments():
    opt = make_optimizer()
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    for bad in (3, [0, 2], [1.5]):
        with pytest.raises(ValueError, match="Invalid milestones"):
            lr_scheduler.MultiStepLR(opt, milestones=bad)
    with pytest.raises(ValueError, match="start_factor"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="end_factor"):
        lr_scheduler.LinearLR(opt, end_factor=1.5)
    with pytest.raises(ValueError, match="total_iters"):
        lr_scheduler.LinearLR(opt, total_iters=0)
    assert math.isclose(opt.param_groups[0]["lr"], 0.1)


def one_cycle_run(scheduler, steps):
    """(lr, momentum) of group 0 at each of ``steps`` steps, stepping between them."""
    seen = []
    for i in range(steps):
        group = scheduler.optimizer.param_groups[0]
        momentum = group["betas"][0] if "betas" in group else group["momentum"]
        seen.append((group["lr"], momentum))
        if i < steps - 1:
            scheduler.step()
    return np.array(seen)


def test_one_cycle_climbs_then_anneals_with_momentum_opposite():
    opt = make_optimizer(cls=lambda groups: optim.SGD(groups, momentum=0.9))
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    got = one_cycle_run(sched, 10)
    # PyTorch 2's OneCycleLR gives these rates for the same arguments.
    np.testing.assert_allclose(got[:, 0], [0.04, 0.52, 1.0, 0.95048463, 0.81174565, 0.61126202,
                                           0.38874198, 0.18825835, 0.049519368, 4e-6],
                               rtol=1e-7)
    np.testing.assert_allclose(got[[0, 2, 9], 1], [0.95, 0.85, 0.95])
    assert np.all(np.diff(got[:3, 1]) < 0) and np.all(np.diff(got[2:, 1]) > 0)
    sched9 = lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=9)
    for _ in range(9):
        sched9.step()
    with pytest.raises(ValueError, match="stepped 10 times, but total_steps is 9"):
        sched9.step()


def test_one_cycle_three_phase_linear_on_adam_cycles_beta1_only():
    opt = make_optimizer(lr=0.5, groups=2, cls=optim.Adam)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=[0.01, 0.02], epochs=2, steps_per_epoch=10,
                                    anneal_strategy="linear", three_phase=True, pct_start=0.25,
                                    div_factor=10.0, final_div_factor=100.0)
    got = one_cycle_run(sched, 20)
    # Up over steps 0..4, back down over 4..8, then to initial/100 at step 19; linear.
    np.testing.assert_allclose(got[:9, 0], [0.001, 0.00325, 0.0055, 0.00775, 0.01, 0.00775,
                                            0.0055, 0.00325, 0.001], rtol=1e-12)
    np.testing.assert_allclose(got[19, 0], 1e-5, rtol=1e-12)
    np.testing.assert_allclose(np.diff(got[8:, 0]), np.full(11, (1e-5 - 0.001) / 11),
                               rtol=1e-9)
    np.testing.assert_allclose(opt.param_groups[1]["lr"], 2e-5, rtol=1e-12)
    np.testing.assert_allclose(got[[0, 4, 8, 19], 1], [0.95, 0.85, 0.95, 0.95], rtol=1e-12)
    assert all(g["betas"][1] == 0.999 for g in opt.param_groups)


def test_one_cycle_drives_the_optimizer_steps():
    p = nn.Parameter(np.zeros(1, np.float32))
    opt = optim.SGD([p], lr=123.0)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=4, cycle_momentum=True)
    expected = 0.0
    for _ in range(4):
        lr, momentum = opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]
        assert momentum > 0  # SGD without momentum gets the cycled one, as in PyTorch
        p.grad = Tensor(np.ones(1, np.float32))
        opt.step()
        expected -= lr
        if sched.last_epoch < 3:
            sched.step()
    assert p.data[0] < expected  # momentum made the steps longer than the rates alone


def test_one_cycle_bad_arguments():
    with pytest.raises(ValueError, match="total_steps, or epochs and steps_per_epoch"):
        lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, epochs=3)
    with pytest.raises(ValueError, match="total_steps must be a positive int"):
        lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=5, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(make_optimizer(), 1.0, 5, anneal_strategy="exp")
    with pytest.raises(ValueError, match="expected 2 values of max_lr"):
        lr_scheduler.OneCycleLR(make_optimizer(groups=2), max_lr=[1.0], total_steps=5)
    with pytest.raises(ValueError, match="Adagrad has neither.*cycle_momentum=False"):
        lr_scheduler.OneCycleLR(make_optimizer(cls=optim.Adagrad), max_lr=1.0, total_steps=5)
    sched = lr_scheduler.OneCycleLR(make_optimizer(cls=optim.Adagrad), max_lr=1.0,
                                    total_steps=5, cycle_momentum=False)
    assert sched.get_last_lr() == [pytest.approx(0.04)]
