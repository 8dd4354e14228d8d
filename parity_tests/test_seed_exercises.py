"""Seed exercises, each in both twins: perceptron, XOR, softmax classifier, learning rate, mini-batches."""

import itertools
import math

import numpy as np
import pytest
import torch

import scratch.learning_rate as slr
import scratch.losses as sloss
import scratch.minibatch as smb
import scratch.mlp as smlp
import scratch.optim as so
import scratch.perceptron as sperc
import scratch.softmax_classifier as ssc
import scratch.xor as sxor
import torch_ref.learning_rate as tlr
import torch_ref.minibatch as tmb
import torch_ref.mlp as tmlp
import torch_ref.perceptron as tperc
import torch_ref.softmax_classifier as tsc
import torch_ref.xor as txor
from nnlab.batches import iterate_minibatches, minibatch_indices
from nnlab.data_synthetic import blobs, linear_regression, spiral, truth_table
from nnlab.learning_rate import DEFAULT_RATES, LossCurve, classify, format_curves
from parity_tests.harness import compare
from scratch.module import Module
from scratch.numerical import numerical_gradient, sample_indices
from torch_ref.module import load_scratch_state


def _torch_from(scratch_model, torch_model):
    load_scratch_state(torch_model, scratch_model)
    return torch_model


# -- perceptron ---------------------------------------------------------------
@pytest.mark.parametrize(
    "gate, epochs, w, b",
    [("and", 6, [2.0, 1.0], -2.0), ("or", 4, [1.0, 1.0], 0.0), ("nand", 6, [-2.0, -1.0], 3.0)],
)
def test_perceptron_learns_separable_gates(gate, epochs, w, b):
    X, y = truth_table(gate)
    p = sperc.Perceptron(2)
    history = p.fit(X, y, max_epochs=100)
    # the last epoch is the one without a mistake; Novikoff's bound (R/γ)² is far above these counts
    assert len(history) == epochs and history[-2:] == [1.0, 1.0]
    np.testing.assert_array_equal(p.predict(X), y)
    np.testing.assert_array_equal(p.w, w)
    assert float(p.b) == b
    q = tperc.Perceptron(2)
    assert q.fit(torch.from_numpy(X), torch.from_numpy(y), max_epochs=100) == history
    np.testing.assert_array_equal(q.w.numpy(), p.w)
    assert float(q.b) == float(p.b)


def test_perceptron_never_separates_xor():
    X, y = truth_table("xor")
    history = sperc.Perceptron(2).fit(X, y, max_epochs=100)
    assert len(history) == 100  # never an epoch without a mistake
    assert max(history) <= 0.75 and 1.0 not in history
    assert tperc.Perceptron(2).fit(torch.from_numpy(X), torch.from_numpy(y), max_epochs=100) == history
    # no threshold unit at all does better than 3 of 4: a grid over (w₁, w₂, b) for illustration
    grid = np.linspace(-3, 3, 25)
    best = max(
        np.mean(((X @ np.array([w1, w2]) + b) > 0) == y) for w1, w2, b in itertools.product(grid, grid, grid)
    )
    assert best == 0.75


def test_perceptron_bad_input():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2\), got \(4, 3\)"):
        sperc.Perceptron(2).predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="values 0 or 1"):
        sperc.Perceptron(2).fit(np.zeros((2, 2)), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="learning rate must be positive"):
        sperc.Perceptron(2, lr=0.0)


# -- XOR ------------------------------------------------------------------------
def test_hand_set_weights_compute_xor():
    assert sxor.HAND_SET_WEIGHTS == txor.HAND_SET_WEIGHTS
    out = sxor.xor_outputs(sxor.hand_set_xor_network())
    # rows (0,0), (0,1), (1,0), (1,1)
    assert out[0] < 0.05 and out[3] < 0.05 and out[1] > 0.95 and out[2] > 0.95
    np.testing.assert_allclose(out, [0.011184, 0.994936, 0.994936, 0.024389], atol=5e-6)
    compare("hand-set XOR", "outputs", out, txor.xor_outputs(txor.hand_set_xor_network()), rtol=1e-14, atol=1e-15)
    assert sxor.xor_accuracy(sxor.hand_set_xor_network()) == 1.0


