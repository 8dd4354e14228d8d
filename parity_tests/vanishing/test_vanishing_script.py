"""``scripts/vanishing_gradients.py``: its help explains the study, a short run writes the table, the plot
and both twins' TensorBoard runs, and the optional photo input comes through the dog/cat cache."""

import numpy as np
import pytest

from nnlab.vanishing.task import load_dogcat_task
from parity_tests.scripts import load_script


def test_script_help_explains(capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script("vanishing_gradients").parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("--device", "--logdir", "--out", "tensorboard --logdir runs", "1/4", "scratch/<config>"):
        assert word in text


def test_script_writes_table_plot_and_logs(tmp_path, capsys):
    rc = load_script("vanishing_gradients").main([
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
    from nnlab.dogcat.data import synthetic_dogcat

    monkeypatch.setenv("DOGCAT_CACHE", str(tmp_path / "cache"))
    photos = synthetic_dogcat(tmp_path / "photos", n=12, size=100)
    task, source = load_dogcat_task(photos, n_samples=10, progress=False)
    assert "photos" in source
    assert task.x.shape == (10, 3 * 20 * 20) and task.x.dtype == np.float64 and task.n_classes == 2
    assert set(np.unique(task.y)) <= {0, 1}
    np.testing.assert_allclose(task.x.mean(axis=0), 0, atol=1e-12)
