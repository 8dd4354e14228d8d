"""Learning-rate schedulers: scratch vs torch.optim.lr_scheduler rate for rate, state_dicts across twins, errors.

The rates are Python floats computed from the optimizer's groups, whatever the
parameters' dtype; both dtypes train under every scheduler in test_trajectory.py.
"""

import inspect
import math
import warnings

import numpy as np
import pytest
import torch

import scratch.lr_scheduler as ss
import scratch.optim as so
import torch_ref.lr_scheduler as ts
import torch_ref.optim as to
from scratch.module import Parameter

STEPS = 1000
CUT = 400  # where the resumed copies take over


def metric(k):
    """A loss that falls, stalls and jumps, so that ReduceLROnPlateau both waits and reduces."""
    return math.exp(-k / 150) + 0.05 * ((k * 7919) % 13) / 13 + (0.3 if 500 <= k < 520 else 0.0)


#: name → (optimizer, its arguments, scheduler given the module (scratch or torch side) and the optimizer)
SCHEDULES = {
    "StepLR": ("SGD", dict(lr=0.1, momentum=0.9), lambda m, o: m.StepLR(o, step_size=30, gamma=0.7)),
    "MultiStepLR": ("Adam", dict(lr=0.01), lambda m, o: m.MultiStepLR(o, milestones=[100, 250, 250, 600], gamma=0.5)),
    "ExponentialLR": ("SGD", dict(lr=0.1, momentum=0.9), lambda m, o: m.ExponentialLR(o, gamma=0.995)),
    "CosineAnnealingLR": ("SGD", dict(lr=0.1, momentum=0.9), lambda m, o: m.CosineAnnealingLR(o, T_max=300, eta_min=1e-3)),
    "LinearLR warm-up": ("Adam", dict(lr=0.01), lambda m, o: m.LinearLR(o, start_factor=0.05, total_iters=200)),
    "LinearLR decay": ("SGD", dict(lr=0.1, momentum=0.9), lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=800)),
    "OneCycleLR SGD momentum": ("SGD", dict(lr=0.1, momentum=0.9), lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS)),
    "OneCycleLR Adam beta1": (
        "Adam", dict(lr=1e-3),
        lambda m, o: m.OneCycleLR(o, max_lr=0.01, epochs=10, steps_per_epoch=100, anneal_strategy="linear",
                                  three_phase=True, base_momentum=0.8, max_momentum=0.9),
    ),
    "ReduceLROnPlateau": ("SGD", dict(lr=0.1, momentum=0.9), lambda m, o: m.ReduceLROnPlateau(o, factor=0.5, patience=5, cooldown=3, min_lr=[1e-3, 1e-2])),
    "ReduceLROnPlateau max abs": ("Adam", dict(lr=0.01), lambda m, o: m.ReduceLROnPlateau(o, mode="max", threshold_mode="abs", threshold=0.01, patience=10)),
    "SequentialLR warm-up then cosine": (
        "SGD", dict(lr=0.1, momentum=0.9),
        lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=50), m.CosineAnnealingLR(o, T_max=950)], milestones=[50]),
    ),
    "SequentialLR three schedules": (
        "Adam", dict(lr=0.01),
        lambda m, o: m.SequentialLR(o, [m.LinearLR(o, 0.2, total_iters=100), m.StepLR(o, 100, 0.5), m.ExponentialLR(o, 0.99)], milestones=[100, 500]),
    ),
}


def make(side, config):
    """Optimizer (two parameter groups, the second at 3× the rate) and scheduler on one side."""
    name, kw, factory = SCHEDULES[config]
    optim, module, param = (so, ss, lambda: Parameter(np.zeros(2))) if side == "scratch" else (
        to, ts, lambda: torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)))
    opt = getattr(optim, name)([{"params": [param()]}, {"params": [param()], "lr": 3 * kw["lr"]}], **kw)
    return opt, factory(module, opt)


def step(opt, scheduler, k):
    opt.step()
    if isinstance(scheduler, (ss.ReduceLROnPlateau, ts.ReduceLROnPlateau)):
        scheduler.step(-metric(k) if scheduler.mode == "max" else metric(k))
    else:
        scheduler.step()


def rates(opt, scheduler):
    """Every number a scheduler sets: lr and, for OneCycleLR, momentum or β₁, per group; and get_last_lr()."""
    out = []
    for g in opt.param_groups:
        out += [g["lr"], g.get("momentum", 0.0), g["betas"][0] if "betas" in g else 0.0]
    return np.array(out + list(scheduler.get_last_lr()), dtype=np.float64)


