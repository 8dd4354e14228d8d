"""The learning rate in both twins: too large diverges, too small barely moves, sensible converges."""

import math

import numpy as np
import pytest

import scratch.learning_rate as slr
import torch_ref.learning_rate as tlr
from nnlab.common.learning_rate import DEFAULT_CLIP_NORM, DEFAULT_RATES, LossCurve, classify, format_curves
from nnlab.common.synthetic_data import linear_regression
from parity_tests.harness import compare
from parity_tests.scripts import load_script
from torch_ref.module import load_scratch_state


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
        model = tlr.initial_model()
        load_scratch_state(model, start)
        tc = tlr.loss_curve(c.lr, label=c.label, model=model)
        assert tc.verdict == c.verdict and tc.diverged_at == c.diverged_at and len(tc.losses) == len(c.losses)
        finite = [math.isfinite(v) for v in c.losses]
        compare(f"learning rate {c.lr}", "loss curve", np.array(c.losses)[finite], np.array(tc.losses)[finite], rtol=1e-9, atol=1e-12)
    table = format_curves(curves)
    assert "inf" in table and "sensible (0.1)" in table


def test_clipping_keeps_the_too_large_rate_finite_in_both_twins():
    """lr = 5 overflows at step 144 unclipped; with clip_grad_norm_(max_norm=0.1) before every step each
    step moves θ by at most lr·max_norm = 0.5, the loss stays finite and ends bouncing across the minimum
    (between 0.0585 and 0.134; the least-squares minimum is 0.0120). Torch follows the same trajectory."""
    lr = DEFAULT_RATES["too large"]
    assert slr.loss_curve(lr).diverged_at == 144
    model = slr.initial_model()
    start = {k: v.copy() for k, v in model.state_dict().items()}
    weights = []  # θ before each step
    clipped = slr.clipped_curve(model=model, on_step=lambda k, loss: weights.append(
        np.concatenate([p.data.ravel() for p in model.parameters()])))
    assert clipped.clip_norm == DEFAULT_CLIP_NORM and len(clipped.losses) == 200
    assert all(math.isfinite(v) for v in clipped.losses) and max(clipped.losses) == clipped.losses[0]
    assert clipped.clipped_steps == 200 and min(clipped.grad_norms) > 0.25  # every gradient was longer than 0.1
    moves = np.linalg.norm(np.diff(np.array(weights), axis=0), axis=1)
    assert np.all(moves <= lr * DEFAULT_CLIP_NORM * (1 + 1e-12)) and moves.min() > 0.49
    tail = clipped.losses[-20:]
    assert 0.05 < min(tail) and max(tail) < 0.14  # finite, but not settled at the minimum (0.0120)
    np.testing.assert_allclose(tail[::2], tail[0], rtol=1e-3)  # a two-step bounce across the minimum
    assert "stays finite" in clipped.summary() and "shortened 200 of 200 steps" in clipped.summary()

    torch_model = tlr.initial_model()
    load_scratch_state(torch_model, start)
    tc = tlr.clipped_curve(model=torch_model)
    compare("clipped lr=5", "loss curve", np.array(clipped.losses), np.array(tc.losses), rtol=1e-9, atol=1e-12)
    compare("clipped lr=5", "gradient norm before clipping", np.array(clipped.grad_norms), np.array(tc.grad_norms),
            rtol=1e-9, atol=1e-12)
    for name, p in torch_model.named_parameters():
        compare("clipped lr=5", f"final {name}", dict(model.named_parameters())[name].data, p.detach().numpy(),
                rtol=1e-9, atol=1e-12)


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
    script = load_script("learning_rate")
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--logdir" in capsys.readouterr().out
    assert script.main(["--steps", "150", "--logdir", str(tmp_path), "--every", "50"]) == 0
    out = capsys.readouterr().out
    assert "diverged" in out and "barely moved" in out and "converged" in out
    assert "   clipped  lr=5        stays finite: loss 5.862 → between" in out
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for label, points in (("too_large", 144), ("too_small", 150), ("sensible", 150), ("clipped", 150)):
        acc = EventAccumulator(str(tmp_path / "scratch" / label))
        acc.Reload()
        assert len(acc.Scalars("loss")) == points  # every finite loss, the inf one left out
    assert len(acc.Scalars("grad_norm")) == 150
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args(["--clip-norm", "-1"])
    assert exit_info.value.code == 2
    assert "--clip-norm must be a number ≥ 0" in capsys.readouterr().err

