"""Optimizers: scratch vs torch.optim update by update, state_dict layout, resuming, bad input."""

import inspect
import math

import numpy as np
import pytest
import torch

import scratch.optim as so
import torch_ref.optim as to
from parity_tests.harness import DTYPES, compare
from scratch.module import Parameter

#: Every optimizer configuration the suite proves; test_trajectory uses the same table.
CONFIGS = {
    "SGD": ("SGD", dict(lr=0.5)),
    "SGD momentum": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1)),
    "SGD nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "SGD weight decay": ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.01)),
    "RMSprop": ("RMSprop", dict(lr=0.01)),
    "RMSprop centered": ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.01)),
    "RMSprop momentum": ("RMSprop", dict(lr=0.005, momentum=0.9, alpha=0.9)),
    "Adam": ("Adam", dict(lr=0.01, weight_decay=0.01)),
    "Adam amsgrad": ("Adam", dict(lr=0.01, betas=(0.8, 0.95), amsgrad=True)),
    "AdamW": ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    "Adagrad": ("Adagrad", dict(lr=0.1)),
    "Adagrad decay": ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-8)),
}
#: State each torch optimizer keeps per parameter, for the configurations above.
STATE_KEYS = {
    "SGD": set(),
    "SGD momentum": {"momentum_buffer"},
    "SGD nesterov": {"momentum_buffer"},
    "SGD weight decay": {"momentum_buffer"},
    "RMSprop": {"step", "square_avg"},
    "RMSprop centered": {"step", "square_avg", "grad_avg"},
    "RMSprop momentum": {"step", "square_avg", "momentum_buffer"},
    "Adam": {"step", "exp_avg", "exp_avg_sq"},
    "Adam amsgrad": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "AdamW": {"step", "exp_avg", "exp_avg_sq"},
    "Adagrad": {"step", "sum"},
    "Adagrad decay": {"step", "sum"},
}
TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=1e-6)}


def make_pair(config, arrays):
    """Scratch and torch optimizers with the same hyper-parameters over copies of ``arrays``."""
    name, kw = CONFIGS[config]
    sp = [Parameter(a) for a in arrays]
    tp = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    return sp, getattr(so, name)(sp, **kw), tp, getattr(to, name)(tp, **kw)


def set_grads(sp, tp, grads):
    for p, q, g in zip(sp, tp, grads):
        p.grad = None if g is None else g.copy()
        q.grad = None if g is None else torch.from_numpy(g.copy())


