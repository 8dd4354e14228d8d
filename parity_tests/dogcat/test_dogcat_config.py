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


def test_resume_takes_the_saved_settings_but_the_overrides(tmp_path):
    saved = TrainConfig(model="mlp", hidden=[8], lr=0.5, epochs=2, logdir="elsewhere").to_dict()
    now = TrainConfig(epochs=5, max_steps=9, progress=False, device="cpu", lr=0.1)
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    config = resumed_config(saved, now, tmp_path / "checkpoint.pt")
    assert (config.model, config.hidden, config.lr) == ("mlp", [8], 0.5)
    assert all(getattr(config, name) == getattr(now, name) for name in RESUME_OVERRIDES)
    assert config.logdir == str(tmp_path)
    assert resumed_config(saved, TrainConfig(logdir="here"), tmp_path).logdir == "here"


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