def test_backprop_learns_xor_in_both_twins():
    s = sxor.xor_network(rng=0)
    t = _torch_from(s, txor.xor_network())
    s_losses = sxor.train_xor(s)
    t_losses = txor.train_xor(t)
    assert sxor.xor_accuracy(s) == txor.xor_accuracy(t) == 1.0
    assert s_losses[0] > 0.69 and s_losses[-1] < 0.01  # BCE from ≈ log 2 to < 0.01 in 300 steps
    compare("XOR training", "loss per step", np.array(s_losses), np.array(t_losses), rtol=1e-9, atol=1e-12)
    compare("XOR training", "final outputs", sxor.xor_outputs(s), txor.xor_outputs(t), rtol=1e-9, atol=1e-12)
    out = sxor.xor_outputs(s)
    assert out[0] < 0.05 and out[3] < 0.05 and out[1] > 0.95 and out[2] > 0.95


# -- softmax classifier ----------------------------------------------------------
def test_softmax_classifier_on_spiral_reports_accuracy():
    X, y = spiral(n_per_class=100, n_classes=3, seed=0)
    s = ssc.softmax_classifier(2, 3, hidden=(32,), rng=0)
    t = _torch_from(s, tsc.softmax_classifier(2, 3, hidden=(32,)))
    s_acc = ssc.train_softmax_classifier(s, X, y)
    t_acc = tsc.train_softmax_classifier(t, X, y)
    assert s_acc == t_acc  # the same predictions after every epoch
    assert s_acc[0] < 0.7 and s_acc[-1] >= 0.93, s_acc
    # a linear softmax cannot separate the arms
    lin = ssc.softmax_classifier(2, 3, rng=0)
    assert max(ssc.train_softmax_classifier(lin, X, y, epochs=10)) < 0.6
    # but separates Gaussian blobs
    Xb, yb = blobs(n_per_class=50, n_classes=3, seed=0)
    assert ssc.train_softmax_classifier(ssc.softmax_classifier(2, 3, rng=0), Xb, yb, epochs=10)[-1] > 0.9


def test_accuracy_has_zero_gradient_almost_everywhere_the_loss_does_not():
    X, y = spiral(n_per_class=20, n_classes=3, seed=1)
    model = ssc.softmax_classifier(2, 3, hidden=(8,), activation="tanh", rng=3)  # no dead ReLU: no exact-zero loss derivative
    ssc.train_softmax_classifier(model, X, y, epochs=3)  # a point part way through training
    loss_fn = sloss.CrossEntropyLoss()
    rng = np.random.default_rng(0)

    def acc():
        return ssc.accuracy(model.forward(X), y)

    def loss():
        return float(loss_fn.forward(model.forward(X), y))

    model.zero_grad()
    loss()
    model.backward(loss_fn.backward())
    for name, p in model.named_parameters():
        idx = sample_indices(p.shape, 8, rng)
        sel = tuple(np.array(i) for i in zip(*idx))
        d_acc = numerical_gradient(acc, p.data, indices=idx)
        d_loss = numerical_gradient(loss, p.data, indices=idx)
        assert not d_acc.any(), f"{name}: accuracy moved under a 1e-6 nudge"
        assert np.abs(d_loss[sel]).min() > 0, f"{name}: some loss derivative is exactly 0"
        np.testing.assert_allclose(p.grad[sel], d_loss[sel], rtol=1e-5, atol=1e-9)
    # accuracy is piecewise constant, not constant: a large step does change it
    before = acc()
    assert 0.4 < before < 1.0
    model[-1].bias.data[0] += 10.0  # class 0 wins everywhere: accuracy drops to 1/3
    assert acc() == pytest.approx(1 / 3) != before


def test_accuracy_bad_input():
    with pytest.raises(ValueError, match=r"expected logits \(N, C\) and labels \(N,\)"):
        ssc.accuracy(np.zeros((4, 3)), np.zeros(5, dtype=np.int64))


