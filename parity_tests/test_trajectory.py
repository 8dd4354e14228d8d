"""Trajectory parity: the same learning, step by step, not only the same single update.

A scratch MLP and its torch twin start from identical weights (the scratch
state_dict loaded into torch), take 200 optimizer steps on the same seeded
mini-batches (``nnlab.common.batches``), and after *every* step every parameter and
every running buffer agrees:

- float64 (the proof): |Δ| ≤ 1e-9·|θ_torch| + 1e-12·max(1, max|θ_torch|);
- float32 (the practice): |Δ| ≤ 1e-4·|θ_torch| + 5e-5·max(1, max|θ_torch|);
  the drift actually reached is printed (run pytest with ``-s`` to see it):
  at most ~3e-6 after 200 steps, from float32 round-off (ε ≈ 1.2e-7) compounding.

A failure names the configuration, the first step that left the tolerance,
the tensor and its worst element.

Each optimizer configuration of ``test_optim.CONFIGS`` runs on one network
variant; the pairing covers every activation (sigmoid, ReLU, tanh) with and
without BatchNorm, and every optimizer family with and without BatchNorm, in
twelve runs instead of seventy-two (the suite must stay fast on two cores).

The second half trains under the tools of training control, all at once:
every learning-rate scheduler (driving SGD with momentum or Adam), gradient
clipping (by norm 2, 1, inf, or by value) on every step, and MLPs with
Dropout (both twins drawing the same masks from generators seeded alike) and
LayerNorm. The same agreement after every step is required, and resuming
mid-schedule (model, optimizer, scheduler and dropout generator) continues
the run exactly.
"""

import numpy as np
import pytest
import torch

import scratch.clip_grad as sclip
import scratch.losses as sloss
import scratch.lr_scheduler as ssched
import scratch.minibatch as smb
import scratch.mlp as smlp
import scratch.optim as so
import torch_ref.clip_grad as tclip
import torch_ref.losses as tloss
import torch_ref.lr_scheduler as tsched
import torch_ref.minibatch as tmb
import torch_ref.mlp as tmlp
import torch_ref.optim as to
from nnlab.common.batches import iterate_minibatches
from nnlab.common.synthetic_data import blobs
from parity_tests.harness import compare
from parity_tests.test_optim import CONFIGS
from scratch.module import Parameter
from torch_ref.module import load_scratch_state

SIZES = [4, 8, 8, 3]
BATCH = 16
STEPS = 200
X, Y = blobs(n_per_class=32, n_classes=3, n_features=4, spread=1.5, seed=0)  # 96 samples: 6 batches per epoch
STEPS_PER_EPOCH = len(X) // BATCH
EPOCHS = -(-STEPS // STEPS_PER_EPOCH)
TOLERANCE = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=1e-4, atol=5e-5)}

#: optimizer configuration → (activation, batchnorm)
NETWORK_FOR = {
    "SGD": ("sigmoid", False),
    "SGD momentum": ("relu", True),
    "SGD nesterov": ("tanh", False),
    "SGD weight decay": ("sigmoid", True),
    "RMSprop": ("relu", False),
    "RMSprop centered": ("tanh", True),
    "RMSprop momentum": ("sigmoid", False),
    "Adam": ("relu", True),
    "Adam amsgrad": ("tanh", False),
    "AdamW": ("sigmoid", True),
    "Adagrad": ("relu", False),
    "Adagrad decay": ("tanh", True),
}


def test_pairing_covers_every_variant():
    assert set(NETWORK_FOR) == set(CONFIGS)
    nets = set(NETWORK_FOR.values())
    assert nets == {(a, bn) for a in ("sigmoid", "relu", "tanh") for bn in (False, True)}
    for family in ("SGD", "RMSprop", "Adam", "Adagrad"):
        assert {bn for c, (_, bn) in NETWORK_FOR.items() if c.startswith(family)} == {False, True}


