"""The console commands: every entry point pyproject.toml declares resolves to a callable whose
--help works and ends with examples; ``python -m`` finds the programs, and the training loop's
module says where the program is; scripts refuse arguments out of range with an argparse error."""

import runpy
import sys
from importlib import import_module
from pathlib import Path

import pytest

from parity_tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"nn-twins-train", "nn-twins-predict", "nn-twins-vanishing", "nn-twins-bench", "nn-twins-demo"}


def entry_points() -> dict[str, str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_pyproject_declares_the_five_commands():
    assert set(entry_points()) == COMMANDS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_resolves_to_a_callable_whose_help_works(command, capsys):
    module, _, function = entry_points()[command].partition(":")
    main = getattr(import_module(module), function)
    assert callable(main)
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: ") and "--help" in text
    if command in ("nn-twins-train", "nn-twins-predict", "nn-twins-demo", "nn-twins-vanishing"):
        assert "\nexamples:\n" in text, command


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")  # runpy on an imported module
def test_python_dash_m_runs_a_program_and_the_loop_module_points_to_it(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["nnlab.cli.train", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("nnlab.cli.train", run_name="__main__")
    assert exit_info.value.code == 0 and "examples:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("nnlab.dogcat.train", run_name="__main__")
    assert "not a program: run nn-twins-train" in str(exit_info.value.code)  # a message: exit status 1


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "argument --steps: expected an integer ≥ 1, got 0"),
    (["--lr", "0"], "argument --lr: expected a finite number > 0, got 0"),
    (["--momentum", "-0.1"], "argument --momentum: expected a number in [0, 1), got -0.1"),
])
def test_xor_refuses_arguments_out_of_range(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script("xor").main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_tensorboard_command_works_without_an_activated_environment(monkeypatch, tmp_path):
    from nnlab.cli import tensorboard_command

    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "tensorboard").write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    monkeypatch.chdir(tmp_path)
    assert tensorboard_command("runs/demo") == ".venv/bin/tensorboard --logdir runs/demo"
    (venv / "tensorboard").unlink()
    assert tensorboard_command("runs/my demo") == "tensorboard --logdir 'runs/my demo'"
