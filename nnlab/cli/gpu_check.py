"""Prove every CUDA path on this machine's GPU and measure the GPU figures, into one JSON.

    make gpu-check                        # PYTHON=python3 by default; the checkout in place, no install step
    python -m nnlab.cli.gpu_check --out gpu_results/gpu-check.json

Runs ``pytest -m cuda parity_tests/cuda`` and the benchmark's GPU figures (gpu_epoch,
gpu_cnn_epoch, gpu_vanishing), each in a child process with its own time limit (225 s in
all), and writes the GPU's description, every test's outcome and every figure's rows to
the JSON. Without a CUDA device it says so and runs nothing. Exit status: 0 every test
passed or skipped and every figure ran (or no CUDA device); 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys


DEFAULT_OUT = "gpu_results/gpu-check.json"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT, metavar="PATH",
                   help="where to write the JSON (rewritten after every part; default: %(default)s)")
    p.add_argument("--skip-tests", action="store_true", help="only the GPU figures")
    p.add_argument("--skip-figures", action="store_true", help="only the CUDA tests")
    p.add_argument("--figure", help=argparse.SUPPRESS)  # a child process: run this one figure
    p.add_argument("--settings", default="{}", help=argparse.SUPPRESS)  # its settings overrides, JSON
    return p


def main(argv: list[str] | None = None) -> int:
    from nnlab.runtime import cuda_status

    args = build_parser().parse_args(argv)
    available, line = cuda_status()
    if not available:  # before importing the benchmark: this Python may not even have torch
        print(f"{line}; nothing was run", flush=True)
        return 0
    from nnlab.bench import gpu_check

    if args.figure:
        return gpu_check.figure_in_this_process(args.figure, json.loads(args.settings), args.out)
    return gpu_check.gpu_check(sys.executable, args.out, say=lambda line: print(line, flush=True),
                               skip_tests=args.skip_tests, skip_figures=args.skip_figures)


if __name__ == "__main__":
    sys.exit(main())
