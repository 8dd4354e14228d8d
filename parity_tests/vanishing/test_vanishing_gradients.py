"""Vanishing gradients, pinned in numbers: derivative bounds, per-layer gradient
ratios, zigzag, dying ReLU, and the twins agreeing layer by layer (the network is
that of ``parity_tests.vanishing.network``)."""

import math

import numpy as np
import pytest
import torch

import scratch.activations as sa
import scratch.layers as sl
from nnlab.vanishing.config import MLPConfig
from nnlab.vanishing.networks import twin_mlps
from nnlab.vanishing.stats import gradient_stats, single_signed_row_fraction
from parity_tests.vanishing.network import CLASSES, DEPTH, IN, SEED, WIDTH, twin_stats


# -- derivative bounds ---------------------------------------------------------

GRID = np.concatenate([np.linspace(-20, 20, 40001), [0.0, 1e-12, -1e-12]])


def scratch_derivative(act, x):
    act.forward(x)
    return act.backward(np.ones_like(x))


def torch_derivative(act, x):
    xt = torch.tensor(x, requires_grad=True)
    act(xt).sum().backward()
    return xt.grad.numpy()


@pytest.mark.parametrize("side", ["scratch", "torch"])
def test_derivative_bounds(side):
    d = scratch_derivative if side == "scratch" else torch_derivative
    mods = (sa.Sigmoid(), sa.Tanh(), sa.ReLU()) if side == "scratch" else (torch.nn.Sigmoid(), torch.nn.Tanh(), torch.nn.ReLU())
    ds, dt, dr = (d(m, GRID) for m in mods)
    # σ'(x) = σ(1−σ) = 1/4 − x²/16 + O(x⁴) ≤ 1/4, with equality only at x = 0
    # (in float64, |x| ≲ 1e-8 rounds to 1/4 as well)
    assert ds.max() == 0.25 and GRID[np.argmax(ds)] == 0.0
    assert np.all(ds[np.abs(GRID) >= 1e-6] < 0.25)
    # tanh'(x) = 1 − tanh² ≤ 1 (= 1 at 0)
    assert dt.max() <= 1.0 and dt[GRID == 0][0] == 1.0
    # ReLU'(x) ∈ {0, 1}, with torch's ReLU'(0) = 0
    assert set(np.unique(dr)) == {0.0, 1.0} and np.all(dr[GRID == 0] == 0)


# -- per-layer gradient ratios ----------------------------------------------------


def test_sigmoid_default_init_vanishes(batch):
    """Sigmoid with torch's default init: ‖∇W₂‖/‖∇W₉‖ < 1e-3.

    The bound. Backprop through hidden layer k: δ_{k−1} = σ'(z_{k−1}) ⊙ (δ_k W_k),
    so with σ' ≤ 1/4
        ‖δ_{k−1}‖ ≤ (1/4)·‖W_k‖₂·‖δ_k‖.
    The default init W ~ U(±1/√n) has Var W = 1/(3n): the spectral norm of a
    128×128 draw is ≈ 2√(n·Var W) = 2/√3, giving ≤ 0.29 per layer in the worst
    case, and in expectation (E‖δW‖² = n·Var W·‖δ‖²) the factor is
    (1/4)·√(n·Var W) = 1/(4√3) ≈ 0.144. Seven layers (W₃…W₉) separate δ₂ from δ₉:
        worst case Π ‖W_k‖₂/4 ≈ 0.29⁷ ≈ 2e-4,   expected 0.144⁷ ≈ 1.3e-6,
    both below 1e-3. ∇W_k = δ_kᵀ a_{k−1}, and a₁, a₈ are sigmoid outputs of the
    same scale (≈ ½), so the weight-gradient ratio follows the δ ratio.
    """
    cfg = MLPConfig("sigmoid", "default", False, DEPTH, WIDTH)
    s, (stats, taps), (t_stats, _) = twin_stats(cfg, batch)
    linears = [m for m in s if isinstance(m, sl.Linear)]
    delta_norm = [np.linalg.norm(d) for d in taps.preact_grads]  # δ_k at layers 1…9
    worst_case = 1.0
    for k in range(2, 9):  # 0-based Linear k = layer k+1 carries δ_k back to δ_{k−1}
        factor = np.linalg.norm(linears[k].weight.data, 2) / 4
        assert delta_norm[k - 1] <= factor * delta_norm[k], f"σ' ≤ 1/4 bound broken at layer {k + 1}"
        worst_case *= factor
    expected = (1 / (4 * math.sqrt(3))) ** 7
    ratio = stats.first_last_ratio
    assert worst_case < 1e-3
    assert ratio < 1e-3
    assert expected / 10 < ratio < expected * 10, (ratio, expected)
    assert t_stats.first_last_ratio == pytest.approx(ratio, rel=1e-10)


