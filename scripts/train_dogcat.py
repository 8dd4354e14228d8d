#!/usr/bin/env python
"""Train the dog/cat classifier (P(dog) through a sigmoid, binary cross-entropy).

The program is nnlab.cli.train (installed as nn-twins-train); --help explains it.
"""

import sys

from nnlab.cli.train import build_parser, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
