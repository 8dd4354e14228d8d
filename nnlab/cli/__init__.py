"""The programs, as importable ``main(argv)`` functions: the installed console commands call them,
and ``scripts/*.py`` are two-line wrappers around them.

==================  ======================  ==============================
command             module                  script
==================  ======================  ==============================
``nn-twins-train``      :mod:`nnlab.cli.train`      ``scripts/train_dogcat.py``
``nn-twins-predict``    :mod:`nnlab.cli.predict`    ``scripts/predict.py``
``nn-twins-vanishing``  :mod:`nnlab.cli.vanishing`  ``scripts/vanishing_gradients.py``
``nn-twins-bench``      :mod:`nnlab.cli.bench`      ``scripts/bench.py``
``nn-twins-demo``       :mod:`nnlab.cli.demo`       ``scripts/demo.py``
==================  ======================  ==============================

Each also runs as ``python -m nnlab.cli.<module>``. This package stands on the top floor
beside :mod:`nnlab.bench`: it parses flags and calls the library.
"""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse ``type``: an integer ≥ 1 (an argparse error, exit status 2, otherwise)."""
    return at_least(1)(text)


def at_least(minimum: int):
    """argparse ``type``: an integer ≥ ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ {minimum}, got {value}")
        return value

    parse.__name__ = f"integer ≥ {minimum}"
    return parse


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_float(text: str) -> float:
    """argparse ``type``: a finite number > 0."""
    value = _number(text)
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def unit_interval(text: str) -> float:
    """argparse ``type``: a number in [0, 1) (a momentum)."""
    value = _number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return value




def tensorboard_command(logdir) -> str:
    """``tensorboard --logdir LOGDIR`` as a command that works without an activated virtual
    environment: the ``tensorboard`` beside this Python (e.g. ``.venv/bin/tensorboard``)."""
    import shlex
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("tensorboard")
    if exe.is_file():
        try:
            exe = exe.relative_to(Path.cwd())  # .venv/bin/tensorboard from the repository
        except ValueError:
            pass
        program = str(exe) if exe.is_absolute() or "/" in str(exe) else f"./{exe}"
    else:
        program = "tensorboard"
    return f"{shlex.quote(program)} --logdir {shlex.quote(str(logdir))}"


__all__ = ["positive_int", "at_least", "positive_float", "unit_interval", "tensorboard_command"]
