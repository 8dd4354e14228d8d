"""Train the dog/cat classifier (P(dog) through a sigmoid, binary cross-entropy).

    python scripts/train_dogcat.py                       # logistic model, torch, shared sample or synthetic
    python scripts/train_dogcat.py --model mlp --hidden 256
    python scripts/train_dogcat.py --impl both --dtype float64 --epochs 2   # parity proof on real data
    torchrun --nproc_per_node=2 scripts/train_dogcat.py --device cpu        # DistributedDataParallel

The training loop lives in nnlab.dogcat.train; this program only parses flags. Installed as
nn-twins-train; scripts/train_dogcat.py and python -m nnlab.cli.train run it too.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import traceback
from pathlib import Path

from nnlab.dogcat import distributed
from nnlab.dogcat.checkpoint import CheckpointError
from nnlab.dogcat.config import LOGGING, HelpFormatter, TrainConfig, parse_command_line
from nnlab.dogcat.data import DataLayoutError
from nnlab.dogcat.train import TrainingDiverged, train


EPILOG = """\
examples:
  python scripts/train_dogcat.py                                  # logistic model, torch, 15 epochs
  python scripts/train_dogcat.py --model mlp --hidden 512 128 --batchnorm
  python scripts/train_dogcat.py --model cnn                      # conv blocks, augmentation, cosine schedule
  python scripts/train_dogcat.py --model mlp --dropout 0.5 --scheduler step --warmup-epochs 1 --clip-grad 1
  python scripts/train_dogcat.py --data ~/PetImages --epochs 3 --logdir runs/pets
  python scripts/train_dogcat.py --impl both --dtype float64 --epochs 2   # scratch = torch on real photos
  python scripts/train_dogcat.py --resume runs/pets/checkpoint.pt --epochs 5
  torchrun --nproc_per_node=2 scripts/train_dogcat.py --device cpu        # DistributedDataParallel
  tensorboard --logdir runs                                       # then open http://localhost:6006

Each run folder (--logdir) holds checkpoint.pt, config.json, metrics.csv, learning_curve.png,
summary.json and the TensorBoard events.

exit status: 0 done, 1 training diverged (NaN/inf loss; the last good checkpoint is kept),
3 an unexpected failure (its traceback is printed), 130 interrupted by Ctrl-C and 143 by SIGTERM
(the command to resume is printed),
2 bad arguments, data, checkpoint or run folder (an "error:" line says which)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
        epilog=EPILOG,
    )
    groups = TrainConfig.add_arguments(p)
    groups[LOGGING].add_argument(
        "--resume", metavar="CHECKPOINT", default=None,
        help="continue a run from its checkpoint.pt (or its folder) with the settings it was saved with; "
             "--epochs, --max-steps, --device, --data and the logging flags change them when given, other "
             "settings cannot change. Ends with exactly the weights an uninterrupted run gives")
    return p


def _terminated(signum, frame):
    raise KeyboardInterrupt("terminated")


def main(argv: list[str] | None = None) -> int:
    args = parse_command_line(build_parser(), argv)
    # SIGTERM (timeout, Slurm, docker stop) stops the run as Ctrl-C does: decode workers and
    # temporary files are cleaned up and the resume line is printed
    previous = signal.signal(signal.SIGTERM, _terminated) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        train(TrainConfig.from_arguments(args), resume=args.resume)
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, RuntimeError, OSError, DataLayoutError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        checkpoint, where = getattr(exc, "checkpoint", None), getattr(exc, "where", "")
        if checkpoint:
            program = f"python {sys.argv[0]}" if sys.argv[0].endswith(".py") else Path(sys.argv[0]).name
            print(f"interrupted {where}; resume with:\n  {program} --resume {checkpoint}", file=sys.stderr)
        else:
            print(f"interrupted {where}: no checkpoint to resume from; to start over, run the same command with "
                  "--overwrite (or another --logdir)", file=sys.stderr)
        return 143 if _was_terminated(exc) else 130
    except Exception:  # a bug, not bad input: the traceback, and a status no other outcome uses
        traceback.print_exc()
        print("error: unexpected failure (the traceback above says where)", file=sys.stderr)
        return 3
    finally:
        distributed.cleanup()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _was_terminated(exc: BaseException) -> bool:
    """Whether the interrupt came from SIGTERM (its KeyboardInterrupt("terminated") may sit in the chain)."""
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt) and exc.args == ("terminated",):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


if __name__ == "__main__":
    sys.exit(main())
