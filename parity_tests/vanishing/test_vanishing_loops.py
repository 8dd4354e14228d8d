"""The study's loops: the torch loop reads back only on logged steps, both twins train identically,
and the logging overhead is measured."""

import numpy as np
import pytest

from nnlab.vanishing import stats
from nnlab.vanishing.config import MLPConfig, StudySettings
from nnlab.vanishing.loops import logged_steps, train_torch
from nnlab.vanishing.networks import twin_mlps
from nnlab.vanishing.overhead import measure_logging_overhead
from nnlab.vanishing.study import run_config
from nnlab.vanishing.task import make_synthetic_task, minibatch_schedule
from parity_tests.harness import compare
from parity_tests.vanishing.network import CLASSES, IN, SEED


def test_torch_loop_reads_back_only_on_logged_steps(monkeypatch):
    """The torch loop copies to the host once per logged step, plus once for the training-set
    loss before and after: no synchronisation on the other steps (counted through ``to_host``)."""
    calls = []
    real = stats.to_host
    monkeypatch.setattr(stats, "to_host", lambda packed: calls.append(packed.numel()) or real(packed))
    task = make_synthetic_task(256, IN, CLASSES, seed=SEED)
    _, t = twin_mlps(MLPConfig("relu", "he", False, 4, 16), IN, CLASSES, np.float64, seed=SEED)
    schedule = minibatch_schedule(256, 64, 9, SEED)
    loop = train_torch(t, task, schedule, lr=0.05, momentum=0.9, log_every=4, stats_on_device=True)
    assert loop.logged_steps == logged_steps(9, 4) == [0, 4, 8]
    assert len(calls) == len(loop.logged_steps) + 2 and len(loop.stats) == 3


def test_twins_train_identically():
    """Same weights, same minibatches, same SGD: the logged losses and gradient norms agree in float64."""
    settings = StudySettings(steps=6, batch_size=64, log_every=2, n_samples=256)
    task = make_synthetic_task(256, IN, CLASSES, seed=SEED)
    for cfg in (MLPConfig("tanh", "xavier", False, 4, 16), MLPConfig("sigmoid", "default", True, 4, 16)):
        runs = run_config(cfg, task, settings).runs
        s, t = runs["scratch"], runs["torch"]
        assert s.logged_steps == t.logged_steps == [0, 2, 4]
        compare(cfg.name, "logged losses", [x.loss for x in s.stats], [x.loss for x in t.stats], rtol=1e-10, atol=1e-12)
        compare(cfg.name, "grad norms at step 4", s.stats[-1].weight_grad_norm, t.stats[-1].weight_grad_norm,
                rtol=1e-9, atol=0)
        assert s.initial_loss == pytest.approx(t.initial_loss, rel=1e-12)
        assert s.final_loss == pytest.approx(t.final_loss, rel=1e-10)
        assert s.run_name == f"scratch/{cfg.name}" and t.run_name == f"torch/{cfg.name}"


def test_logging_overhead_measurement_runs():
    out = measure_logging_overhead(MLPConfig("relu", "he", False, 3, 8), StudySettings(log_every=5), repeats=2)
    assert out["seconds_logged_step_full"] > 0 and out["seconds_plain_step"] > 0
    assert set(out) >= {"total_overhead", "histogram_overhead", "log_every", "seconds_depth_profile"}
