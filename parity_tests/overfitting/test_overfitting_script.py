"""``scripts/overfitting.py`` end to end on 24 synthetic photos: the table, the weight-decay lines, the PNG,
eight TensorBoard runs with the same tags, and clear errors for bad input."""

import pytest

from nnlab.dogcat.data import synthetic_dogcat
from nnlab.overfitting.report import TAGS
from parity_tests.scripts import load_script


@pytest.fixture
def photos(tmp_path, monkeypatch):
    monkeypatch.setenv("DOGCAT_CACHE", str(tmp_path / "cache"))
    return synthetic_dogcat(tmp_path / "photos", n=24, size=100, seed=0)


def test_script_prints_the_gaps_and_writes_png_and_tensorboard(photos, tmp_path, capsys):
    script = load_script("overfitting")
    logdir = tmp_path / "runs"
    argv = ["--data", str(photos), "--train-size", "12", "--val-size", "12", "--pool", "25", "--hidden", "8",
            "--epochs", "3", "--batch-size", "6", "--decay-steps", "3", "--logdir", str(logdir), "--no-progress"]
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    assert "12 training and 12 validation photos, pooled 100×100 → 4×4 px" in out
    assert "MLP 48-8-2 relu" in out
    for row in ("| plain ", "| weight decay λ=0.03 ", "| dropout p=0.7 ", "| both λ=0.03 p=0.7 "):
        assert row in out
    assert "max |θ_scratch − θ_torch|" in out
    assert out.count("the same run") == 3 and out.count("different runs") == 1
    assert (logdir / "overfitting.png").stat().st_size > 10_000
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = sorted(p.parent.relative_to(logdir).as_posix() for p in logdir.rglob("events.out.tfevents.*"))
    assert runs == sorted(f"{v}/{i}" for v in ("plain", "weight_decay", "dropout", "both") for i in ("scratch", "torch"))
    acc = EventAccumulator(str(logdir / "both" / "scratch"))
    acc.Reload()
    assert set(acc.Tags()["scalars"]) == set(TAGS)
    assert [e.step for e in acc.Scalars("accuracy/gap")] == [0, 1, 2, 3]


def test_script_rejects_bad_input(photos, tmp_path, capsys):
    script = load_script("overfitting")
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "--weight-decay" in help_text and "--dropout" in help_text and "--quick" in help_text
    for argv, message in ((["--dropout", "1"], "--dropout: expected a probability p with 0 ≤ p < 1, got 1.0"),
                          (["--weight-decay", "-1"], "--weight-decay: expected λ ≥ 0, got -1.0"),
                          (["--epochs", "0"], "--epochs: expected an integer ≥ 1, got 0")):
        with pytest.raises(SystemExit) as exit_info:
            script.parse_args(argv)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert script.main(["--data", str(photos), "--train-size", "24", "--no-progress"]) == 1
    assert "expected at most 23 (one photo must be left for validation), got 24" in capsys.readouterr().err
    assert script.main(["--data", str(tmp_path / "missing"), "--no-progress"]) == 1
    assert "missing" in capsys.readouterr().err
