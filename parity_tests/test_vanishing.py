"""Vanishing gradients, pinned in numbers: derivative bounds, per-layer gradient
ratios, zigzag, dying ReLU, and the twins agreeing layer by layer.

Network of the ratio tests: depth 10 (nine hidden ``Linear(·,128) → [BN] → f``
blocks and a ``Linear(128, 4)`` head), batch 256, float64, seeded. Layers are
counted from 1 as in the TensorBoard tags; layers 2…9 are the width×width ones.
"""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import scratch.activations as sa
import scratch.init as si
import scratch.layers as sl
import torch_ref.init as ti
from nnlab import vanishing as V
from parity_tests.harness import compare

DEPTH, WIDTH, BATCH, IN, CLASSES = 10, 128, 256, 32, 4
SEED = 0


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(SEED)
    return rng.standard_normal((BATCH, IN)), rng.integers(0, CLASSES, BATCH)


def twin_stats(config, batch, shift=None):
    """Both twins from identical weights, one forward/backward each: (scratch, torch) stats and taps."""
    s, t = V.twin_mlps(config, IN, CLASSES, np.float64, seed=SEED)
    if shift is not None:
        V.shift_hidden_biases_(s, shift)
        V.shift_hidden_biases_(t, shift)
    x, y = batch
    (s_stats, s_taps), (t_stats, t_taps) = V.gradient_stats(s, x, y), V.gradient_stats(t, x, y)
    compare(config.name, "per-layer weight-gradient norms", s_stats.weight_grad_norm, t_stats.weight_grad_norm,
            rtol=1e-10, atol=0)
    compare(config.name, "dead fractions", s_stats.dead_fraction, t_stats.dead_fraction, rtol=0, atol=0)
    return s, (s_stats, s_taps), (t_stats, t_taps)


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
    cfg = V.MLPConfig("sigmoid", "default", False, DEPTH, WIDTH)
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
    cfg = V.MLPConfig("relu", "he", False, DEPTH, WIDTH)
    _, (stats, _), (t_stats, _) = twin_stats(cfg, batch)
    assert 0.1 <= stats.first_last_ratio <= 10
    assert 0.1 <= t_stats.first_last_ratio <= 10


def test_sigmoid_batchnorm_repairs_the_ratio(batch):
    """Sigmoid + BatchNorm (default init): BN's backward divides by the same std it normalised
    by, so the per-layer factor is ≈ rms σ'(ẑ)/std σ(ẑ) ≈ 1 with ẑ ~ N(0, 1)."""
    cfg = V.MLPConfig("sigmoid", "default", True, DEPTH, WIDTH)
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
        s, t = V.twin_mlps(V.MLPConfig(act, "default", False, 4, 32), IN, CLASSES, np.float64, seed=SEED)
        _, taps = V.gradient_stats(s if side == "scratch" else t, x, y)
        fractions[act] = [V.single_signed_row_fraction(g) for g in taps.weight_grads[1:]]  # layers fed by f
    assert fractions["sigmoid"] == [1.0, 1.0, 1.0]
    assert fractions["tanh"] == [0.0, 0.0, 0.0]


# -- dying ReLU ------------------------------------------------------------------

SHIFT = -5.0  # hidden biases moved by −5, about 3.5 standard deviations of the first pre-activations


def test_dying_relu_after_negative_bias_shift(batch):
    cfg = V.MLPConfig("relu", "he", False, DEPTH, WIDTH)
    _, (before, _), _ = twin_stats(cfg, batch)
    _, (after, taps), (t_after, _) = twin_stats(cfg, batch, shift=SHIFT)
    assert before.dead_fraction.mean() < 0.1
    assert after.dead_fraction.mean() > 0.9, f"dead fraction per layer {after.dead_fraction}"
    assert np.all(after.dead_fraction > 0.9)
    np.testing.assert_array_equal(after.dead_fraction, t_after.dead_fraction)


def test_leaky_relu_has_no_zero_gradient_after_the_same_shift(batch):
    cfg = V.MLPConfig("leaky_relu", "he", False, DEPTH, WIDTH)
    _, (stats, taps), (t_stats, t_taps) = twin_stats(cfg, batch, shift=SHIFT)
    for side_stats, side_taps in ((stats, taps), (t_stats, t_taps)):
        assert np.all(side_stats.zero_grad_fraction == 0) and np.all(side_stats.dead_fraction == 0)
        for g in side_taps.weight_grads:
            g = g.numpy() if isinstance(g, torch.Tensor) else g
            assert np.all(g != 0)


# -- the device path, the logging schedule, training parity ------------------------


@pytest.mark.parametrize("activation, batchnorm, shift", [("sigmoid", True, None), ("relu", False, -5.0)])
def test_device_statistics_equal_numpy_statistics(activation, batchnorm, shift, batch):
    """``torch_stats_packed`` (the CUDA path, run here on CPU tensors) gives the scratch twin's
    numbers: norms, missing biases, dead fractions, and identical histogram bins
    (including all-zero gradients, whose histogram is a single centred bin)."""
    cfg = V.MLPConfig(activation, "he", batchnorm, 5, 32)
    s, t = V.twin_mlps(cfg, IN, CLASSES, np.float64, seed=SEED)
    if shift is not None:
        V.shift_hidden_biases_(s, shift)
        V.shift_hidden_biases_(t, shift)
    x, y = batch
    _, s_taps = V.gradient_stats(s, x, y)
    _, t_taps = V.gradient_stats(t, x, y)
    a = V.unpack_stats(V.numpy_stats_packed(s_taps), cfg.depth)
    b = V.unpack_stats(V.torch_stats_host(t_taps, on_device=True), cfg.depth)
    np.testing.assert_allclose(a.weight_grad_norm, b.weight_grad_norm, rtol=1e-12)
    np.testing.assert_allclose(a.bias_grad_norm, b.bias_grad_norm, rtol=1e-12)  # NaN where BN removed the bias
    np.testing.assert_array_equal(a.dead_fraction, b.dead_fraction)
    np.testing.assert_array_equal(a.zero_grad_fraction, b.zero_grad_fraction)
    assert a.histograms.keys() == b.histograms.keys() and len(a.histograms) == cfg.depth + 2 * (cfg.depth - 1)
    for tag in a.histograms:
        ha, hb = a.histograms[tag], b.histograms[tag]
        np.testing.assert_array_equal(ha.bucket_counts, hb.bucket_counts, err_msg=tag)
        assert hb.bucket_counts.sum() == hb.num
        np.testing.assert_allclose([ha.min, ha.max, ha.sum_squares], [hb.min, hb.max, hb.sum_squares], rtol=1e-12, atol=1e-300)


