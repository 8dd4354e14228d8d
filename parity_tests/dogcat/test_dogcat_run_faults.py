"""The trainer's command line under faults and misuse: resuming with saved settings, a run folder used
twice, bad paths found before training, degenerate splits, Ctrl-C and SIGTERM, and unexpected errors."""

import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnlab.dogcat import config as dogcat_config
from nnlab.dogcat import checkpoint as ckpt_io
from nnlab.dogcat.twins import TorchTwin
from parity_tests.dogcat.photos import make_coloured_classes
from parity_tests.scripts import load_script

@pytest.fixture
def photos(tmp_path):
    """12 cats (blue) and 12 dogs (red) as 24x24 JPEGs in class folders."""
    return make_coloured_classes(tmp_path / "photos")


@pytest.fixture
def trainer(tmp_path, photos, capsys, monkeypatch):
    """``trainer(*flags)`` runs scripts/train_dogcat.py on the photos into ``tmp_path/run``:
    (exit status, stdout, stderr)."""
    monkeypatch.delenv("DOGCAT_DATA", raising=False)
    script = load_script("train_dogcat")

    def run(*flags, data=photos, logdir=tmp_path / "run"):
        argv = ["--image-size", "8", "--cache-dir", str(tmp_path / "cache"), "--workers", "1", "--batch-size", "8",
                "--no-progress", "--device", "cpu", "--lr", "0.01", "--scheduler", "none", *flags]
        argv += ["--data", str(data)] if data is not None else []
        argv += ["--logdir", str(logdir)] if logdir is not None else []
        code = script.main(argv)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def event_files(folder: Path) -> list[tuple[str, int]]:
    return sorted((p.name, p.stat().st_size) for p in folder.rglob("events.out.tfevents.*"))


# -- 5. --resume keeps the run's settings --------------------------------------------------------

def test_resume_alone_keeps_epochs_and_max_steps_and_a_finished_run_writes_nothing(trainer, tmp_path):
    run = tmp_path / "run"
    code, out, _ = trainer("--epochs", "2", "--max-steps", "2")  # 20 training images: 3 steps an epoch
    assert code == 0 and "stopped after 2 steps" in out
    code, out, _ = trainer("--resume", str(run), logdir=None, data=None)
    assert code == 0 and "nothing to train" in out and "--max-steps 2" in out
    code, out, _ = trainer("--resume", str(run), "--max-steps", "0", logdir=None, data=None)
    assert code == 0 and "epoch 2/2" in out and "epoch 3" not in out  # the saved --epochs 2, not the default 15
    saved = ckpt_io.load_checkpoint(run)
    assert (saved["epoch"], saved["global_step"], saved["config"]["epochs"]) == (2, 6, 2)

    events, checkpoint = event_files(run), (run / "checkpoint.pt").read_bytes()
    code, out, _ = trainer("--resume", str(run), logdir=None, data=None)
    assert code == 0 and f"nothing to train in {run}: the run has finished 2 of 2 epochs" in out
    assert event_files(run) == events and (run / "checkpoint.pt").read_bytes() == checkpoint  # nothing written


def test_resume_refuses_a_setting_it_cannot_change(trainer, tmp_path):
    assert trainer("--epochs", "1", "--no-tensorboard")[0] == 0
    code, _, err = trainer("--resume", str(tmp_path / "run"), "--epochs", "2", "--model", "mlp", "--lr", "0.5",
                           logdir=None)
    assert code == 2
    assert "error: cannot change on --resume: --lr 0.5 (the run has 0.01); --model 'mlp' (the run has " \
           "'logistic')" in err
    assert ckpt_io.load_checkpoint(tmp_path / "run")["epoch"] == 1  # untouched


def test_resume_follows_a_moved_data_folder_and_refuses_other_photos(trainer, tmp_path, photos, monkeypatch):
    run = tmp_path / "run"
    assert trainer("--epochs", "1", "--no-tensorboard")[0] == 0
    moved = shutil.move(str(photos), str(tmp_path / "moved"))
    code, out, _ = trainer("--resume", str(run), "--epochs", "2", data=moved, logdir=None)
    assert code == 0 and "epoch 2/2" in out
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(Path(moved) / "dog" / "extra.jpg")
    monkeypatch.setenv("DOGCAT_DATA", moved)  # the environment is honoured as --data is
    code, _, err = trainer("--resume", str(run), "--epochs", "3", data=None, logdir=None)
    assert code == 2 and f"error: the photos in {moved} (25 images) are not the ones this run was trained on " \
                         f"(24 images in {moved})" in err


# -- 6. a run folder used twice -----------------------------------------------------------------

def test_a_folder_holding_a_run_is_refused_unless_resumed_or_overwritten(trainer, tmp_path):
    run = tmp_path / "run"
    assert trainer("--epochs", "1")[0] == 0
    before, events = (run / "checkpoint.pt").read_bytes(), event_files(run)
    code, _, err = trainer("--epochs", "1", "--seed", "3")
    assert code == 2 and f"error: --logdir {run} already holds a run (" in err
    assert f"continue it with --resume {run}, replace it with --overwrite" in err
    assert (run / "checkpoint.pt").read_bytes() == before and event_files(run) == events
    code, out, _ = trainer("--epochs", "1", "--seed", "3", "--overwrite")
    assert code == 0 and "epoch 1/1" in out
    assert ckpt_io.load_checkpoint(run)["config"]["seed"] == 3
    assert len(event_files(run)) == 1 and event_files(run)[0][0] not in {name for name, _ in events}
    assert trainer("--resume", str(run), "--overwrite", logdir=None)[0] == 2  # a contradiction


