"""``scripts/vanishing_gradients.py``: its help explains the study, a short run writes the table, the plot
and both twins' TensorBoard runs (and no progress bar into a log that is not a terminal), arguments out
of range are argparse errors, and the optional photo input comes through the dog/cat cache."""

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
    ])
    assert rc == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "| sigmoid" in printed and "| relu" in printed
    assert "\r" not in captured.out + captured.err  # not a terminal: no progress bar, whole lines only
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


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "argument --steps: expected an integer ≥ 1, got 0"),
    (["--batch-size", "0"], "argument --batch-size: expected an integer ≥ 1, got 0"),
    (["--batch-size", "5000"], "argument --batch-size: expected at most the task's 2048 samples, got 5000"),
    (["--depth", "1"], "argument --depth: expected an integer ≥ 4, got 1"),
    (["--depth", "3"], "argument --depth: expected an integer ≥ 4, got 3"),
    (["--lr", "-1"], "argument --lr: expected a finite number > 0, got -1"),
    (["--momentum", "1"], "argument --momentum: expected a number in [0, 1), got 1"),
    (["--log-every", "x"], "argument --log-every: expected an integer, got 'x'"),
    (["--data", "photos"], "argument --data: applies only with --task dogcat"),
])
def test_arguments_out_of_range_are_argparse_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        load_script("vanishing_gradients").parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_every_run_logs_at_least_three_steps_and_the_default_study_every_20():
    from nnlab.vanishing.loops import logged_steps

    parse = load_script("vanishing_gradients").parse_args
    for steps, expected in [(20, [0, 5, 10, 15]), (50, [0, 20, 40]), (3, [0, 1, 2]), (41, [0, 20, 40])]:
        assert logged_steps(steps, parse(["--steps", str(steps)]).log_every) == expected, steps
    assert parse([]).log_every == 20 and parse(["--steps", "20", "--log-every", "7"]).log_every == 7



def test_the_plots_lines_are_told_apart_by_at_least_two_of_colour_line_style_and_marker():
    from itertools import combinations

    from nnlab.vanishing.config import default_configs
    from nnlab.vanishing.report import line_style

    styles = [line_style(i, c.activation) for i, c in enumerate(default_configs())]
    assert len(styles) == 11
    for a, b in combinations(styles, 2):
        assert sum(x != y for x, y in zip(a, b)) >= 2, (a, b)
