"""The learning rate in both twins: too large diverges, too small barely moves, sensible converges."""

import math

import numpy as np
import pytest

import scratch.learning_rate as slr
import torch_ref.learning_rate as tlr
from nnlab.common.learning_rate import DEFAULT_RATES, LossCurve, classify, format_curves
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
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for label, points in (("too_large", 144), ("too_small", 150), ("sensible", 150)):
        acc = EventAccumulator(str(tmp_path / "scratch" / label))
        acc.Reload()
        assert len(acc.Scalars("loss")) == points  # every finite loss, the inf one left out

