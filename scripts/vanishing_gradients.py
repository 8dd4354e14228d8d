#!/usr/bin/env python
"""Vanishing gradients, measured: per-layer gradient norms of a deep MLP, in scratch and torch.

The program is nnlab.cli.vanishing (installed as nn-twins-vanishing); --help explains it.
"""

import sys

from nnlab.cli.vanishing import build_parser, configs_from_args, main, parse_args  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