def _twins(config, dtype, rng=1):
    activation, batchnorm = NETWORK_FOR[config]
    s = smlp.mlp(SIZES, activation, batchnorm, dtype=dtype, rng=rng)
    t = tmlp.mlp(SIZES, activation, batchnorm, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    load_scratch_state(t, s)
    name, kw = CONFIGS[config]
    return s, getattr(so, name)(s.parameters(), **kw), t, getattr(to, name)(t.parameters(), **kw)


def _snapshot_scratch(model):
    out = {n: p.data.copy() for n, p in model.named_parameters()}
    out.update((n, b.copy()) for n, b in model.named_buffers() if b.dtype.kind == "f")
    return out


def _snapshot_torch(model):
    out = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    out.update((n, b.numpy().copy()) for n, b in model.named_buffers() if b.is_floating_point())
    return out


def _run_scratch(model, opt, dtype, steps=STEPS, start_epoch=0):
    history = []
    losses = smb.minibatch_sgd(
        model, sloss.CrossEntropyLoss(), opt, X.astype(dtype), Y, batch_size=BATCH,
        epochs=EPOCHS, seed=0, drop_last=True, max_steps=steps, start_epoch=start_epoch,
        on_step=lambda k, loss: history.append(_snapshot_scratch(model)),
    )
    return losses, history


def _run_torch(model, opt, dtype, steps=STEPS, start_epoch=0):
    history = []
    losses = tmb.minibatch_sgd(
        model, tloss.CrossEntropyLoss(), opt, X.astype(dtype), Y, batch_size=BATCH,
        epochs=EPOCHS, seed=0, drop_last=True, max_steps=steps, start_epoch=start_epoch,
        on_step=lambda k, loss: history.append(_snapshot_torch(model)),
    )
    return losses, history


def assert_same_trajectory(label, s_hist, t_hist, rtol, atol, first_step=1):
    """After every step, every tensor within tolerance; else raise ``compare``'s message for the first bad step.

    Returns the worst absolute and relative (to max|θ|) drift over all steps and tensors.
    """
    assert len(s_hist) == len(t_hist), f"[{label}] {len(s_hist)} scratch steps vs {len(t_hist)} torch steps"
    assert s_hist[0].keys() == t_hist[0].keys(), f"[{label}] tensors {list(s_hist[0])} vs {list(t_hist[0])}"
    first_bad = None
    worst_abs = worst_rel = 0.0
    for name in s_hist[0]:
        a = np.stack([h[name] for h in s_hist]).astype(np.float64).reshape(len(s_hist), -1)
        e = np.stack([h[name] for h in t_hist]).astype(np.float64).reshape(len(t_hist), -1)
        scale = np.maximum(1.0, np.abs(e).max(axis=1, keepdims=True))
        diff = np.abs(a - e)
        bad = ~(diff <= atol * scale + rtol * np.abs(e))  # NaN counts as bad
        if bad.any():
            k = int(np.argmax(bad.any(axis=1)))
            if first_bad is None or k < first_bad[0]:
                first_bad = (k, name)
        worst_abs = max(worst_abs, float(np.nanmax(diff)))
        worst_rel = max(worst_rel, float(np.nanmax(diff / scale)))
    if first_bad is not None:
        k, name = first_bad
        compare(f"{label} step {first_step + k}", name, s_hist[k][name], t_hist[k][name], rtol=rtol, atol=atol)
        raise AssertionError(f"[{label} step {first_step + k}] {name} out of tolerance")  # pragma: no cover
    return worst_abs, worst_rel


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("config", list(NETWORK_FOR))
def test_200_steps_agree_after_every_step(config, dtype):
    s, sopt, t, topt = _twins(config, dtype)
    s_losses, s_hist = _run_scratch(s, sopt, dtype)
    t_losses, t_hist = _run_torch(t, topt, dtype)
    assert len(s_hist) == STEPS
    activation, batchnorm = NETWORK_FOR[config]
    label = f"{config}, {activation}{' + BatchNorm' if batchnorm else ''}, {np.dtype(dtype).name}"
    tol = TOLERANCE[dtype]
    worst_abs, worst_rel = assert_same_trajectory(label, s_hist, t_hist, **tol)
    compare(label, "loss at every step", np.array(s_losses), np.array(t_losses), **tol)
    print(f"\n{label}: drift over {STEPS} steps: max |Δθ| = {worst_abs:.2e}, max |Δθ|/max|θ| = {worst_rel:.2e}")
    # the runs learned something: the loss of the last epoch is well below the first epoch's
    first, last = np.mean(s_losses[:STEPS_PER_EPOCH]), np.mean(s_losses[-STEPS_PER_EPOCH:])
    assert last < 0.7 * first, (first, last)


@pytest.mark.parametrize("config", ["Adam amsgrad", "RMSprop centered", "SGD weight decay"])
def test_resume_mid_trajectory_continues_identically(config):
    """Save model + optimizer after 16 epochs, load into fresh objects, go on: the same trajectory.

    Scratch resumed from scratch: bit for bit. Torch resumed from the scratch state: within float64 parity.
    """
    dtype = np.float64
    cut_epoch = 16
    cut = cut_epoch * STEPS_PER_EPOCH
    s, sopt, _, _ = _twins(config, dtype)
    _, full = _run_scratch(s, sopt, dtype)

    s, sopt, t, topt = _twins(config, dtype)
    _run_scratch(s, sopt, dtype, steps=cut)
    model_state, optim_state = s.state_dict(), sopt.state_dict()
    # fresh scratch objects with other initial weights, then loaded
    s2, sopt2, t2, topt2 = _twins(config, dtype, rng=99)
    s2.load_state_dict(model_state)
    sopt2.load_state_dict(optim_state)
    _, resumed = _run_scratch(s2, sopt2, dtype, steps=STEPS - cut, start_epoch=cut_epoch)
    for k, (a, b) in enumerate(zip(resumed, full[cut:])):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{config} resumed, step {cut + k + 1}, {name}")
    # torch picks up the scratch state (model and optimizer) and continues the scratch trajectory
    load_scratch_state(t2, model_state)
    topt2.load_state_dict(to.state_dict_to_torch(optim_state, topt2))
    _, t_resumed = _run_torch(t2, topt2, dtype, steps=STEPS - cut, start_epoch=cut_epoch)
    assert_same_trajectory(f"{config}, torch resumed from scratch", full[cut:], t_resumed, first_step=cut + 1, **TOLERANCE[dtype])


# -- training control: schedulers, clipping, Dropout and LayerNorm ------------------------------

#: name → (optimizer configuration of test_optim.CONFIGS, scheduler given the module and optimizer,
#: MLP options, clipping: ("norm", max_norm, norm_type) or ("value", clip_value)). Every scheduler
#: once; each runs on every step of 200 (ReduceLROnPlateau once per epoch, on the epoch's mean loss).
CONTROLLED = {
    "StepLR": ("SGD momentum", lambda m, o: m.StepLR(o, step_size=50, gamma=0.5),
               dict(activation="relu", dropout=0.2), ("norm", 1.0, 2.0)),
    "MultiStepLR": ("Adam", lambda m, o: m.MultiStepLR(o, milestones=[60, 120, 120], gamma=0.5),
                    dict(activation="tanh", layernorm=True), ("norm", 0.5, float("inf"))),
    "ExponentialLR": ("SGD momentum", lambda m, o: m.ExponentialLR(o, gamma=0.995),
                      dict(activation="sigmoid", layernorm=True, dropout=0.1), ("value", 0.05)),
    "CosineAnnealingLR": ("Adam", lambda m, o: m.CosineAnnealingLR(o, T_max=STEPS, eta_min=1e-4),
                          dict(activation="relu", layernorm=True, dropout=0.3), ("norm", 1.0, 1.0)),
    "LinearLR": ("SGD momentum", lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=100),
                 dict(activation="tanh", dropout=0.2), ("norm", 0.5, 2.0)),
    "OneCycleLR SGD momentum": ("SGD momentum", lambda m, o: m.OneCycleLR(o, max_lr=0.2, total_steps=STEPS),
                                dict(activation="relu", layernorm=True), ("norm", 1.0, 2.0)),
    "OneCycleLR Adam beta1": ("Adam", lambda m, o: m.OneCycleLR(o, max_lr=0.02, total_steps=STEPS, three_phase=True),
                              dict(activation="tanh", dropout=0.1), ("value", 0.1)),
    "ReduceLROnPlateau": ("SGD momentum", lambda m, o: m.ReduceLROnPlateau(o, factor=0.5, patience=2),
                          dict(activation="sigmoid", dropout=0.1), ("norm", 0.5, float("inf"))),
    "SequentialLR": ("Adam", lambda m, o: m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=20), m.CosineAnnealingLR(o, T_max=STEPS - 20)], milestones=[20]),
                     dict(activation="relu", layernorm=True, dropout=0.2), ("norm", 2.0, 2.0)),
}
DROPOUT_SEED = 5


