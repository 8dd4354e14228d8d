"""Prediction from a checkpoint: good files print P(dog) and a label, bad files get their own error."""

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnlab.dogcat.config import TrainConfig
from nnlab.dogcat.data import ArrayData
from nnlab.dogcat.predict import Predictor, run
from nnlab.dogcat.train import train
from parity_tests.dogcat.test_dogcat_faults import in_thread
from parity_tests.dogcat.photos import make_coloured_classes
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
    photos = make_coloured_classes(tmp_path / "photos")
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


# -- folders: every layout, scores against values computed here, streaming --------------------------

def _photo(rng, red: float, blue: float) -> np.ndarray:
    img = rng.integers(0, 60, (20, 20, 3)).astype(np.float64)
    img[..., 0] += red
    img[..., 2] += blue
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def labelled():
    """16 cats and 16 dogs; most look their class (blue cats, red dogs), some look the other or neither."""
    rng = np.random.default_rng(5)
    looks = {0: [(20, 200)] * 11 + [(200, 20)] * 2 + [(120, 120)] * 3,
             1: [(200, 20)] * 10 + [(20, 200)] * 3 + [(120, 120)] * 3}
    return [(label, i, _photo(rng, *look)) for label in (0, 1) for i, look in enumerate(looks[label])]


def write_layout(root: Path, layout: str, photos) -> Path:
    for label, i, pixels in photos:
        name = ("cat", "dog")[label]
        where = {"class folders": root / name / f"{i}.png", "Kaggle": root / f"{name}.{i}.png",
                 "PetImages": root / "PetImages" / name.capitalize() / f"{i}.png"}[layout]
        where.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(where)
    return root