def worst_relative(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)))


def assert_same_state(concept, scratch_state, torch_state):
    """Same keys as torch's (less its internal flag) and the same values."""
    expected = {k: v for k, v in torch_state.items() if k not in ss.TORCH_ONLY_STATE}
    assert scratch_state.keys() == expected.keys(), f"[{concept}] {sorted(scratch_state)} vs torch {sorted(expected)}"
    for k, v in expected.items():
        if k == "_schedulers":
            for i, (a, b) in enumerate(zip(scratch_state[k], v)):
                assert_same_state(f"{concept} scheduler {i}", a, b)
        else:
            assert scratch_state[k] == v, f"[{concept}] {k}: {scratch_state[k]!r} vs torch {v!r}"


@pytest.mark.parametrize("config", list(SCHEDULES))
def test_rates_over_1000_steps_match_torch_and_resume_across_twins(config):
    """1,000 steps: every lr (and momentum/β₁) equal to torch's to 1e-15 relative after each step; at step
    400 the state_dicts agree key by key, and a fresh scratch pair loaded from *torch's* optimizer and
    scheduler state, and a fresh torch pair loaded from scratch's, continue the schedule identically."""
    s_opt, s_sched = make("scratch", config)
    t_opt, t_sched = make("torch", config)
    pairs = [("scratch", s_opt, s_sched, t_opt, t_sched)]
    worst = worst_relative(rates(s_opt, s_sched), rates(t_opt, t_sched))
    for k in range(STEPS):
        if k == CUT:
            assert_same_state(config, s_sched.state_dict(), t_sched.state_dict())
            s2_opt, s2_sched = make("scratch", config)  # built as at the start, then loaded: torch's recipe
            t2_opt, t2_sched = make("torch", config)
            s2_opt.load_state_dict(t_opt.state_dict())
            s2_sched.load_state_dict(t_sched.state_dict())
            t2_opt.load_state_dict(to.state_dict_to_torch(s_opt.state_dict(), t2_opt))
            t2_sched.load_state_dict(s_sched.state_dict())
            pairs += [("scratch resumed from torch", s2_opt, s2_sched, t_opt, t_sched),
                      ("torch resumed from scratch", t2_opt, t2_sched, t_opt, t_sched)]
        for _, opt, sched, _, _ in pairs:
            step(opt, sched, k)
        step(t_opt, t_sched, k)
        for label, opt, sched, ref_opt, ref_sched in pairs:
            err = worst_relative(rates(opt, sched), rates(ref_opt, ref_sched))
            assert err <= 1e-15, f"[{config}] {label}, step {k + 1}: relative error {err:.2e}"
            worst = max(worst, err)
    assert len(pairs) == 3
    print(f"\n{config}: worst relative error of lr/momentum over {STEPS} steps: {worst:.1e}")


def test_same_arguments_and_defaults_as_torch():
    """Every constructor argument of the scratch twin is torch's, in torch's order, with torch's default."""
    for name in ss.__all__:
        ours = list(inspect.signature(getattr(ss, name)).parameters.values())
        theirs = list(inspect.signature(getattr(ts, name)).parameters.values())
        assert [p.name for p in ours] == [p.name for p in theirs], name
        assert [p.default for p in ours] == [p.default for p in theirs], name


def test_every_schedule_changes_the_rate():
    """The table exercises each scheduler: the rate of group 0 takes more than two values over the run."""
    for config in SCHEDULES:
        opt, sched = make("scratch", config)
        seen = set()
        for k in range(STEPS):
            step(opt, sched, k)
            seen.add(opt.param_groups[0]["lr"])
        assert len(seen) > 2, (config, seen)


