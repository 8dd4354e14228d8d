"""The trainer's command line: which flags were given, flags that do nothing in the chosen mode are
refused, and --help shows each default once and ends with examples."""

import argparse

import pytest

from nnlab.dogcat.config import HelpFormatter, TrainConfig, parse_command_line
from parity_tests.scripts import load_script


def parse(argv):
    parser = argparse.ArgumentParser()
    TrainConfig.add_arguments(parser)
    parser.add_argument("--resume", default=None)
    return parse_command_line(parser, argv)


def test_given_names_exactly_the_flags_on_the_command_line_even_at_their_default():
    args = parse(["--lr", "0.0001", "--no-progress", "--hidden", "8", "--resume", "x"])
    assert args.given == {"lr", "progress", "hidden", "resume"}
    assert (args.lr, args.progress, args.hidden, args.resume, args.epochs) == (1e-4, False, [8], "x", None)
    config = TrainConfig.from_arguments(args)
    assert config.given == {"lr", "progress", "hidden"}
    assert config == TrainConfig(lr=1e-4, progress=False, hidden=[8])  # `given` records, it does not compare
    assert "given" not in config.to_dict()
    assert parse([]).given == frozenset() and TrainConfig.from_arguments(parse([])) == TrainConfig()


@pytest.mark.parametrize("argv, message", [
    (["--hidden", "64"], "--hidden applies only with --model mlp (this run has --model logistic)"),
    (["--batchnorm"], "--batchnorm applies only with --model mlp"),
    (["--activation", "tanh"], "--activation applies only with --model mlp"),
    (["--momentum", "0.5"], "--momentum applies only with --optimizer momentum (this run has --optimizer adam)"),
    (["--impl", "scratch", "--compile"], "--compile applies only with --impl torch or both"),
])
def test_a_flag_that_does_nothing_in_the_chosen_mode_is_an_error(argv, message):
    config = TrainConfig.from_arguments(parse(argv))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.validated()


def test_the_same_flags_in_their_mode_and_defaults_never_given_pass():
    TrainConfig.from_arguments(parse(["--model", "mlp", "--hidden", "64", "--batchnorm", "--activation", "tanh"])
                               ).validated()
    TrainConfig.from_arguments(parse(["--optimizer", "momentum", "--momentum", "0.5"])).validated()
    assert TrainConfig(hidden=[64], batchnorm=True).validated().hidden == [64]  # in code, nothing was "given"


def test_the_script_refuses_an_inapplicable_flag_with_exit_status_2(capsys):
    script = load_script("train_dogcat")
    assert script.main(["--hidden", "64", "--no-progress", "--no-tensorboard"]) == 2
    assert "--hidden applies only with --model mlp" in capsys.readouterr().err


def help_text(parser):
    return " ".join(parser.format_help().split())  # unwrapped


def test_help_shows_each_default_once_none_for_required_or_none_and_ends_with_examples():
    text = load_script("train_dogcat").build_parser().format_help()
    flat = " ".join(text.split())
    assert "examples:" in text and text.rstrip().splitlines()[-1].startswith("2 bad arguments")
    assert "default: 0.0001 (logistic, mlp), 0.001 (cnn)" in flat and "(default: adam)" in flat
    assert "(default: None)" not in flat
    for option in text.split("\n  -")[1:]:
        assert " ".join(option.split()).lower().count("default") <= 1, option
    p = argparse.ArgumentParser(formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", required=True, default="x.pt", help="which checkpoint")
    p.add_argument("--n", type=int, default=3, help="how many")
    assert "which checkpoint (default" not in help_text(p) and "how many (default: 3)" in help_text(p)
