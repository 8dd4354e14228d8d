#!/usr/bin/env python
"""Train the dog/cat classifier (P(dog) through a sigmoid, binary cross-entropy).

    python scripts/train_dogcat.py                       # logistic model, torch, shared sample or synthetic
    python scripts/train_dogcat.py --model mlp --hidden 256
    python scripts/train_dogcat.py --impl both --dtype float64 --epochs 2   # parity proof on real data
    torchrun --nproc_per_node=2 scripts/train_dogcat.py --device cpu        # DistributedDataParallel

The training loop lives in nnlab.dogcat.train; this script only parses flags.
"""

from __future__ import annotations

import argparse
import sys

from nnlab.dogcat import distributed
from nnlab.dogcat.checkpoint import CheckpointError
from nnlab.dogcat.config import LOGGING, HelpFormatter, TrainConfig, parse_command_line
from nnlab.dogcat.data import DataLayoutError
from nnlab.dogcat.train import TrainingDiverged, train


EPILOG = """\
examples:
  python scripts/train_dogcat.py                                  # logistic model, torch, 15 epochs
  python scripts/train_dogcat.py --model mlp --hidden 512 128 --batchnorm
  python scripts/train_dogcat.py --data ~/PetImages --epochs 3 --logdir runs/pets
  python scripts/train_dogcat.py --impl both --dtype float64 --epochs 2   # scratch = torch on real photos
  python scripts/train_dogcat.py --resume runs/pets/checkpoint.pt --epochs 5
  torchrun --nproc_per_node=2 scripts/train_dogcat.py --device cpu        # DistributedDataParallel
  tensorboard --logdir runs                                       # then open http://localhost:6006

Each run folder (--logdir) holds checkpoint.pt, config.json, metrics.csv, learning_curve.png,
summary.json and the TensorBoard events.

exit status: 0 done, 1 training diverged (NaN/inf loss; the last good checkpoint is kept),
2 bad arguments, data or checkpoint."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
        epilog=EPILOG,
    )
    groups = TrainConfig.add_arguments(p)
    groups[LOGGING].add_argument(
        "--resume", metavar="CHECKPOINT", default=None,
        help="continue a run from its checkpoint.pt (or its folder), with the saved settings; --epochs, "
             "--max-steps and --device still apply. Ends with exactly the weights an uninterrupted run gives")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)
    try:
        train(TrainConfig.from_arguments(args), resume=args.resume)
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, RuntimeError, DataLayoutError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; resume with --resume <logdir>/checkpoint.pt", file=sys.stderr)
        return 130
    finally:
        distributed.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