# -- learning rate ----------------------------------------------------------------
def test_learning_rate_study_three_fates():
    curves = slr.learning_rate_study()
    assert [c.label for c in curves] == list(DEFAULT_RATES)
    assert [c.verdict for c in curves] == ["diverged", "barely moved", "converged"]
    too_large, too_small, sensible = curves
    assert too_large.diverged_at == 144 and math.isinf(too_large.losses[-1])
    assert too_large.losses[100] > 1e200  # geometric growth, ≈ (1 − 5·2.55)² ≈ 139× per step
    assert 0.9 < too_small.losses[-1] / too_small.losses[0] < 0.95
    X, y, _ = linear_regression()
    X1 = np.hstack([X, np.ones((len(X), 1))])
    optimum = np.mean((X1 @ np.linalg.lstsq(X1, y, rcond=None)[0] - y) ** 2)
    np.testing.assert_allclose(sensible.losses[-1], optimum, rtol=1e-9)  # the least-squares minimum itself
    # the torch twin from the same start: same fates, same curves, the same step of divergence
    for c in curves:
        start = slr.initial_model().state_dict()
        model = _torch_from_state(start, tlr.initial_model())
        tc = tlr.loss_curve(c.lr, label=c.label, model=model)
        assert tc.verdict == c.verdict and tc.diverged_at == c.diverged_at and len(tc.losses) == len(c.losses)
        finite = [math.isfinite(v) for v in c.losses]
        compare(f"learning rate {c.lr}", "loss curve", np.array(c.losses)[finite], np.array(tc.losses)[finite], rtol=1e-9, atol=1e-12)
    table = format_curves(curves)
    assert "inf" in table and "sensible (0.1)" in table


def _torch_from_state(state, torch_model):
    load_scratch_state(torch_model, state)
    return torch_model


def test_classify_loss_curves():
    assert classify([1.0, 10.0, float("nan")]) == "diverged"
    assert classify([1.0, math.inf]) == "diverged"
    assert classify([1.0, 1.5, 2.0]) == "grew"
    assert classify([1.0, 0.99, 0.95]) == "barely moved"
    assert classify([1.0] + [0.5 * 0.9**k for k in range(50)]) == "still decreasing"
    assert classify([1.0, 0.1] + [0.01] * 20) == "converged"
    with pytest.raises(ValueError, match="at least one loss"):
        classify([])
    assert LossCurve("x", 1.0, [1.0, math.inf]).diverged_at == 1