def test_controlled_runs_cover_every_scheduler_clipping_and_layer():
    schedulers = {type(factory(ssched, so.SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9))).__name__
                  for _, factory, _, _ in CONTROLLED.values()}
    assert schedulers == set(ssched.__all__) - {"LRScheduler"}
    assert {CONFIGS[c][0] for c, *_ in CONTROLLED.values()} == {"SGD", "Adam"}
    assert {clip[0] if clip[0] == "value" else clip[2] for *_, clip in CONTROLLED.values()} == {"value", 2.0, 1.0, float("inf")}
    options = [net for _, _, net, _ in CONTROLLED.values()]
    assert any(n.get("dropout") and n.get("layernorm") for n in options) and all(n.get("dropout") or n.get("layernorm") for n in options)


def _controlled_twins(name, dtype, rng=1):
    """Scratch and torch model, optimizer and scheduler from identical weights, with their own dropout
    generators seeded alike (returned too: a checkpoint saves their state)."""
    config, factory, net, _ = CONTROLLED[name]
    s_gen, t_gen = np.random.default_rng(DROPOUT_SEED), np.random.default_rng(DROPOUT_SEED)
    s = smlp.mlp(SIZES, dtype=dtype, rng=rng, dropout_rng=s_gen, **net)
    t = tmlp.mlp(SIZES, dtype=torch.float64 if dtype == np.float64 else torch.float32, dropout_rng=t_gen, **net)
    load_scratch_state(t, s)
    optimizer, kw = CONFIGS[config]
    sopt, topt = getattr(so, optimizer)(s.parameters(), **kw), getattr(to, optimizer)(t.parameters(), **kw)
    return (s, sopt, factory(ssched, sopt), s_gen), (t, topt, factory(tsched, topt), t_gen)