def test_default_run_folders_never_collide(tmp_path):
    config = dogcat_config.TrainConfig()
    first = Path(dogcat_config.default_logdir(config, root=str(tmp_path)))
    first.mkdir()
    second = Path(dogcat_config.default_logdir(config, root=str(tmp_path)))
    assert second != first and second.name.startswith(first.name[:15])


# -- 7. bad paths are found before training, with an error line and exit 2 -------------------------

def test_a_logdir_that_is_a_file_fails_before_the_data_is_read(trainer, tmp_path):
    (tmp_path / "taken").write_text("a file")
    for logdir, what in ((tmp_path / "taken", "is a file"), (tmp_path / "taken" / "run", "lies under")):
        code, _, err = trainer("--epochs", "1", "--no-tensorboard", logdir=logdir)
        assert code == 2 and f"error: --logdir {logdir} {what}" in err and "Traceback" not in err
    assert not (tmp_path / "cache").exists()  # refused before a single photo was decoded


def test_an_unwritable_cache_folder_is_an_error_line(trainer, tmp_path):
    (tmp_path / "file").write_text("a file")
    code, _, err = trainer("--epochs", "1", "--cache-dir", str(tmp_path / "file" / "cache"))
    assert code == 2 and "error: cannot write the image cache in" in err and "--cache-dir" in err


def test_an_unexpected_failure_prints_its_traceback_and_exits_3(monkeypatch, capsys):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    script = load_script("train_dogcat")
    monkeypatch.setattr("nnlab.cli.train.train", bug)  # the program behind the script
    assert script.main(["--no-progress"]) == 3  # 1 means "training diverged"
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: a bug" in err and "error: unexpected failure" in err


# -- 9. degenerate splits -------------------------------------------------------------------------

def test_no_training_images_is_an_error_and_no_validation_images_reads_n_a(trainer):
    code, _, err = trainer("--epochs", "1", "--val-fraction", "0.99")
    assert code == 2 and "error: no training images: --val-fraction 0.99 puts all 24 images into the validation" in err
    code, out, _ = trainer("--epochs", "1", "--val-fraction", "0.01", "--no-tensorboard")
    assert code == 0 and "val loss n/a acc n/a" in out and "confusion matrix" not in out
    assert "0/24 validation" not in out and "24 train / 0 validation" in out


# -- 10. Ctrl-C and SIGTERM ------------------------------------------------------------------------

def _interrupt_on_step(monkeypatch, step):
    real, calls = TorchTwin.train_step, []

    def train_step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == step:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(TorchTwin, "train_step", train_step)


def test_ctrl_c_names_the_checkpoint_that_exists_and_the_command_to_resume(trainer, tmp_path, monkeypatch):
    run = tmp_path / "run"
    _interrupt_on_step(monkeypatch, 2)  # before the first checkpoint
    code, _, err = trainer("--epochs", "2", "--no-tensorboard")
    assert code == 130 and "interrupted at global step 1, before any checkpoint was written: no checkpoint to " \
                           "resume from" in err and "<logdir>" not in err
    _interrupt_on_step(monkeypatch, 5)  # in epoch 2: the checkpoint of epoch 1 exists
    code, _, err = trainer("--epochs", "2", "--no-tensorboard")
    checkpoint = run / "checkpoint.pt"
    assert code == 130 and f"interrupted at global step 4; the last checkpoint is {checkpoint} (end of epoch 1)" in err
    assert err.rstrip().endswith(f"--resume {checkpoint}") and checkpoint.is_file()
    monkeypatch.undo()
    code, out, _ = trainer("--resume", str(checkpoint), logdir=None, data=None)
    assert code == 0 and "epoch 2/2" in out


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_sigterm_during_the_first_pass_stops_cleanly_with_143(trainer, tmp_path, monkeypatch):
    """SIGTERM (timeout, Slurm, docker stop) while the cache is being built: the half-built file is
    removed, the line says there is nothing to resume, and the status is 143."""
    from nnlab.dogcat import decode as dogcat_decode

    real, calls = dogcat_decode.decode_image, []

    def terminated_midway(path, size=100):
        calls.append(path)
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises in this (main) thread
            time.sleep(1)
        return real(path, size)

    monkeypatch.setattr(dogcat_decode, "decode_image", terminated_midway)
    before = signal.getsignal(signal.SIGTERM)
    code, _, err = trainer("--epochs", "1", "--no-tensorboard")
    assert code == 143 and len(calls) == 5
    assert "interrupted before training started: no checkpoint to resume from" in err and "Traceback" not in err
    assert [p.name for p in (tmp_path / "cache").iterdir() if ".tmp" in p.name] == []
    assert signal.getsignal(signal.SIGTERM) is before  # the script put the handler back