def test_known_values():
    p = Parameter(np.zeros(1))
    # StepLR: η₀·γ^⌊t/s⌋, and construction already set step 0 and initial_lr
    opt = so.SGD([p], lr=1.0)
    sched = ss.StepLR(opt, step_size=3, gamma=0.5)
    assert sched.last_epoch == 0 and opt.param_groups[0]["initial_lr"] == 1.0 and sched.base_lrs == [1.0]
    seen = []
    for _ in range(7):
        opt.step(), sched.step()
        seen.append(sched.get_last_lr()[0])
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    # CosineAnnealingLR's recursion stays on the closed form η_min + (η₀ − η_min)(1 + cos(πt/T))/2 to round-off
    opt = so.SGD([p], lr=0.1)
    sched = ss.CosineAnnealingLR(opt, T_max=100, eta_min=0.001)
    for t in range(1, 101):
        opt.step(), sched.step()
        assert math.isclose(sched.get_last_lr()[0], 0.001 + 0.099 * (1 + math.cos(math.pi * t / 100)) / 2, rel_tol=1e-12)
    assert math.isclose(sched.get_last_lr()[0], 0.001, rel_tol=1e-12)
    # OneCycleLR: starts at max_lr/div_factor with max momentum, peaks at max_lr with base momentum,
    # ends at initial/final_div_factor
    opt = so.SGD([p], lr=0.1, momentum=0.9)
    sched = ss.OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.25)
    assert math.isclose(opt.param_groups[0]["lr"], 1.0 / 25, rel_tol=1e-12) and opt.param_groups[0]["momentum"] == 0.95
    for _ in range(24):
        opt.step(), sched.step()
    assert opt.param_groups[0]["lr"] == 1.0 and opt.param_groups[0]["momentum"] == 0.85
    for _ in range(75):
        opt.step(), sched.step()
    assert math.isclose(opt.param_groups[0]["lr"], 1.0 / 25 / 1e4, rel_tol=1e-9)
    # SequentialLR: warm-up from 0.1·η₀ to η₀ in 4 steps, then the cosine restarts at η₀
    opt = so.SGD([p], lr=1.0)
    sched = ss.SequentialLR(opt, [ss.LinearLR(opt, 0.1, total_iters=4), ss.CosineAnnealingLR(opt, T_max=2)], milestones=[4])
    seen = [opt.param_groups[0]["lr"]]
    for _ in range(6):
        opt.step(), sched.step()
        seen.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(seen, [0.1, 0.325, 0.55, 0.775, 1.0, 0.5, 0.0], rtol=1e-12, atol=1e-15)
    # ReduceLROnPlateau: patience 2 → the third step without improvement halves the rate
    opt = so.SGD([p], lr=1.0)
    sched = ss.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    for loss in [1.0, 1.0, 1.0, 1.0, 0.5]:
        sched.step(loss)
    assert sched.get_last_lr() == [0.5] and sched.best == 0.5 and sched.num_bad_epochs == 0