def compare_state(concept, sopt, topt, **tol):
    s, t = sopt.state_dict()["state"], to.state_dict_from_torch(topt.state_dict())["state"]
    assert sorted(s) == sorted(t), f"[{concept}] state indices {sorted(s)} vs torch {sorted(t)}"
    for i in s:
        assert set(s[i]) == set(t[i]), f"[{concept}] state keys of param {i}: {set(s[i])} vs torch {set(t[i])}"
        for k in s[i]:
            compare(concept, f"state[{i}][{k!r}]", np.asarray(s[i][k]), np.asarray(t[i][k]), **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", list(CONFIGS))
def test_updates_and_state_match_torch(config, dtype):
    """30 steps on random gradients (one parameter sometimes without one): parameters and state agree after each."""
    rng = np.random.default_rng(abs(hash(config)) % 2**32)
    arrays = [rng.standard_normal((6, 4)).astype(dtype), rng.standard_normal(4).astype(dtype)]
    sp, sopt, tp, topt = make_pair(config, arrays)
    tol = TOL[dtype]
    for k in range(30):
        grads = [rng.standard_normal(a.shape).astype(dtype) * 10.0 ** rng.uniform(-3, 1) for a in arrays]
        if k % 7 == 3:
            grads[1] = None  # torch skips a parameter whose grad is None: no update, no state change
        set_grads(sp, tp, grads)
        before = [p.data for p in sp]
        sopt.step()
        topt.step()
        assert all(p.data is b for p, b in zip(sp, before)), "step must update .data in place"
        for i, (p, q) in enumerate(zip(sp, tp)):
            compare(f"{config} step {k + 1}", f"param {i}", p.data, q, **tol)
            if grads[i] is not None:
                np.testing.assert_array_equal(p.grad, grads[i])  # gradients are read, never written
        compare_state(f"{config} step {k + 1}", sopt, topt, **tol)
    assert set(sopt.state_dict()["state"].get(0, {})) == STATE_KEYS[config]


@pytest.mark.parametrize("config", list(CONFIGS))
def test_state_dict_layout_and_resume(config):
    """Same layout as torch's state_dict. Resuming from a saved state continues the run:
    exactly on the same side, and within parity tolerance on the other side (scratch → torch, torch → scratch)."""
    rng = np.random.default_rng(11)
    arrays = [rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal(2)]
    sp, sopt, tp, topt = make_pair(config, arrays)
    grads = lambda: [rng.standard_normal(a.shape) for a in arrays]
    for _ in range(5):
        set_grads(sp, tp, grads())
        sopt.step(), topt.step()
    s_sd, t_sd = sopt.state_dict(), topt.state_dict()
    assert sorted(s_sd) == sorted(t_sd) == ["param_groups", "state"]
    (sg,), (tg,) = s_sd["param_groups"], t_sd["param_groups"]
    assert sg["params"] == tg["params"] == [0, 1, 2]
    for key, value in sg.items():  # every scratch hyper-parameter is torch's, with torch's value
        assert tg[key] == value, (key, value, tg[key])
    assert sorted(s_sd["state"]) == sorted(t_sd["state"])
    for i in s_sd["state"]:
        assert s_sd["state"][i].keys() == t_sd["state"][i].keys()
        if "step" in s_sd["state"][i]:
            assert s_sd["state"][i]["step"] == float(t_sd["state"][i]["step"]) == 5.0

    # fresh optimizers over copies of the current parameters, resumed from a saved state
    name, kw = CONFIGS[config]
    s_same = [Parameter(p.data) for p in sp]  # scratch, from scratch's state
    s_same_opt = getattr(so, name)(s_same, **kw)
    s_same_opt.load_state_dict(s_sd)
    t_from_s = [torch.nn.Parameter(torch.from_numpy(p.data.copy())) for p in sp]  # torch, from scratch's state
    t_from_s_opt = getattr(to, name)(t_from_s, **kw)
    t_from_s_opt.load_state_dict(to.state_dict_to_torch(s_sd, t_from_s_opt))
    s_from_t = [Parameter(q.detach().numpy()) for q in tp]  # scratch, from torch's state (loaded directly)
    s_from_t_opt = getattr(so, name)(s_from_t, **kw)
    s_from_t_opt.load_state_dict(t_sd)
    for k in range(5):
        g = grads()
        for params in (sp, s_same, s_from_t):
            for p, gi in zip(params, g):
                p.grad = gi.copy()
        for params in (tp, t_from_s):
            for p, gi in zip(params, g):
                p.grad = torch.from_numpy(gi.copy())
        for opt in (sopt, s_same_opt, s_from_t_opt, topt, t_from_s_opt):
            opt.step()
        for i in range(3):
            np.testing.assert_array_equal(s_same[i].data, sp[i].data)
            compare(f"{config} torch resumed from scratch, step {k}", f"param {i}", sp[i].data, t_from_s[i], rtol=1e-12, atol=1e-14)
            compare(f"{config} scratch resumed from torch, step {k}", f"param {i}", s_from_t[i].data, tp[i], rtol=1e-12, atol=1e-14)
    compare_state(f"{config} after resuming", s_from_t_opt, topt, rtol=1e-12, atol=1e-14)


def test_same_defaults_as_torch():
    for name in ("SGD", "RMSprop", "Adam", "AdamW", "Adagrad"):
        ours = inspect.signature(getattr(so, name)).parameters
        theirs = inspect.signature(getattr(torch.optim, name)).parameters
        for arg, p in ours.items():
            assert arg in theirs, f"{name}: {arg} is not a torch argument"
            assert p.default == theirs[arg].default, f"{name}({arg}) default {p.default} vs torch {theirs[arg].default}"
        positional = [a for a, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional == [a for a, p in theirs.items() if p.kind is p.POSITIONAL_OR_KEYWORD][: len(positional)]


def test_known_values():
    # SGD: θ − γg, exactly
    p = Parameter(np.array([1.0, -2.0]))
    p.grad = np.array([0.5, 4.0])
    so.SGD([p], lr=0.1).step()
    np.testing.assert_array_equal(p.data, [0.95, -2.4])
    # Adam's first step: m̂ = g, v̂ = g², so θ moves by γ·g/(|g| + ε) ≈ γ·sign(g), whatever |g| is
    p = Parameter(np.array([0.0, 0.0, 0.0]))
    p.grad = np.array([1e3, -1e-3, 1e-8])
    so.Adam([p], lr=0.01).step()
    # ε outside the root and after bias correction: g = 1e-8 = ε gives half a step;
    # ε inside the root, √(g² + ε), would give 1e-8/1e-4 ≈ 1e-4 of a step
    np.testing.assert_allclose(p.data, [-0.01 * 1e3 / (1e3 + 1e-8), 0.01 * 1e-3 / (1e-3 + 1e-8), -0.005], rtol=1e-12)
    # SGD momentum: the buffer starts as g (no dampening at step one), then μb + (1−τ)g
    p = Parameter(np.array([0.0]))
    opt = so.SGD([p], lr=1.0, momentum=0.9, dampening=0.5)
    for _ in range(2):
        p.grad = np.array([1.0])
        opt.step()
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [0.9 + 0.5])
    np.testing.assert_allclose(p.data, [-1.0 - 1.4])
    # AdamW decays θ by (1 − γλ) before the step; Adam adds λθ to g instead
    p = Parameter(np.array([2.0]))
    p.grad = np.array([0.0])
    so.AdamW([p], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(p.data, [2.0 * (1 - 0.05)])


def test_adagrad_known_values_and_state_from_construction():
    """Adagrad keeps state for every parameter from construction on, as torch does; its first step
    moves each coordinate by ≈ γ·sign(g) (s = g²), and the t-th by γ/(1 + (t−1)·lr_decay)·g/(√s + ε)."""
    p, q = Parameter(np.zeros(3)), Parameter(np.ones(2))
    opt = so.Adagrad([p, q], lr=0.1, lr_decay=0.5, initial_accumulator_value=0.25)
    topt = to.Adagrad([torch.nn.Parameter(torch.zeros(3, dtype=torch.float64)), torch.nn.Parameter(torch.ones(2, dtype=torch.float64))],
                      lr=0.1, lr_decay=0.5, initial_accumulator_value=0.25)
    compare_state("Adagrad before any step", opt, topt, rtol=0, atol=0)
    np.testing.assert_array_equal(opt.state[q]["sum"], [0.25, 0.25])
    g = np.array([3.0, -4.0, 1e-12])
    for t in (1, 2, 3):
        before = p.data.copy()
        p.grad = g.copy()
        opt.step()  # q has no gradient: skipped, its state untouched
        s = 0.25 + t * g**2
        np.testing.assert_allclose(p.data - before, -0.1 / (1 + (t - 1) * 0.5) * g / (np.sqrt(s) + 1e-10), rtol=1e-14)
    assert opt.state[p]["step"] == 3.0 and opt.state[q]["step"] == 0.0
    p = Parameter(np.zeros(2))
    p.grad = np.array([5.0, -1e-3])
    so.Adagrad([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [-0.1, 0.1], rtol=1e-6)  # ≈ −γ·sign(g), whatever |g| is (ε: 1e-7 off)


def test_load_state_dict_restores_every_group_option_but_torchs_device_switches():
    """torch's load_state_dict replaces whole groups, so options a scheduler keeps there (initial_lr,
    max_lr …) come back; from a torch state_dict, foreach/fused/capturable/differentiable do not."""
    p = Parameter(np.ones(2))
    opt = so.SGD([p], lr=0.1, momentum=0.9)
    opt.param_groups[0].update(initial_lr=0.5, max_lr=1.0)
    fresh = so.SGD([Parameter(np.ones(2))], lr=0.3)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["initial_lr"] == 0.5 and fresh.param_groups[0]["max_lr"] == 1.0
    assert fresh.param_groups[0]["lr"] == 0.1 and fresh.param_groups[0]["momentum"] == 0.9
    t = torch.optim.Adam([torch.nn.Parameter(torch.ones(2))], lr=0.01)
    t.param_groups[0]["initial_lr"] = 0.02
    fresh = so.Adam([Parameter(np.ones(2))])
    fresh.load_state_dict(t.state_dict())
    assert fresh.param_groups[0]["initial_lr"] == 0.02
    assert not set(so.TORCH_ONLY_OPTIONS) & set(fresh.param_groups[0])
    assert set(so.TORCH_ONLY_OPTIONS) <= set(t.param_groups[0])


def test_zero_grad_param_groups_and_maximize():
    a, b = Parameter(np.ones(3)), Parameter(np.ones(2))
    opt = so.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    a.grad, b.grad = np.ones(3), np.ones(2)
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.0)
    grad_array = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad_array and not a.grad.any()
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    opt.step()  # no gradients: nothing moves
    np.testing.assert_allclose(a.data, 0.9)
    # torch's param groups in the state_dict
    ta, tb = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    topt = torch.optim.SGD([{"params": [ta]}, {"params": [tb], "lr": 1.0}], lr=0.1)
    assert [g["params"] for g in opt.state_dict()["param_groups"]] == [g["params"] for g in topt.state_dict()["param_groups"]] == [[0], [1]]
    # maximize: ascend
    p = Parameter(np.zeros(1))
    p.grad = np.ones(1)
    so.SGD([p], lr=0.5, maximize=True).step()
    np.testing.assert_allclose(p.data, [0.5])
    # closure's value is returned
    assert so.SGD([p], lr=0.5).step(closure=lambda: 3.0) == 3.0


BAD = [
    ("SGD", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("Adam", dict(lr=float("nan")), "Invalid learning rate: nan"),
    ("RMSprop", dict(lr=float("nan")), "Invalid learning rate: nan"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("AdamW", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(betas=(0.9, float("nan"))), "Invalid beta parameter at index 1: nan"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("RMSprop", dict(alpha=-0.5), "Invalid alpha value: -0.5"),
    ("SGD", dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    ("SGD", dict(momentum=-0.9), "Invalid momentum value: -0.9"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("Adagrad", dict(lr=-0.01), "Invalid learning rate: -0.01"),
    ("Adagrad", dict(lr_decay=-1e-3), "Invalid lr_decay value: -0.001"),
    ("Adagrad", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "Invalid initial_accumulator_value value: -1.0"),
    ("Adagrad", dict(eps=-1e-10), "Invalid epsilon value: -1e-10"),
]


@pytest.mark.parametrize("name, kw, message", BAD)
def test_bad_hyper_parameters_raise_like_torch(name, kw, message):
    with pytest.raises(ValueError, match=message) as torch_error:
        getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(1))], **kw)
    with pytest.raises(ValueError) as ours:
        getattr(so, name)([Parameter(np.zeros(1))], **kw)
    assert str(ours.value) == str(torch_error.value)


def test_nan_lr_rejected_even_for_sgd():
    # torch's SGD checks only lr < 0, so NaN passes there; here it is rejected like Adam's
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        so.SGD([Parameter(np.zeros(1))], lr=math.nan)


def test_empty_and_wrong_parameter_lists():
    for cls in (so.SGD, so.RMSprop, so.Adam, so.AdamW, so.Adagrad):
        with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
            cls([])
        with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
            cls(iter([]))  # an exhausted model.parameters() generator
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        torch.optim.Adam([])
    with pytest.raises(TypeError, match="can only optimize scratch Parameters, but one of the params is ndarray"):
        so.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['momentun'\]"):
        so.SGD([{"params": [Parameter(np.zeros(1))], "momentun": 0.9}])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        so.SGD([Parameter(np.zeros(1))] * 2)
    with pytest.raises(ValueError, match="more than one parameter group"):
        q = Parameter(np.zeros(1))
        so.SGD([{"params": [q]}, {"params": [q]}])
    p = Parameter(np.zeros(3))
    p.grad = np.zeros(2)
    with pytest.raises(ValueError, match=r"gradient shape \(2,\) does not match parameter shape \(3,\)"):
        so.SGD([p]).step()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_sgd_update_is_one_fused_pass_with_torchs_bits(dtype):
    """θ ← θ − γg in one pass (BLAS axpy, one rounding) gives torch's ``param.add_(grad, alpha=-lr)`` bit for bit
    on a weight matrix updated in pieces, on one above that size updated in one call, and on a non-contiguous
    one; two roundings (γg, then the sum) would differ in about a quarter of a percent of the weights
    (counted below)."""
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((300, 257)).astype(dtype)
    grad = rng.standard_normal(weight.shape).astype(dtype)
    big = rng.standard_normal(so._AXPY_SMALL + 999).astype(dtype)
    big_grad = rng.standard_normal(big.shape).astype(dtype)
    strided = Parameter(rng.standard_normal((40, 30)).astype(dtype)[:, ::3])  # the fallback path
    params = [Parameter(weight.copy()), Parameter(big.copy()), strided]
    opt = so.SGD(params, lr=0.0123)
    params[0].grad, params[1].grad, params[2].grad = grad, big_grad, np.ones_like(strided.data)
    expected_strided = strided.data + np.multiply(np.ones_like(strided.data), -0.0123)
    opt.step()
    for param, before, g in ((params[0], weight, grad), (params[1], big, big_grad)):
        expected = torch.from_numpy(before.copy())
        expected.add_(torch.from_numpy(g), alpha=-0.0123)
        assert np.array_equal(param.data, expected.numpy()), "scratch SGD's update differs from torch's in bits"
    reference = torch.from_numpy(weight.copy())
    reference.add_(torch.from_numpy(grad), alpha=-0.0123)
    assert np.array_equal(strided.data, expected_strided)
    two_roundings = weight + np.multiply(grad, -0.0123)
    assert np.count_nonzero(two_roundings != reference.numpy()) > 0.0005 * weight.size
