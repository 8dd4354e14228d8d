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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlab.dogcat.train import DEVICES, DTYPES, IMPLS, OPTIMIZERS, TrainConfig  # noqa: E402
from nnlab.dogcat.models import ACTIVATIONS, MODEL_KINDS  # noqa: E402

DEFAULTS = TrainConfig()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Exit status: 0 done, 1 training diverged (NaN/inf loss; the last good checkpoint is kept), "
               "2 bad arguments, data or checkpoint.",
    )
    d = p.add_argument_group("data")
    d.add_argument("--data", metavar="DIR", default=None,
                   help="photo folder: Kaggle 'Dogs vs. Cats' train/ (cat.1.jpg, dog.2.jpg), Microsoft "
                        "PetImages/ (Cat/, Dog/) or class folders cat/ and dog/. Default: $DOGCAT_DATA, else the "
                        "shared 4,000-photo sample when present, else a small SYNTHETIC set generated in code")
    d.add_argument("--image-size", type=int, default=DEFAULTS.image_size, metavar="PX",
                   help="images are resized to PX x PX (the logistic model has 3*PX*PX inputs)")
    d.add_argument("--val-fraction", type=float, default=DEFAULTS.val_fraction,
                   help="share of each class held out for validation (stratified split by --seed)")
    d.add_argument("--cache-dir", default=None, help="where the decoded uint8 image cache is kept "
                   "(default: the data module's cache folder)")
    d.add_argument("--workers", type=int, default=None, help="processes decoding photos on the first pass "
                   "(default: one per core)")

    m = p.add_argument_group("model")
    m.add_argument("--model", choices=MODEL_KINDS, default=DEFAULTS.model,
                   help="logistic: the 3*PX*PX pixels straight into one sigmoid output; "
                        "mlp: hidden layers (see --hidden) before it")
    m.add_argument("--hidden", type=int, nargs="+", default=DEFAULTS.hidden, metavar="N",
                   help="hidden layer sizes of --model mlp, e.g. --hidden 256 or --hidden 512 128")
    m.add_argument("--activation", choices=tuple(ACTIVATIONS), default=DEFAULTS.activation,
                   help="nonlinearity after each hidden layer")
    m.add_argument("--batchnorm", action="store_true", help="BatchNorm1d after each hidden Linear (mlp only)")

    r = p.add_argument_group("implementation and device")
    r.add_argument("--impl", choices=IMPLS, default=DEFAULTS.impl,
                   help="torch: torch.nn (GPU when available); scratch: the hand-written NumPy twin (CPU); "
                        "both: the two in lockstep from the same weights on the same batches, reporting the "
                        "largest parameter difference each epoch")
    r.add_argument("--device", choices=DEVICES, default=DEFAULTS.device,
                   help="auto: CUDA when torch sees a GPU, else CPU")
    r.add_argument("--dtype", choices=DTYPES, default=DEFAULTS.dtype,
                   help="floating-point type of weights and activations (float64 for parity checks)")
    r.add_argument("--amp", action="store_true",
                   help="automatic mixed precision for the torch twin (bfloat16 autocast; float16 with "
                        "gradient scaling on GPUs without bfloat16)")
    r.add_argument("--compile", action="store_true", help="torch.compile the torch model (fewer kernel launches)")
    r.add_argument("--host-data", action="store_true",
                   help="on CUDA, keep the images in host memory and copy each batch to the GPU (default: the "
                        "uint8 set is uploaded once and batches are cut and normalized on the GPU)")

    o = p.add_argument_group("optimization")
    o.add_argument("--optimizer", choices=OPTIMIZERS, default=DEFAULTS.optimizer,
                   help="sgd: plain SGD; momentum: SGD with --momentum; adam; adamw (decoupled weight decay); "
                        "rmsprop")
    o.add_argument("--lr", type=float, default=DEFAULTS.lr, help="learning rate")
    o.add_argument("--momentum", type=float, default=DEFAULTS.momentum, help="momentum of --optimizer momentum")
    o.add_argument("--weight-decay", type=float, default=None,
                   help="L2 penalty (decoupled for adamw); default: torch's, 0 (0.01 for adamw)")
    o.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help="images per optimizer step")
    o.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help="passes over the training images")
    o.add_argument("--seed", type=int, default=DEFAULTS.seed,
                   help="seeds the initial weights, the split and the batch order")
    o.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many optimizer steps in total (a checkpoint is written there)")

    g = p.add_argument_group("logging and checkpoints")
    g.add_argument("--logdir", default=None,
                   help="TensorBoard event files and checkpoint.pt go here (default: runs/<timestamp>-<config>)")
    g.add_argument("--no-tensorboard", action="store_true", help="write no TensorBoard events (checkpoints still)")
    g.add_argument("--hist-every", type=int, default=DEFAULTS.hist_every, metavar="STEPS",
                   help="weight and gradient histograms every STEPS optimizer steps (0: never)")
    g.add_argument("--log-every", type=int, default=DEFAULTS.log_every, metavar="STEPS",
                   help="read the running loss (and check it is finite) every STEPS steps on GPU; "
                        "on CPU it is checked every step")
    g.add_argument("--checkpoint-every", type=int, default=DEFAULTS.checkpoint_every, metavar="STEPS",
                   help="also checkpoint every STEPS steps within an epoch (0: only at epoch ends)")
    g.add_argument("--resume", metavar="CHECKPOINT", default=None,
                   help="continue a run from its checkpoint.pt (or its folder), with the saved settings; "
                        "--epochs, --max-steps and --device still apply. Ends with exactly the weights an "
                        "uninterrupted run gives")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from nnlab.dogcat import distributed
    from nnlab.dogcat.checkpoint import CheckpointError
    from nnlab.dogcat.data import DataLayoutError
    from nnlab.dogcat.train import TrainingDiverged, train

    config = TrainConfig(
        data=args.data, image_size=args.image_size, model=args.model, hidden=args.hidden,
        activation=args.activation, batchnorm=args.batchnorm, impl=args.impl, device=args.device,
        amp=args.amp, compile=args.compile, resident_data=False if args.host_data else None, dtype=args.dtype, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, weight_decay=args.weight_decay, batch_size=args.batch_size,
        epochs=args.epochs, seed=args.seed, val_fraction=args.val_fraction, logdir=args.logdir,
        tensorboard=not args.no_tensorboard, hist_every=args.hist_every, log_every=args.log_every,
        checkpoint_every=args.checkpoint_every, max_steps=args.max_steps, cache_dir=args.cache_dir,
        workers=args.workers, progress=not args.no_progress,
    )
    try:
        train(config, resume=args.resume)
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