def scores_by_hand(truth, probs):
    """The scores from their definitions: counts for the threshold ones, all dog-cat pairs for ROC-AUC."""
    truth, probs = np.asarray(truth), np.asarray(probs)
    pred = probs >= 0.5
    tp, fp = np.sum(pred & (truth == 1)), np.sum(pred & (truth == 0))
    fn, tn = np.sum(~pred & (truth == 1)), np.sum(~pred & (truth == 0))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    pairs = [(d > c) + 0.5 * (d == c) for d in probs[truth == 1] for c in probs[truth == 0]]
    return {"accuracy": (tp + tn) / len(truth), "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall), "roc_auc": float(np.mean(pairs)),
            "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]]}


@pytest.mark.parametrize("layout", ["class folders", "Kaggle", "PetImages"])
def test_a_labelled_folder_in_any_layout_gives_the_scores_computed_by_hand(checkpoint, labelled, tmp_path, layout):
    folder = write_layout(tmp_path / "photos", layout, labelled)
    out, err = io.StringIO(), io.StringIO()
    assert run(str(checkpoint), [str(folder)], device="cpu", out=out, err=err, json_path=tmp_path / "e.json") == 0
    assert f"{layout} layout, 16 cats and 16 dogs" in err.getvalue()
    lines = [line.split("\t") for line in out.getvalue().splitlines() if "\tP(dog)=" in line]
    assert len(lines) == 32
    probs = [float(line[1].removeprefix("P(dog)=")) for line in lines]
    truth = [{"(true: cat)": 0, "(true: dog)": 1}[line[3]] for line in lines]
    report = json.loads((tmp_path / "e.json").read_text())
    exact = [p["prob_dog"] for p in report["predictions"]]
    assert [round(p, 4) for p in exact] == probs and [p["true_label"] for p in report["predictions"]] == \
        [("cat", "dog")[t] for t in truth]
    expected = scores_by_hand(truth, exact)
    scores = report["scores"]
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert scores[name] == pytest.approx(expected[name], abs=1e-12), name
        assert f"{ {'f1': 'F1', 'roc_auc': 'ROC-AUC'}.get(name, name):<10} {expected[name]:.4f}" in out.getvalue()
    assert scores["confusion_matrix"] == expected["confusion_matrix"] and (scores["cats"], scores["dogs"]) == (16, 16)
    assert 0.5 < expected["accuracy"] < 1 and 0.5 < expected["roc_auc"] < 1  # a test with errors to count


def test_folders_stream_in_batches_and_workers_give_the_same_predictions(checkpoint, labelled, tmp_path, monkeypatch):
    folder = write_layout(tmp_path / "photos", "class folders", labelled)
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
    predictor.batch_size = 4
    targets = [(str(p), None) for p in sorted(folder.rglob("*.png"))]
    in_process = list(predictor.predict_stream(targets, workers=1))
    forked = list(predictor.predict_stream(targets, workers=2))
    assert [(p.path, p.prob_dog) for p in forked] == [(p.path, p.prob_dog) for p in in_process]

    from nnlab.dogcat import decode as dogcat_decode
    decoded = []
    real = dogcat_decode.decode_image
    monkeypatch.setattr(dogcat_decode, "decode_image", lambda path, size: decoded.append(path) or real(path, size))
    stream = predictor.predict_stream(targets, workers=1)
    next(stream)
    assert len(decoded) == 4  # the first answer comes after one batch, not after decoding all 32


def test_unlabelled_folders_predict_without_scores_and_one_class_is_enough(checkpoint, labelled, tmp_path):
    plain = tmp_path / "test1"
    plain.mkdir()
    for n, (_, _, pixels) in enumerate(labelled[:5]):
        Image.fromarray(pixels).save(plain / f"{n + 1}.png")
    cats = write_layout(tmp_path / "cats", "class folders", [p for p in labelled if p[0] == 0])
    out, err = io.StringIO(), io.StringIO()
    assert run(str(checkpoint), [str(plain), str(cats)], device="cpu", out=out, err=err, quiet=True) == 0
    assert "5 images without labels" in err.getvalue() and "class folders layout, 16 cats and 0 dogs" in err.getvalue()
    text = out.getvalue()
    assert "P(dog)=" not in text and "evaluated 16 labelled images (16 cats, 0 dogs)" in text
    assert "ROC-AUC    n/a" in text and "recall     n/a" in text  # undefined without dogs


def test_the_script_writes_json_and_refuses_a_broken_checkpoint_or_device(checkpoint, labelled, tmp_path, capsys):
    import torch

    script = load_script("predict")
    folder = write_layout(tmp_path / "photos", "Kaggle", labelled)
    (folder / "cat.99.png").write_bytes(b"")  # unreadable, found in the folder: counted, not fatal
    assert script.main(["--checkpoint", str(checkpoint), "--device", "cpu", "--quiet", str(folder),
                        "--json", str(tmp_path / "eval.json")]) == 0
    captured = capsys.readouterr()
    assert "1 unreadable files skipped (cat.99.png: empty file (0 bytes))" in captured.err
    assert json.loads((tmp_path / "eval.json").read_text())["unreadable"][0]["path"].endswith("cat.99.png")

    good = torch.load(checkpoint, weights_only=True)
    broken = {"missing key": dict(good, model={k: v for k, v in good["model"].items() if k != "classifier.bias"}),
              "wrong shape": dict(good, model=dict(good["model"], **{"classifier.weight": torch.zeros(1, 10)})),
              "no spec": {k: v for k, v in good.items() if k != "model_spec"}}
    expect = {"missing key": "its weights do not fit its model (logistic): missing classifier.bias",
              "wrong shape": "classifier.weight (1, 10) where the model has (1, 768)",
              "no spec": "no usable model description or normalization (KeyError: 'model_spec')"}
    for name, content in broken.items():
        path = tmp_path / f"{name}.pt"
        torch.save(content, path)
        assert script.main(["--checkpoint", str(path), "--device", "cpu", str(folder)]) == 2, name
        err = capsys.readouterr().err
        assert f"error: {path} has the dog/cat format but" in err and expect[name] in err and "Traceback" not in err
    if not torch.cuda.is_available():
        assert script.main(["--checkpoint", str(checkpoint), "--device", "cuda", str(folder)]) == 2
        assert "error: --device cuda: torch sees no CUDA device here" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_and_devices_are_never_read(checkpoint, image_files, tmp_path, capsys):
    os.mkfifo(tmp_path / "fifo.jpg")
    named = [str(tmp_path / "fifo.jpg"), image_files["red.jpg"]] + (["/dev/zero"] if Path("/dev/zero").exists() else [])
    out, err = io.StringIO(), io.StringIO()
    code = in_thread(lambda: run(str(checkpoint), named, device="cpu", out=out, err=err), timeout=30)
    assert code == 1 and "\tdog" in out.getvalue()
    assert f"{tmp_path / 'fifo.jpg'}\terror: not a regular file (a FIFO)\n" in err.getvalue()
    if len(named) == 3:
        assert "/dev/zero\terror: not a regular file (a character device)\n" in err.getvalue()
