"""Prediction from a checkpoint: good files print P(dog) and a label, bad files get their own error."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnlab.dogcat.config import TrainConfig
from nnlab.dogcat.data import ArrayData
from nnlab.dogcat.predict import Predictor, run
from nnlab.dogcat.train import train
from parity_tests.scripts import load_script


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A logistic model on 16x16 images whose "dogs" are red, "cats" blue."""
    rng = np.random.default_rng(0)
    n = 96
    labels = (np.arange(n) % 2).astype(np.int64)
    images = rng.integers(0, 120, (n, 3, 16, 16)).astype(np.uint8)
    images[labels == 1, 0] += 135
    images[labels == 0, 2] += 135
    logdir = tmp_path_factory.mktemp("predict_run")
    train(TrainConfig(impl="torch", epochs=3, batch_size=16, lr=0.05, logdir=str(logdir), tensorboard=False,
                      progress=False, device="cpu", image_size=16), data=ArrayData(images, labels),
          log=lambda msg: None)
    yield logdir / "checkpoint.pt"


@pytest.fixture
def image_files(tmp_path):
    """Good images in several modes and formats, and the broken files photo folders really contain."""
    red = np.zeros((40, 30, 3), np.uint8)
    red[..., 0] = 230
    blue = np.zeros((25, 25, 3), np.uint8)
    blue[..., 2] = 230
    files = {
        "red.jpg": lambda p: Image.fromarray(red).save(p, quality=95),
        "blue.png": lambda p: Image.fromarray(blue).save(p),
        "rgba.png": lambda p: Image.fromarray(np.dstack([red, np.full((40, 30), 255, np.uint8)]), "RGBA").save(p),
        "gray.jpg": lambda p: Image.fromarray(np.full((20, 20), 128, np.uint8), "L").save(p),
        "empty.jpg": lambda p: p.write_bytes(b""),
        "truncated.jpg": lambda p: p.write_bytes((tmp_path / "red.jpg").read_bytes()[:60]),
        "Thumbs.db": lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0 not an image"),
    }
    paths = {}
    for name, make in files.items():
        path = tmp_path / name
        make(path)
        paths[name] = str(path)
    paths["missing.jpg"] = str(tmp_path / "missing.jpg")
    paths["folder"] = str(tmp_path)
    return paths


def test_good_files_predict_and_bad_files_report(checkpoint, image_files):
    predictions = Predictor.from_checkpoint(checkpoint, device="cpu").predict_files(image_files.values())
    by_name = {Path(p.path).name if p.path != image_files["folder"] else "folder": p for p in predictions}
    assert [p.path for p in predictions] == list(image_files.values())  # order kept
    for name in ("red.jpg", "blue.png", "rgba.png", "gray.jpg"):
        assert by_name[name].ok and 0.0 <= by_name[name].prob_dog <= 1.0
    assert by_name["red.jpg"].label == "dog" and by_name["red.jpg"].prob_dog > 0.9
    assert by_name["blue.png"].label == "cat" and by_name["blue.png"].prob_dog < 0.1
    for name in ("empty.jpg", "truncated.jpg", "Thumbs.db", "missing.jpg", "folder"):
        assert not by_name[name].ok and by_name[name].error, name
    assert "folder" in by_name["folder"].error


def test_scratch_twin_predicts_the_same(checkpoint, image_files):
    good = [image_files[n] for n in ("red.jpg", "blue.png", "gray.jpg")]
    t = Predictor.from_checkpoint(checkpoint, impl="torch", device="cpu").predict_files(good)
    s = Predictor.from_checkpoint(checkpoint, impl="scratch").predict_files(good)
    assert [p.label for p in t] == [p.label for p in s]
    np.testing.assert_allclose([p.prob_dog for p in t], [p.prob_dog for p in s], rtol=1e-5, atol=1e-6)


def test_run_prints_lines_and_fails_when_any_file_fails(checkpoint, image_files):
    out, err = io.StringIO(), io.StringIO()
    paths = [image_files["red.jpg"], image_files["empty.jpg"], image_files["blue.png"]]
    assert run(str(checkpoint), paths, device="cpu", out=out, err=err) == 1
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith(paths[0]) and lines[0].endswith("\tdog")
    assert "P(dog)=" in lines[1] and lines[1].endswith("\tcat")
    assert f"{paths[1]}\terror:" in err.getvalue() and "1 of 3 files could not be read" in err.getvalue()
    out2 = io.StringIO()
    assert run(str(checkpoint), paths[::2], device="cpu", out=out2, err=io.StringIO()) == 0


def test_predict_script_end_to_end(checkpoint, image_files, capsys):
    script = load_script("predict")
    code = script.main(["--checkpoint", str(checkpoint), "--device", "cpu",
                        image_files["red.jpg"], image_files["truncated.jpg"]])
    captured = capsys.readouterr()
    assert code == 1
    assert "P(dog)=" in captured.out and "\tdog" in captured.out
    assert "truncated.jpg\terror:" in captured.err
    assert script.main(["--checkpoint", str(checkpoint.parent / "nope.pt"), image_files["red.jpg"]]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["predict", "train_dogcat"])
def test_scripts_explain_every_flag(name, capsys):
    parser = load_script(name).build_parser()
    for action in parser._actions:
        assert action.help, f"{name}: flag {action.option_strings or action.dest} has no help text"
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert ("--checkpoint" if name == "predict" else "--impl {torch,scratch,both}") in capsys.readouterr().out


def test_train_script_runs_and_resumes(tmp_path, capsys):
    """The script trains on a folder of photos (through the data module), then resumes to more epochs."""
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    for cls, channel in (("cat", 2), ("dog", 0)):
        (photos / cls).mkdir(parents=True)
        for i in range(12):
            img = rng.integers(0, 120, (24, 24, 3)).astype(np.uint8)
            img[..., channel] += 120
            Image.fromarray(img).save(photos / cls / f"{i}.jpg")
    (photos / "dog" / "broken.jpg").write_bytes(b"")
    script = load_script("train_dogcat")
    logdir = tmp_path / "run"
    common = ["--data", str(photos), "--image-size", "8", "--cache-dir", str(tmp_path / "cache"), "--workers", "1",
              "--batch-size", "8", "--logdir", str(logdir), "--no-progress", "--device", "cpu"]
    assert script.main(common + ["--epochs", "1", "--lr", "0.01"]) == 0
    out = capsys.readouterr()
    assert "epoch 1/1" in out.out and "confusion matrix" in out.out
    assert script.main(common + ["--epochs", "2", "--resume", str(logdir / "checkpoint.pt")]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch 2/2" in out and "epoch 1/2" not in out
    assert script.main(common + ["--lr", "-1"]) == 2
    assert "lr" in capsys.readouterr().err
