"""The run folder: config.json, metrics.csv, learning_curve.png and summary.json beside the
checkpoint, written with the umask's permissions; a resumed run continues metrics.csv without a
repeated row; the training script piped to a file writes whole lines only."""

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from nnlab.dogcat.config import TrainConfig
from nnlab.dogcat.run_folder import (
    COLUMNS, CONFIG_NAME, CURVE_NAME, METRICS_NAME, SUMMARY_NAME, metrics_csv, read_metrics,
)
from nnlab.dogcat.train import train
from parity_tests.dogcat.tiny_data import tiny_config, tiny_dogcat
from parity_tests.scripts import SCRIPTS

quiet = dict(log=lambda msg: None)


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_files_columns_and_values_of_a_lockstep_run(tmp_path, umask_027):
    result = train(tiny_config(tmp_path, impl="both", epochs=3), data=tiny_dogcat(), **quiet)
    run = tmp_path / "run"
    for name in (CONFIG_NAME, METRICS_NAME, CURVE_NAME, SUMMARY_NAME, "checkpoint.pt"):
        assert (run / name).stat().st_mode & 0o777 == 0o640, name  # 0o666 less the umask, not mkstemp's 0o600
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]

    rows = read_metrics(run / METRICS_NAME)
    assert list(rows[0]) == list(COLUMNS)  # with both twins every column is there, in this order
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for row, record in zip(rows, result.history):
        for key in ("train_loss", "val_accuracy", "scratch_val_loss", "parity_max_abs_diff", "seconds"):
            assert float(row[key]) == record[key]  # full precision
        assert float(row["lr"]) == 0.05
        assert float(row["images_per_second"]) == pytest.approx(64 / record["seconds"])  # 64 training images
        assert int(row["global_step"]) == 4 * int(row["epoch"])

    saved = json.loads((run / CONFIG_NAME).read_text())
    assert TrainConfig.from_dict(saved) == tiny_config(tmp_path, impl="both", epochs=3).validated()
    assert saved["resolved"]["device"] == "cpu" and saved["resolved"]["train_images"] == 64
    assert saved["resolved"]["optimizer"] == {"name": "Adam", "lr": 0.05, "weight_decay": 0.0}

    summary = json.loads((run / SUMMARY_NAME).read_text())
    last = result.history[-1]
    assert summary["finished"] is True and summary["epochs"] == 3 and summary["global_step"] == 12
    assert summary["final"]["val_accuracy"] == last["val_accuracy"]
    best = max(result.history, key=lambda r: r["val_accuracy"])
    assert summary["best_val_accuracy"] == {"value": best["val_accuracy"], "epoch": best["epoch"]}
    assert summary["parity_max_abs_diff"] == max(r["parity_max_abs_diff"] for r in result.history)
    assert summary["confusion"] == result.confusion.tolist()
    assert (run / CURVE_NAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_resumed_run_continues_metrics_csv_without_repeating_a_row(tmp_path):
    data = tiny_dogcat()
    full = train(tiny_config(tmp_path / "full", epochs=3), data=data, **quiet)
    first = train(tiny_config(tmp_path, epochs=3, max_steps=6), data=data, **quiet)  # epoch 1 and half of 2
    run = tmp_path / "run"
    assert [r["epoch"] for r in read_metrics(run / METRICS_NAME)] == ["1"]
    assert json.loads((run / SUMMARY_NAME).read_text())["finished"] is False and not first.finished
    with open(run / METRICS_NAME, "a") as f:  # a row past the checkpoint, as a crash could leave one
        f.write("2,8,9,9,9,9,9,9,9\n")
    lift_limit = replace(tiny_config(tmp_path, max_steps=0), given=frozenset({"max_steps"}))  # --max-steps 0
    resumed = train(lift_limit, data=data, resume=str(run / "checkpoint.pt"), **quiet)
    rows = read_metrics(run / METRICS_NAME)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert [float(r["val_loss"]) for r in rows] == [h["val_loss"] for h in full.history]
    assert [float(r["train_loss"]) for r in rows] == [h["train_loss"] for h in resumed.history]
    assert json.loads((run / SUMMARY_NAME).read_text())["finished"] is True


def test_metrics_csv_leaves_missing_and_nan_cells_empty():
    text = metrics_csv([{"epoch": 1, "global_step": 2, "val_loss": float("nan")},
                        {"epoch": 2, "global_step": 4, "val_loss": 0.5, "lr": 0.1}])
    assert text.splitlines() == ["epoch,global_step,val_loss,lr", "1,2,,", "2,4,0.5,0.1"]


def test_the_script_piped_to_a_file_writes_whole_lines_and_the_run_folder(tmp_path):
    """No progress bar, no carriage return in a piped log: one line per epoch."""
    from nnlab.dogcat.synthetic import synthetic_dogcat

    photos = synthetic_dogcat(tmp_path / "photos", n=24, size=16)
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "DOGCAT_DATA")}
    env["DOGCAT_CACHE"] = str(tmp_path / "cache")
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "train_dogcat.py"), "--data", str(photos), "--image-size", "16",
         "--epochs", "2", "--batch-size", "8", "--device", "cpu", "--no-tensorboard", "--logdir", str(tmp_path / "run")],
        capture_output=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"\r" not in done.stdout + done.stderr
    epoch_lines = [line for line in done.stdout.decode().splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epoch_lines] == ["epoch 1/2", "epoch 2/2"]
    assert {CONFIG_NAME, METRICS_NAME, CURVE_NAME, SUMMARY_NAME} <= {p.name for p in (tmp_path / "run").iterdir()}
