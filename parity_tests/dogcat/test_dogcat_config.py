"""The run's settings: the command line is built from the config's fields, parsed once into a config,
a resumed run takes the saved settings back but for a few, and bad settings say what is wrong."""

import argparse
from dataclasses import fields

import pytest

from nnlab.dogcat.config import RESUME_OVERRIDES, TrainConfig, resumed_config
from nnlab.dogcat.train import train
from parity_tests.dogcat.tiny_data import tiny_config, tiny_dogcat


def parse(argv):
    parser = argparse.ArgumentParser()
    TrainConfig.add_arguments(parser)
    return TrainConfig.from_arguments(parser.parse_args(argv))


def test_no_flags_give_the_defaults_and_flags_set_their_fields():
    assert parse([]) == TrainConfig()
    config = parse(["--model", "mlp", "--hidden", "64", "32", "--lr", "0.01", "--host-data", "--no-tensorboard",
                    "--no-progress", "--weight-decay", "0.1", "--batchnorm", "--max-steps", "7"])
    assert config == TrainConfig(model="mlp", hidden=[64, 32], lr=0.01, resident_data=False, tensorboard=False,
                                 progress=False, weight_decay=0.1, batchnorm=True, max_steps=7)


def test_every_setting_but_the_library_ones_has_a_flag_with_help():
    parser = argparse.ArgumentParser()
    TrainConfig.add_arguments(parser)
    dests = {a.dest: a for a in parser._actions}
    for f in fields(TrainConfig):
        if f.name in ("eval_batch_size", "val_examples", "given"):
            assert f.name not in dests
        else:
            assert f.name in dests and dests[f.name].help, f.name


def test_resume_keeps_the_saved_settings_unless_given_and_refuses_a_change_it_cannot_make(tmp_path, monkeypatch):
    monkeypatch.delenv("DOGCAT_DATA", raising=False)
    saved = TrainConfig(model="mlp", hidden=[8], lr=0.5, epochs=2, max_steps=10, data="/photos",
                        logdir="elsewhere").to_dict()
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(b"")

    def resume(given=(), **now):
        return resumed_config(saved, TrainConfig(**now, given=frozenset(given)), ckpt)

    alone = resume(epochs=15, lr=1e-4)  # the defaults of a command line with --resume alone
    assert (alone.model, alone.hidden, alone.lr, alone.epochs, alone.max_steps, alone.data) == \
        ("mlp", [8], 0.5, 2, 10, "/photos")
    assert alone.logdir == str(tmp_path)  # the checkpoint's folder
    longer = resume(["epochs", "max_steps", "device"], epochs=5, max_steps=0, device="cpu")
    assert (longer.epochs, longer.validated().max_steps, longer.device) == (5, None, "cpu")
    assert resume(["model", "lr"], model="mlp", lr=0.5).lr == 0.5  # given again unchanged: fine
    with pytest.raises(ValueError, match=r"cannot change on --resume: --lr 0.1 \(the run has 0.5\); "
                                         r"--model 'logistic' \(the run has 'mlp'\)"):
        resume(["lr", "model", "epochs"], lr=0.1, model="logistic", epochs=3)
    assert set(RESUME_OVERRIDES) >= {"epochs", "max_steps", "device", "data", "logdir"}
    assert not set(RESUME_OVERRIDES) & {"model", "hidden", "impl", "dtype", "optimizer", "lr", "batch_size",
                                        "seed", "val_fraction", "image_size"}

    monkeypatch.setenv("DOGCAT_DATA", "/moved/photos")  # a moved folder is followed
    assert resume().data == "/moved/photos"
    assert resume(["data"], data="/given").data == "/given"
    assert resume(["logdir"], logdir="here").logdir == "here"


@pytest.mark.parametrize("bad, match", [
    (dict(impl="scratch", amp=True), "--amp"),
    (dict(impl="scratch", device="cuda"), "scratch runs on the CPU"),
    (dict(optimizer="lbfgs"), "optimizer: expected one of"),
    (dict(lr=-1.0), "lr"),
    (dict(model="mlp", hidden=[]), "at least one hidden size"),
])
def test_bad_settings_say_what_is_wrong(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        train(tiny_config(tmp_path, **bad), data=tiny_dogcat(), log=lambda msg: None)