def _clip(name, side, parameters):
    clip = CONTROLLED[name][3]
    functions = sclip if side == "scratch" else tclip
    if clip[0] == "value":
        functions.clip_grad_value_(parameters, clip[1])
    else:
        functions.clip_grad_norm_(parameters, clip[1], norm_type=clip[2])


def _train_controlled(name, side, model, opt, scheduler, dtype, steps=STEPS, start_epoch=0):
    """zero_grad, forward, loss, backward, clip, optimizer.step, scheduler.step: the order torch prescribes.

    Returns the loss of every step and, after every step, a snapshot of every tensor and the rates.
    """
    loss_fn = sloss.CrossEntropyLoss() if side == "scratch" else tloss.CrossEntropyLoss()
    snapshot = _snapshot_scratch if side == "scratch" else _snapshot_torch
    plateau = isinstance(scheduler, (ssched.ReduceLROnPlateau, tsched.ReduceLROnPlateau))
    model.train()
    losses, history = [], []
    for epoch, (xb, yb) in iterate_minibatches((X.astype(dtype), Y), BATCH, epochs=EPOCHS, seed=0, drop_last=True, start_epoch=start_epoch):
        if len(losses) >= steps:
            break
        opt.zero_grad()
        if side == "scratch":
            loss = loss_fn.forward(model.forward(xb), yb)
            model.backward(loss_fn.backward())
        else:
            loss = loss_fn(model(torch.from_numpy(xb)), torch.from_numpy(yb))
            loss.backward()
            loss = loss.detach()
        _clip(name, side, model.parameters())
        opt.step()
        losses.append(float(loss))
        if not plateau:
            scheduler.step()
        elif len(losses) % STEPS_PER_EPOCH == 0:
            scheduler.step(np.mean(losses[-STEPS_PER_EPOCH:]))  # once per epoch, on the epoch's mean loss
        state = snapshot(model)
        state["lr"] = np.array([g["lr"] for g in opt.param_groups])
        history.append(state)
    return losses, history


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(CONTROLLED))
def test_200_steps_with_scheduler_clipping_dropout_layernorm_agree_after_every_step(name, dtype):
    (s, sopt, ssch, _), (t, topt, tsch, _) = _controlled_twins(name, dtype)
    s_losses, s_hist = _train_controlled(name, "scratch", s, sopt, ssch, dtype)
    t_losses, t_hist = _train_controlled(name, "torch", t, topt, tsch, dtype)
    assert len(s_hist) == STEPS
    config, _, net, clip = CONTROLLED[name]
    label = f"{name} driving {config}, {net}, clip {clip}, {np.dtype(dtype).name}"
    tol = TOLERANCE[dtype]
    worst_abs, worst_rel = assert_same_trajectory(label, s_hist, t_hist, **tol)
    compare(label, "loss at every step", np.array(s_losses), np.array(t_losses), **tol)
    print(f"\n{label}: drift over {STEPS} steps: max |Δθ| = {worst_abs:.2e}, max |Δθ|/max|θ| = {worst_rel:.2e}")
    rates = np.array([h["lr"][0] for h in s_hist])
    assert len(np.unique(rates)) > 1, f"[{label}] the scheduler never changed the rate"
    first, last = np.mean(s_losses[:STEPS_PER_EPOCH]), np.mean(s_losses[-STEPS_PER_EPOCH:])
    assert last < 0.8 * first, (first, last)