def test_torch_loop_reads_back_only_on_logged_steps(monkeypatch):
    """The torch loop copies to the host once per logged step, plus once for the training-set
    loss before and after: no synchronisation on the other steps (counted through ``_to_host``)."""
    calls = []
    real = V._to_host
    monkeypatch.setattr(V, "_to_host", lambda packed: calls.append(packed.numel()) or real(packed))
    task = V.make_synthetic_task(256, IN, CLASSES, seed=SEED)
    _, t = V.twin_mlps(V.MLPConfig("relu", "he", False, 4, 16), IN, CLASSES, np.float64, seed=SEED)
    schedule = V.minibatch_schedule(256, 64, 9, SEED)
    loop = V.train_torch(t, task, schedule, lr=0.05, momentum=0.9, log_every=4, stats_on_device=True)
    assert loop.logged_steps == V.logged_steps(9, 4) == [0, 4, 8]
    assert len(calls) == len(loop.logged_steps) + 2 and len(loop.stats) == 3


def test_twins_train_identically():
    """Same weights, same minibatches, same SGD: the logged losses and gradient norms agree in float64."""
    settings = V.StudySettings(steps=6, batch_size=64, log_every=2, n_samples=256)
    task = V.make_synthetic_task(256, IN, CLASSES, seed=SEED)
    for cfg in (V.MLPConfig("tanh", "xavier", False, 4, 16), V.MLPConfig("sigmoid", "default", True, 4, 16)):
        runs = V.run_config(cfg, task, settings).runs
        s, t = runs["scratch"], runs["torch"]
        assert s.logged_steps == t.logged_steps == [0, 2, 4]
        compare(cfg.name, "logged losses", [x.loss for x in s.stats], [x.loss for x in t.stats], rtol=1e-10, atol=1e-12)
        compare(cfg.name, "grad norms at step 4", s.stats[-1].weight_grad_norm, t.stats[-1].weight_grad_norm,
                rtol=1e-9, atol=0)
        assert s.initial_loss == pytest.approx(t.initial_loss, rel=1e-12)
        assert s.final_loss == pytest.approx(t.final_loss, rel=1e-10)
        assert s.run_name == f"scratch/{cfg.name}" and t.run_name == f"torch/{cfg.name}"


def test_unpack_rejects_a_wrong_layout():
    with pytest.raises(ValueError, match="layout expects"):
        V.unpack_stats(np.zeros(7), depth=4)


def test_logging_overhead_measurement_runs():
    out = V.measure_logging_overhead(V.MLPConfig("relu", "he", False, 3, 8), V.StudySettings(log_every=5), repeats=2)
    assert out["seconds_logged_step_full"] > 0 and out["seconds_plain_step"] > 0
    assert set(out) >= {"total_overhead", "histogram_overhead", "log_every"}


# -- the script ------------------------------------------------------------------


def _script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "vanishing_gradients.py"
    spec = importlib.util.spec_from_file_location("vanishing_gradients_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_help_explains(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _script().parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("--device", "--logdir", "--out", "tensorboard --logdir runs", "1/4", "scratch/<config>"):
        assert word in text


def test_script_writes_table_plot_and_logs(tmp_path, capsys):
    rc = _script().main([
        "--activations", "sigmoid", "relu", "--inits", "default", "--depth", "4", "--width", "16",
        "--steps", "4", "--log-every", "2", "--logdir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
        "--no-progress",
    ])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| sigmoid" in printed and "| relu" in printed
    assert (tmp_path / "out" / "vanishing_gradients.png").stat().st_size > 1000
    assert "sigmoid" in (tmp_path / "out" / "vanishing_gradients.md").read_text()
    for run in ("scratch/sigmoid-d4-default", "torch/relu-d4-default"):
        assert list((tmp_path / "runs" / run).glob("events.out.tfevents.*")), run


def test_dogcat_task_from_the_cache(tmp_path, monkeypatch):
    """The optional photo input: pooled, flattened, standardised features and 0/1 labels."""
    if not V.dogcat_task_available():
        pytest.skip("nnlab.dogcat.data.load_dogcat is not in this checkout")
    from nnlab.dogcat.data import synthetic_dogcat

    monkeypatch.setenv("DOGCAT_CACHE", str(tmp_path / "cache"))
    photos = synthetic_dogcat(tmp_path / "photos", n=12, size=100)
    task, source = V.load_dogcat_task(photos, n_samples=10, progress=False)
    assert "photos" in source
    assert task.x.shape == (10, 3 * 20 * 20) and task.x.dtype == np.float64 and task.n_classes == 2
    assert set(np.unique(task.y)) <= {0, 1}
    np.testing.assert_allclose(task.x.mean(axis=0), 0, atol=1e-12)