def test_learning_rate_script_writes_tensorboard(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "learning_rate.py"
    spec = importlib.util.spec_from_file_location("learning_rate_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--logdir" in capsys.readouterr().out
    assert script.main(["--steps", "150", "--logdir", str(tmp_path), "--every", "50"]) == 0
    out = capsys.readouterr().out
    assert "diverged" in out and "barely moved" in out and "converged" in out
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for label, points in (("too_large", 144), ("too_small", 150), ("sensible", 150)):
        acc = EventAccumulator(str(tmp_path / "scratch" / label))
        acc.Reload()
        assert len(acc.Scalars("loss")) == points  # every finite loss, the inf one left out


# -- mini-batches -----------------------------------------------------------------
def test_mean_batch_loss_is_mean_of_per_sample_losses_and_so_is_its_gradient():
    rng = np.random.default_rng(0)
    model = smlp.mlp([4, 6, 3], "tanh", dtype=np.float64, rng=1)
    X, y = rng.standard_normal((10, 4)), rng.integers(0, 3, 10)
    mean_loss = sloss.CrossEntropyLoss()
    batch = float(mean_loss.forward(model.forward(X), y))
    per_sample = sloss.CrossEntropyLoss(reduction="none").forward(model.forward(X), y)
    assert per_sample.shape == (10,)
    np.testing.assert_allclose(batch, per_sample.mean(), rtol=1e-15)
    t_model = _torch_from(model, tmlp.mlp([4, 6, 3], "tanh", dtype=torch.float64))
    t_per = torch.nn.functional.cross_entropy(t_model(torch.from_numpy(X)), torch.from_numpy(y), reduction="none")
    compare("per-sample CE", "losses", per_sample, t_per, rtol=1e-13, atol=1e-15)
    # ∇ of the mean = mean of the per-sample ∇s (each sample alone, batch of one)
    model.forward(X)
    model.backward(mean_loss.backward())
    batch_grads = {n: p.grad.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    for n in range(10):
        one = sloss.CrossEntropyLoss()
        one.forward(model.forward(X[n : n + 1]), y[n : n + 1])
        model.backward(one.backward(1.0 / 10))  # grads accumulate: Σₙ (1/N) ∇ℓₙ
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, batch_grads[name], rtol=1e-12, atol=1e-15)


class _RecordingScratch(Module):
    def __init__(self, inner, seen):
        super().__init__()
        self.inner, self.seen = inner, seen

    def forward(self, x):
        self.seen.append(x.copy())
        return self.inner.forward(x)

    def backward(self, dout):
        return self.inner.backward(dout)


class _RecordingTorch(torch.nn.Module):
    def __init__(self, inner, seen):
        super().__init__()
        self.inner, self.seen = inner, seen

    def forward(self, x):
        self.seen.append(x.detach().numpy().copy())
        return self.inner(x)


def test_both_twins_train_on_identical_batches():
    X, y = blobs(n_per_class=10, n_classes=3, n_features=4, seed=2)  # 30 samples, batches 8, 8, 8, 6
    X = X + np.arange(30)[:, None] * 1e-3  # distinct rows
    s_seen, t_seen = [], []
    s = _RecordingScratch(smlp.mlp([4, 5, 3], "relu", dtype=np.float64, rng=0), s_seen)
    t = _RecordingTorch(_torch_from(s.inner, tmlp.mlp([4, 5, 3], "relu", dtype=torch.float64)), t_seen)
    s_losses = smb.minibatch_sgd(s, sloss.CrossEntropyLoss(), so.SGD(s.parameters(), lr=0.1), X, y, batch_size=8, epochs=3, seed=7)
    t_losses = tmb.minibatch_sgd(t, torch.nn.CrossEntropyLoss(), torch.optim.SGD(t.parameters(), lr=0.1), X, y, batch_size=8, epochs=3, seed=7)
    assert len(s_seen) == len(t_seen) == 12 and [len(b) for b in s_seen[:4]] == [8, 8, 8, 6]
    for a, b in zip(s_seen, t_seen):
        np.testing.assert_array_equal(a, b)
    compare("mini-batch SGD", "loss per step", np.array(s_losses), np.array(t_losses), rtol=1e-12, atol=1e-14)
    # every epoch visits every sample once, in its own order
    for epoch in range(3):
        rows = np.concatenate(s_seen[4 * epoch : 4 * epoch + 4])
        assert sorted(map(tuple, rows)) == sorted(map(tuple, X))
    assert not np.array_equal(s_seen[0], s_seen[4])


def test_batch_iterator_contract():
    a = minibatch_indices(10, 4, seed=1, epoch=2)
    assert [len(b) for b in a] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(minibatch_indices(10, 4, seed=1, epoch=2)))
    assert [len(b) for b in minibatch_indices(10, 4, drop_last=True)] == [4, 4]
    np.testing.assert_array_equal(np.concatenate(minibatch_indices(5, 2, shuffle=False)), np.arange(5))
    # epoch k's batches do not depend on where the run started (resuming sees the same batches)
    late = [b for e, (b,) in iterate_minibatches([np.arange(10)], 4, epochs=1, seed=1, start_epoch=2)]
    assert all(np.array_equal(x, y) for x, y in zip(late, a))
    with pytest.raises(ValueError, match="batch_size must be ≥ 1, got 0"):
        minibatch_indices(10, 0)
    with pytest.raises(ValueError, match=r"equal first dimensions, got \[3, 4\]"):
        next(iterate_minibatches([np.zeros(3), np.zeros(4)], 2))


def test_xor_script_prints_both_twins(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "xor.py"
    spec = importlib.util.spec_from_file_location("xor_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([]) == 0
    out = capsys.readouterr().out
    assert out.count("(0,0) 0.0112  (0,1) 0.9949  (1,0) 0.9949  (1,1) 0.0244") == 2
    assert out.count("accuracy 100%") == 2