@pytest.mark.parametrize("name", ["SequentialLR", "ReduceLROnPlateau"])
def test_resume_mid_schedule_with_dropout_continues_identically(name):
    """Checkpoint after 16 epochs: model, optimizer, scheduler and dropout-generator state. Fresh objects
    (other initial weights, built as at the start, then loaded) continue the run: scratch from scratch's
    checkpoint bit for bit; torch from the same scratch checkpoint to 1e-12 of the uninterrupted run."""
    dtype = np.float64
    cut_epoch = 16
    cut = cut_epoch * STEPS_PER_EPOCH
    (s, sopt, ssch, _), _ = _controlled_twins(name, dtype)
    _, full = _train_controlled(name, "scratch", s, sopt, ssch, dtype)

    (s, sopt, ssch, s_gen), _ = _controlled_twins(name, dtype)
    _train_controlled(name, "scratch", s, sopt, ssch, dtype, steps=cut)
    checkpoint = dict(model=s.state_dict(), optimizer=sopt.state_dict(), scheduler=ssch.state_dict(),
                      dropout_rng=s_gen.bit_generator.state)
    (s2, sopt2, ssch2, s_gen2), (t2, topt2, tsch2, t_gen2) = _controlled_twins(name, dtype, rng=99)
    s2.load_state_dict(checkpoint["model"])
    sopt2.load_state_dict(checkpoint["optimizer"])
    ssch2.load_state_dict(checkpoint["scheduler"])
    s_gen2.bit_generator.state = checkpoint["dropout_rng"]
    _, resumed = _train_controlled(name, "scratch", s2, sopt2, ssch2, dtype, steps=STEPS - cut, start_epoch=cut_epoch)
    for k, (a, b) in enumerate(zip(resumed, full[cut:])):
        for tensor in a:
            np.testing.assert_array_equal(a[tensor], b[tensor], err_msg=f"{name} resumed, step {cut + k + 1}, {tensor}")
    load_scratch_state(t2, checkpoint["model"])
    topt2.load_state_dict(to.state_dict_to_torch(checkpoint["optimizer"], topt2))
    tsch2.load_state_dict(checkpoint["scheduler"])
    t_gen2.bit_generator.state = checkpoint["dropout_rng"]
    _, t_resumed = _train_controlled(name, "torch", t2, topt2, tsch2, dtype, steps=STEPS - cut, start_epoch=cut_epoch)
    worst_abs, worst_rel = assert_same_trajectory(f"{name}, torch resumed from scratch", full[cut:], t_resumed,
                                                  first_step=cut + 1, rtol=1e-12, atol=1e-12)
    print(f"\n{name}, torch resumed from scratch's checkpoint: max |Δθ|/max|θ| = {worst_rel:.2e}")