def test_step_before_optimizer_step_warns_like_torch():
    for optim, sched in [(so, ss), (to, ts)]:
        p = Parameter(np.zeros(1)) if optim is so else torch.nn.Parameter(torch.zeros(1))
        opt = optim.SGD([p], lr=0.1)
        scheduler = sched.StepLR(opt, step_size=2)
        with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
            scheduler.step()
        opt = optim.SGD([p], lr=0.1)
        scheduler = sched.StepLR(opt, step_size=2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            opt.step()
            scheduler.step()


def _both_raise(error, pattern, torch_call, scratch_call):
    """torch and scratch raise the same type, and ``pattern`` matches both messages."""
    with pytest.raises(error, match=pattern):
        torch_call()
    with pytest.raises(error, match=pattern):
        scratch_call()


def test_bad_input():
    sp, tp = Parameter(np.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    s_sgd, t_sgd = (lambda: so.SGD([sp], lr=0.1, momentum=0.9)), (lambda: to.SGD([tp], lr=0.1, momentum=0.9))
    # an optimizer of the other twin, or no optimizer at all
    _both_raise(TypeError, "^list is not an Optimizer", lambda: ts.StepLR([tp], 3), lambda: ss.StepLR([sp], 3))
    with pytest.raises(TypeError, match="SGD is not an Optimizer: CosineAnnealingLR expects a scratch.optim.Optimizer; "
                                        "a torch optimizer takes torch's schedulers"):
        ss.CosineAnnealingLR(t_sgd(), T_max=10)
    with pytest.raises(TypeError, match="SGD is not an Optimizer"):
        ts.CosineAnnealingLR(s_sgd(), T_max=10)
    for cls in (ss.OneCycleLR, ss.ReduceLROnPlateau):
        with pytest.raises(TypeError, match="is not an Optimizer"):
            cls(t_sgd(), 1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'step'"):
        ss.StepLR(s_sgd(), step=3)
    # OneCycleLR stepped past its total steps
    for optim, sched in [(so, ss), (to, ts)]:
        opt = s_sgd() if optim is so else t_sgd()
        scheduler = sched.OneCycleLR(opt, max_lr=1.0, total_steps=10)
        for _ in range(10):
            opt.step(), scheduler.step()
        with pytest.raises(ValueError, match="^Tried to step 11 times. The specified number of total steps is 10$"):
            opt.step(), scheduler.step()
    # OneCycleLR's other checks, with torch's messages
    adagrad = (lambda: to.Adagrad([tp])), (lambda: so.Adagrad([sp]))
    _both_raise(ValueError, "optimizer must support momentum or beta1 with `cycle_momentum` option enabled",
                lambda: ts.OneCycleLR(adagrad[0](), 1.0, 10), lambda: ss.OneCycleLR(adagrad[1](), 1.0, 10))
    for kw, pattern in [
        (dict(total_steps=0), "Expected positive integer total_steps, but got 0"),
        (dict(epochs=2), r"You must define either total_steps OR \(epochs AND steps_per_epoch\)"),
        (dict(epochs=2, steps_per_epoch=2.5), "Expected positive integer steps_per_epoch, but got 2.5"),
        (dict(total_steps=10, pct_start=1), "Expected float between 0 and 1 pct_start, but got 1"),
        (dict(total_steps=10, anneal_strategy="exp"), "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
        (dict(total_steps=10, max_lr=[1.0, 2.0]), "max_lr must have the same length as optimizer.param_groups. max_lr has 2 values"),
    ]:
        kw = {"max_lr": 1.0, **kw}
        _both_raise(ValueError, pattern, lambda: ts.OneCycleLR(t_sgd(), **kw), lambda: ss.OneCycleLR(s_sgd(), **kw))
    # factors and modes
    for factory, pattern in [
        (lambda m, o: m.LinearLR(o, start_factor=0), "Starting multiplicative factor expected to be greater than 0"),
        (lambda m, o: m.LinearLR(o, end_factor=1.5), "Ending multiplicative factor expected to be between 0 and 1"),
        (lambda m, o: m.ReduceLROnPlateau(o, factor=1.0), r"Factor should be < 1.0"),
        (lambda m, o: m.ReduceLROnPlateau(o, mode="avg"), "mode avg is unknown!"),
        (lambda m, o: m.ReduceLROnPlateau(o, threshold_mode="pct"), "threshold mode pct is unknown!"),
        (lambda m, o: m.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), "expected 1 min_lrs, got 2"),
    ]:
        _both_raise(ValueError, pattern, lambda: factory(ts, t_sgd()), lambda: factory(ss, s_sgd()))
    # resuming (last_epoch ≥ 0) without the optimizer's state
    _both_raise(KeyError, r"param 'initial_lr' is not specified in param_groups\[0\] when resuming scheduler",
                lambda: ts.StepLR(t_sgd(), 3, last_epoch=5), lambda: ss.StepLR(s_sgd(), 3, last_epoch=5))
    # milestones not increasing: torch documents it but accepts them; here they raise
    ts.MultiStepLR(t_sgd(), milestones=[30, 10])
    with pytest.raises(ValueError, match=r"MultiStepLR: milestones must be increasing, got \[30, 10\]"):
        ss.MultiStepLR(s_sgd(), milestones=[30, 10])
    opt = s_sgd()
    with pytest.raises(ValueError, match=r"SequentialLR: milestones must be strictly increasing, got \[20, 20\]"):
        ss.SequentialLR(opt, [ss.StepLR(opt, 3), ss.StepLR(opt, 3), ss.StepLR(opt, 3)], milestones=[20, 20])
    # SequentialLR's own checks, with torch's messages
    for make_scheds, milestones, error, pattern in [
        (lambda m, o, other: [m.StepLR(other, 3), m.StepLR(o, 3)], [5], ValueError,
         "expects all schedulers to belong to the same optimizer, but got scheduler StepLR at index 0"),
        (lambda m, o, other: [m.StepLR(o, 3), m.ReduceLROnPlateau(o)], [5], ValueError,
         "does not support `ReduceLROnPlateau` scheduler"),
        (lambda m, o, other: [m.StepLR(o, 3), m.StepLR(o, 4)], [5, 6], ValueError,
         "expects number of schedulers provided to be one more than the number of milestone points"),
        (lambda m, o, other: [], [], ValueError, "expects at least one scheduler"),
        (lambda m, o, other: [3], [], TypeError, "at index 0 should have `optimizer` as its attribute"),
    ]:
        def call(m, new):
            o, other = new(), new()
            return m.SequentialLR(o, make_scheds(m, o, other), milestones)
        _both_raise(error, pattern, lambda: call(ts, t_sgd), lambda: call(ss, s_sgd))
    # a state saved by another scheduler: torch takes it silently, scratch names the odd keys
    state = ss.StepLR(s_sgd(), 3).state_dict()
    with pytest.raises(KeyError, match=r"CosineAnnealingLR.load_state_dict: unexpected keys \['gamma', 'step_size'\]"):
        ss.CosineAnnealingLR(s_sgd(), T_max=5).load_state_dict(state)
