#!/usr/bin/env python
"""Print P(dog) and the predicted label for each image, from a dog/cat training checkpoint.

    python scripts/predict.py --checkpoint runs/<run>/checkpoint.pt photo1.jpg photo2.png …

One line per image on stdout: ``<path>\tP(dog)=0.8731\tdog``. A file that cannot be read
(missing, empty, truncated, not an image) gets ``<path>\terror: <reason>`` on stderr and the
other files are still predicted; the exit status is then 1 (2 for an unusable checkpoint).
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", required=True, metavar="C",
                   help="checkpoint.pt written by scripts/train_dogcat.py (either twin), or its run folder")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, …; any size, any mode)")
    p.add_argument("--impl", choices=("torch", "scratch"), default="torch",
                   help="which twin computes the prediction (the checkpoint loads into either)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="device of the torch twin; auto: CUDA when available")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from nnlab.dogcat.predict import run

    return run(args.checkpoint, args.images, impl=args.impl, device=args.device)


if __name__ == "__main__":
    sys.exit(main())
