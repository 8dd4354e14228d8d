#!/usr/bin/env python
"""Print P(dog) and the predicted label for images and folders, from a dog/cat training checkpoint.

The program is nnlab.cli.predict (installed as nn-twins-predict); --help explains it.
"""

import sys

from nnlab.cli.predict import build_parser, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
