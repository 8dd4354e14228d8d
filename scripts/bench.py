#!/usr/bin/env python
"""Benchmark the scratch twin against torch, the dog/cat data pipeline, logging, tests and memory.

The program is nnlab.cli.bench (installed as nn-twins-bench); --help explains it.
"""

import sys

from nnlab.cli.bench import build_parser, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
