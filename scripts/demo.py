#!/usr/bin/env python
"""The tour: every concept run twice (NumPy by hand and torch) and shown equal.

The program is nnlab.cli.demo (installed as nn-twins-demo); --help explains it.
"""

import sys

from nnlab.cli.demo import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
