"""The vanishing-gradient study on CUDA: per-layer statistics equal to the CPU run's (float64, 1e-10), and no
host synchronisation on the steps it does not log.

Skipped with the reason where torch sees no CUDA device; ``make gpu-check`` runs them on a GPU machine.
"""

import numpy as np
import pytest
import torch

from nnlab.vanishing import loops
from nnlab.vanishing.config import MLPConfig, StudySettings
from nnlab.vanishing.study import run_config
from nnlab.vanishing.task import make_synthetic_task
from parity_tests.cuda.gpu import CUDA
from parity_tests.harness import compare

pytestmark = CUDA

SETTINGS = StudySettings(steps=12, batch_size=64, log_every=5, n_samples=512)  # logs steps 0, 5 and 10
CONFIGS = [MLPConfig("sigmoid", "default", False, 6, 32), MLPConfig("relu", "he", True, 6, 32)]


def torch_run(config, device):
    task = make_synthetic_task(SETTINGS.n_samples, SETTINGS.in_features, SETTINGS.n_classes, SETTINGS.seed)
    return run_config(config, task, SETTINGS, implementations=("torch",), device=device).runs["torch"]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_statistics_on_cuda_equal_the_cpu_run(config):
    gpu, cpu = torch_run(config, "cuda"), torch_run(config, "cpu")
    assert gpu.logged_steps == cpu.logged_steps == [0, 5, 10]
    assert gpu.initial_loss == pytest.approx(cpu.initial_loss, rel=1e-10)
    assert gpu.final_loss == pytest.approx(cpu.final_loss, rel=1e-10)
    for step, g, c in zip(gpu.logged_steps, gpu.stats, cpu.stats):
        where = f"{config.name} step {step}"
        compare(where, "loss", g.loss, c.loss, rtol=1e-10, atol=1e-12)
        for field in ("weight_grad_norm", "bias_grad_norm", "dead_fraction", "zero_grad_fraction"):
            a, b = getattr(g, field), getattr(c, field)
            assert np.array_equal(np.isnan(a), np.isnan(b)), f"{where}: {field} missing in one run only"
            compare(where, field, np.nan_to_num(a), np.nan_to_num(b), rtol=1e-10, atol=1e-12)
        assert g.histograms.keys() == c.histograms.keys() and g.histograms
        for tag, hg in g.histograms.items():
            hc = c.histograms[tag]
            compare(where, f"{tag} range and moments", [hg.min, hg.max, hg.num, hg.sum, hg.sum_squares],
                    [hc.min, hc.max, hc.num, hc.sum, hc.sum_squares], rtol=1e-10, atol=1e-12)
            assert hg.bucket_counts.sum() == hc.bucket_counts.sum() == hc.num
            # a value within round-off of a bin edge may fall on either side of it: at most one move per edge
            moved = np.abs(np.cumsum(hg.bucket_counts) - np.cumsum(hc.bucket_counts)).max()
            assert moved <= 1, f"{where}: {tag}: {moved} values in other bins"


def test_unlogged_steps_never_wait_for_the_device(monkeypatch):
    """``torch.cuda.set_sync_debug_mode("error")`` on every step that is not logged: any synchronising call there
    (a read-back, an ``.item()``, a pageable copy) raises. Logged steps and the loss of the whole set before and
    after read back on purpose, with the mode off."""
    real_pass, real_host, real_loss = loops.torch_pass, loops.torch_stats_host, loops.torch_train_set_loss
    strict_steps = []

    def torch_pass(model, x, y, loss_fn, record=True):
        torch.cuda.set_sync_debug_mode(0 if record else "error")  # stays on through this step's optimizer step
        if not record:
            strict_steps.append(True)
        return real_pass(model, x, y, loss_fn, record=record)

    def relaxed(fn):
        def call(*args, **kwargs):
            torch.cuda.set_sync_debug_mode(0)
            return fn(*args, **kwargs)
        return call

    monkeypatch.setattr(loops, "torch_pass", torch_pass)
    monkeypatch.setattr(loops, "torch_stats_host", relaxed(real_host))
    monkeypatch.setattr(loops, "torch_train_set_loss", relaxed(real_loss))
    try:
        run = torch_run(CONFIGS[1], "cuda")  # BatchNorm and ReLU: running statistics, dead units
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert len(strict_steps) == SETTINGS.steps - 3 and run.logged_steps == [0, 5, 10]
    with pytest.raises(RuntimeError, match="synchroniz"):  # the mode does catch a read-back
        torch.cuda.set_sync_debug_mode("error")
        try:
            torch.ones(1, device="cuda").item()
        finally:
            torch.cuda.set_sync_debug_mode(0)
