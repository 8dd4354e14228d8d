"""Trajectory parity: the same learning, step by step, not only the same single update.

A scratch MLP and its torch twin start from identical weights (the scratch
state_dict loaded into torch), take 200 optimizer steps on the same seeded
mini-batches (``nnlab.batches``), and after *every* step every parameter and
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
ten runs instead of sixty (the suite must stay fast on two cores).
"""

import numpy as np
import pytest
import torch

import scratch.losses as sloss
import scratch.minibatch as smb
import scratch.mlp as smlp
import scratch.optim as so
import torch_ref.losses as tloss
import torch_ref.minibatch as tmb
import torch_ref.mlp as tmlp
import torch_ref.optim as to
from nnlab.data_synthetic import blobs
from parity_tests.harness import compare
from parity_tests.test_optim import CONFIGS
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