def test_relu_he_keeps_gradient_scale(batch):
    """ReLU + He: n·Var W·E[ReLU'²] = n·(2/n)·½ = 1, so no layer shrinks the gradient."""
    cfg = MLPConfig("relu", "he", False, DEPTH, WIDTH)
    _, (stats, _), (t_stats, _) = twin_stats(cfg, batch)
    assert 0.1 <= stats.first_last_ratio <= 10
    assert 0.1 <= t_stats.first_last_ratio <= 10


def test_sigmoid_batchnorm_repairs_the_ratio(batch):
    """Sigmoid + BatchNorm (default init): BN's backward divides by the same std it normalised
    by, so the per-layer factor is ≈ rms σ'(ẑ)/std σ(ẑ) ≈ 1 with ẑ ~ N(0, 1)."""
    cfg = MLPConfig("sigmoid", "default", True, DEPTH, WIDTH)
    _, (stats, _), (t_stats, _) = twin_stats(cfg, batch)
    assert 0.1 <= stats.first_last_ratio <= 10
    assert 0.1 <= t_stats.first_last_ratio <= 10


# -- zigzag ----------------------------------------------------------------------


@pytest.mark.parametrize("side", ["scratch", "torch"])
def test_zigzag_sigmoid_fed_rows_single_signed(side, batch):
    """One sample: ∇W = δ·aᵀ. With a = σ(·) > 0 each row i is δᵢ·a, of one sign;
    with a = tanh(·) of both signs, no row is."""
    x, y = batch[0][:1], batch[1][:1]
    fractions = {}
    for act in ("sigmoid", "tanh"):
        s, t = twin_mlps(MLPConfig(act, "default", False, 4, 32), IN, CLASSES, np.float64, seed=SEED)
        _, taps = gradient_stats(s if side == "scratch" else t, x, y)
        fractions[act] = [single_signed_row_fraction(g) for g in taps.weight_grads[1:]]  # layers fed by f
    assert fractions["sigmoid"] == [1.0, 1.0, 1.0]
    assert fractions["tanh"] == [0.0, 0.0, 0.0]


# -- dying ReLU ------------------------------------------------------------------

SHIFT = -5.0  # hidden biases moved by −5, about 3.5 standard deviations of the first pre-activations


def test_dying_relu_after_negative_bias_shift(batch):
    cfg = MLPConfig("relu", "he", False, DEPTH, WIDTH)
    _, (before, _), _ = twin_stats(cfg, batch)
    _, (after, taps), (t_after, _) = twin_stats(cfg, batch, shift=SHIFT)
    assert before.dead_fraction.mean() < 0.1
    assert after.dead_fraction.mean() > 0.9, f"dead fraction per layer {after.dead_fraction}"
    assert np.all(after.dead_fraction > 0.9)
    np.testing.assert_array_equal(after.dead_fraction, t_after.dead_fraction)


def test_leaky_relu_has_no_zero_gradient_after_the_same_shift(batch):
    cfg = MLPConfig("leaky_relu", "he", False, DEPTH, WIDTH)
    _, (stats, taps), (t_stats, t_taps) = twin_stats(cfg, batch, shift=SHIFT)
    for side_stats, side_taps in ((stats, taps), (t_stats, t_taps)):
        assert np.all(side_stats.zero_grad_fraction == 0) and np.all(side_stats.dead_fraction == 0)
        for g in side_taps.weight_grads:
            g = g.numpy() if isinstance(g, torch.Tensor) else g
            assert np.all(g != 0)
