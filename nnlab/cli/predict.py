"""Print P(dog) and the predicted label for images and folders, from a dog/cat training checkpoint;
where a folder's layout gives labels, print accuracy, precision, recall, F1, ROC-AUC and the
confusion matrix.

    python scripts/predict.py --checkpoint runs/<run>/checkpoint.pt photo1.jpg photo2.png …
    python scripts/predict.py --checkpoint runs/<run> ~/PetImages --json eval.json --quiet

Installed as nn-twins-predict; scripts/predict.py and python -m nnlab.cli.predict run it too.
One line per image on stdout: ``<path>\tP(dog)=0.8731\tdog`` (and ``(true: cat)`` where the
layout says). A file named on the command line that cannot be read (missing, empty, truncated,
not an image, not a regular file) gets ``<path>\terror: <reason>`` on stderr and the other
files are still predicted; unreadable files found in a folder are counted and listed in one line.
"""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
Folders are read in the layouts the trainer accepts, and there the labels come from:
  Kaggle 'Dogs vs. Cats' (cat.1.jpg, dog.2.jpg), PetImages (Cat/, Dog/), class folders cat/ and dog/;
  one class alone is enough. Any other folder is searched for images, predicted without scores.
Files are decoded and predicted in batches, so a folder of any size takes bounded memory.

examples:
  python scripts/predict.py --checkpoint runs/pets/checkpoint.pt cat.jpg dog.png
  python scripts/predict.py --checkpoint runs/pets ~/dogs-vs-cats/train --quiet --json eval.json
  python scripts/predict.py --checkpoint runs/pets --impl scratch photos/   # the NumPy twin

exit status: 0 done, 1 a file named on the command line could not be read,
2 an unusable checkpoint or device, or no images found."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, metavar="C",
                   help="checkpoint.pt written by scripts/train_dogcat.py (either twin), or its run folder")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER",
                   help="image files (JPEG, PNG, …; any size, any mode) and folders of them")
    p.add_argument("--impl", choices=("torch", "scratch"), default="torch",
                   help="which twin computes the prediction; the checkpoint loads into either (default: torch)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="device of the torch twin; auto: CUDA when available (default: auto)")
    p.add_argument("--json", metavar="FILE", default=None,
                   help="also write the scores, every prediction and every unreadable file to FILE as JSON")
    p.add_argument("--quiet", action="store_true",
                   help="no line per image: only errors, the unreadable-file count and the scores")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes decoding images (default: one per core for 256 images or more)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.workers is not None and args.workers < 1:
        build_parser().error(f"--workers: expected at least 1, got {args.workers}")
    from nnlab.dogcat.predict import run

    return run(args.checkpoint, args.images, impl=args.impl, device=args.device, json_path=args.json,
               quiet=args.quiet, workers=args.workers)


if __name__ == "__main__":
    sys.exit(main())
