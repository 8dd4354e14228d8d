#!/usr/bin/env python
"""Overfitting, measured: a small training set, an MLP, and what weight decay and dropout do to the gap.

Trains one MLP on a deliberately small set of dog/cat photos four times from the
same weights on the same mini-batches: plain, with weight decay λ (SGD's
weight_decay, the gradient of (λ/2)‖θ‖²), with dropout p after every hidden ReLU,
and with both. Each variant runs in both twins (NumPy by hand and torch) in lockstep,
the dropout masks drawn alike. Prints, per variant, the final training and validation
accuracy, their gap, and the twins' largest parameter difference; then shows that
SGD's weight decay is the L2 loss term exactly, that Adam's weight_decay is that L2
term seen through Adam's normaliser, and that AdamW instead shrinks the weights
directly (θ ← θ(1 − lr·λ)), so Adam+L2 and AdamW differ.

Photos: --data, else $DOGCAT_DATA, else the shared sample, else SYNTHETIC images
generated in code (announced). They are average-pooled from 100×100 to 10×10 pixels
(--pool 10): at 20×20 (1,200 inputs, more than there are photos) every variant memorises
the training set within the 100 epochs. Writes a PNG of the accuracy curves and TensorBoard runs
LOGDIR/<variant>/<impl> (variants plain, weight_decay, dropout, both) with the same tags,
so TensorBoard overlays them:

  tensorboard --logdir runs/overfitting      # then open http://localhost:6006

The library code is nnlab.overfitting; this script only parses arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from nnlab import overfitting as O
from nnlab.cli import tensorboard_command
from nnlab.runtime import show_progress

#: --quick: the same training (the same final table), curves measured every 5 epochs, shorter decay runs
QUICK = dict(eval_every=5, decay_steps=50)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d, dd = O.StudySettings(), O.DecaySettings()
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + "\n\n" + "\n\n".join(__doc__.split("\n\n")[1:-1]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python scripts/overfitting.py                     # the README's run, about 40 s of one core\n"
            "  python scripts/overfitting.py --quick             # the same table, fewer curve points\n"
            "  python scripts/overfitting.py --weight-decay 0.05 # too strong: one class for all, accuracy 0.5\n"
            "  python scripts/overfitting.py --impl torch --epochs 250   # at 250 epochs all but both memorise"
        ),
    )
    p.add_argument("--data", default=None,
                   help="photo folder (Kaggle, PetImages or cat/ dog/ layout; default: $DOGCAT_DATA, else the "
                        "shared sample, else SYNTHETIC images)")
    p.add_argument("--train-size", type=int, default=d.train_size,
                   help=f"training photos, the small set the MLP overfits (default: {d.train_size})")
    p.add_argument("--val-size", type=int, default=d.val_size,
                   help=f"validation photos, drawn apart from the training ones (default: {d.val_size})")
    p.add_argument("--pool", type=int, default=d.pool,
                   help=f"average-pool the 100×100 photos by this factor (default: {d.pool}, i.e. 10×10 px, 300 inputs)")
    p.add_argument("--hidden", type=int, nargs="+", default=list(d.hidden), metavar="WIDTH",
                   help=f"hidden layer widths (default: {' '.join(map(str, d.hidden))})")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"passes over the training set (default: {d.epochs})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"mini-batch size (default: {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"SGD learning rate (default: {d.lr})")
    p.add_argument("--momentum", type=float, default=d.momentum, help=f"SGD momentum (default: {d.momentum})")
    p.add_argument("--weight-decay", "--lambda", dest="weight_decay", type=float, default=d.weight_decay,
                   metavar="λ",
                   help=f"weight decay λ of the 'weight_decay' and 'both' variants (default: {d.weight_decay})")
    p.add_argument("--dropout", type=float, default=d.dropout, metavar="P",
                   help=f"dropout probability p of the 'dropout' and 'both' variants, 0 ≤ p < 1 (default: {d.dropout})")
    p.add_argument("--eval-every", type=int, default=d.eval_every,
                   help=f"measure both sets every N epochs (default: {d.eval_every})")
    p.add_argument("--decay-steps", type=int, default=dd.steps,
                   help=f"steps of each weight-decay comparison run; 0 skips them (default: {dd.steps})")
    p.add_argument("--impl", choices=("scratch", "torch", "both"), default="both",
                   help="which twin trains (default: both, in lockstep)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="float64 (default) keeps the twins equal to ~1e-15; float32 is faster")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="seed of the photo choice, the weights, the batches and the dropout masks (default: 0)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for torch and BLAS (default: 1; the matrices are small)")
    p.add_argument("--logdir", type=Path, default=Path("runs/overfitting"),
                   help="TensorBoard folder; runs go to LOGDIR/<variant>/<impl> (default: %(default)s)")
    p.add_argument("--png", type=Path, default=None,
                   help="where to write the accuracy curves (default: LOGDIR/overfitting.png)")
    p.add_argument("--no-tensorboard", action="store_true", help="do not write TensorBoard runs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quick", action="store_true",
                   help="a shorter run with the same training and final table: " +
                        ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items()))
    args = p.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) == p.get_default(key):
                setattr(args, key, value)
    if args.decay_steps < 0:
        p.error(f"--decay-steps must be ≥ 0, got {args.decay_steps}")
    if args.threads < 1:
        p.error(f"--threads must be ≥ 1, got {args.threads}")
    try:
        args.settings = O.StudySettings(
            train_size=args.train_size, val_size=args.val_size, pool=args.pool, hidden=tuple(args.hidden),
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
            weight_decay=args.weight_decay, dropout=args.dropout, eval_every=args.eval_every, seed=args.seed,
            dtype=np.dtype(args.dtype).type,
        )
    except ValueError as error:
        field, _, message = str(error).partition(":")
        p.error(f"--{field.replace('_', '-')}:{message}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = args.settings
    impls = ["scratch", "torch"] if args.impl == "both" else [args.impl]
    torch.set_num_threads(args.threads)
    progress = show_progress(not args.no_progress)
    t0 = time.perf_counter()
    try:
        split = O.photo_split(args.data, settings.train_size, settings.val_size, settings.pool, settings.seed,
                              settings.dtype, progress=progress)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(split.description)
    sizes = "-".join(map(str, settings.sizes(split.in_features)))
    print(f"MLP {sizes} {settings.activation}, SGD lr {settings.lr:g} momentum {settings.momentum:g}, batch "
          f"{settings.batch_size}, {settings.epochs} epochs, {args.dtype}; " +
          ("scratch and torch in lockstep (same weights, batches and dropout masks)" if len(impls) == 2 else impls[0]))
    total = len(impls) * 4 * O.steps_per_variant(len(split.y_train), settings) + args.decay_steps
    with threadpool_limits(args.threads), tqdm(total=total, unit="step", disable=not progress, file=sys.stderr) as bar:
        results = O.run_study(split, settings, impls, progress=bar.update)
        decay = None
        if args.decay_steps:
            decay_settings = O.DecaySettings(steps=args.decay_steps, weight_decay=settings.weight_decay,
                                             sgd_lr=settings.lr, momentum=settings.momentum,
                                             batch_size=settings.batch_size, seed=settings.seed, dtype=settings.dtype)
            decay = O.weight_decay_equivalences(split, decay_settings, impls, progress=bar.update)
    print()
    print(O.format_table(results))
    if decay is not None:
        print()
        print(O.format_decay(decay, split.in_features))
    png = O.plot_curves(results, args.png or args.logdir / "overfitting.png",
                        title=f"{split.description.split(': ')[-1]}; MLP {sizes}")
    print(f"\nplot:        {png}")
    if not args.no_tensorboard:
        runs = O.write_tensorboard(results, args.logdir)
        print(f"tensorboard: {tensorboard_command(args.logdir)}   ({len(runs)} runs)")
    print(f"wall time:   {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
