#!/usr/bin/env python
"""Learning rate: too large diverges, too small barely moves, sensible converges.

Trains one linear-regression model by full-batch gradient descent on the mean
squared error three times from the same start, with a learning rate far above
the stability limit 2/λ_max (≈ 0.78 here), far below it, and near 1/λ_max.
Prints the verdicts and the three loss curves side by side, and writes them to
TensorBoard (one run per rate, tag "loss" and "log10_loss"; the diverged run
stops at the first inf/NaN loss, which is reported as divergence, not raised).

Then the too-large rate once more with gradient clipping: clip_grad_norm_ caps the
gradient's length at --clip-norm before every step, so no step moves the weights by
more than lr × clip-norm and the loss stays finite, bouncing around the minimum
(TensorBoard run "clipped", with the gradient norm before clipping as "grad_norm").

  tensorboard --logdir runs/learning_rate      # then open http://localhost:6006

The library code is nnlab.common.learning_rate with the twins scratch.learning_rate
(NumPy by hand) and torch_ref.learning_rate (torch); this script only parses
arguments.
"""

from __future__ import annotations

import argparse
import math
import sys

from tqdm import tqdm

from nnlab.common.learning_rate import CLIP_LABEL, DEFAULT_CLIP_NORM, DEFAULT_RATES, DEFAULT_STEPS, format_curves
from torch_ref.module import load_scratch_state


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + "\n\n" + "\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python scripts/learning_rate.py                       # scratch twin, default rates\n"
            "  python scripts/learning_rate.py --impl both           # scratch and torch, side by side\n"
            "  python scripts/learning_rate.py --rates 2.0 1e-3 0.3  # your own three rates"
        ),
    )
    p.add_argument("--impl", choices=("scratch", "torch", "both"), default="scratch",
                   help="which implementation trains (default: scratch); 'both' runs the twins from the same start")
    p.add_argument("--rates", nargs=3, type=float, metavar=("TOO_LARGE", "TOO_SMALL", "SENSIBLE"),
                   default=list(DEFAULT_RATES.values()),
                   help="the three learning rates (default: %(default)s)")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="gradient steps per rate (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of the initial weights (default: %(default)s)")
    p.add_argument("--every", type=int, default=20, help="print the curves every N steps (default: %(default)s)")
    p.add_argument("--clip-norm", type=float, default=DEFAULT_CLIP_NORM, metavar="MAX_NORM",
                   help="rerun the too-large rate with clip_grad_norm_(max_norm=MAX_NORM) before every step; "
                        "0 skips it (default: %(default)s)")
    p.add_argument("--logdir", default="runs/learning_rate",
                   help="TensorBoard log directory; runs go to LOGDIR/<impl>/<label> (default: %(default)s)")
    p.add_argument("--no-tensorboard", action="store_true", help="do not write TensorBoard logs")
    args = p.parse_args(argv)
    if args.steps < 1:
        p.error(f"--steps must be at least 1, got {args.steps}")
    if any(not r >= 0 for r in args.rates):
        p.error(f"--rates must be non-negative numbers, got {args.rates}")
    if not args.clip_norm >= 0:
        p.error(f"--clip-norm must be a number ≥ 0 (0 skips the clipping run), got {args.clip_norm}")
    return args


def run(args: argparse.Namespace) -> dict[str, list]:
    import scratch.learning_rate as S
    import torch_ref.learning_rate as T

    rates = dict(zip(DEFAULT_RATES, args.rates))
    runs = list(rates.items()) + ([(CLIP_LABEL, args.rates[0])] if args.clip_norm else [])
    impls = ["scratch", "torch"] if args.impl == "both" else [args.impl]
    writer_cls = None
    if not args.no_tensorboard:
        from torch.utils.tensorboard import SummaryWriter as writer_cls
    results: dict[str, list] = {}
    with tqdm(total=len(impls) * len(runs) * args.steps, desc="training", unit="step") as bar:
        for impl in impls:
            curves = []
            for label, lr in runs:
                clip_norm = args.clip_norm if label == CLIP_LABEL else None
                if impl == "scratch":
                    model = S.initial_model(seed=args.seed)
                    train = S.loss_curve
                else:  # the torch twin starts from the scratch start, so both curves can be compared
                    model = T.initial_model(seed=args.seed)
                    start = S.initial_model(seed=args.seed).state_dict()
                    load_scratch_state(model, start)
                    train = T.loss_curve
                writer = writer_cls(f"{args.logdir}/{impl}/{label.replace(' ', '_')}") if writer_cls else None

                def on_step(k, loss, writer=writer):
                    bar.update(1)
                    if writer is not None and math.isfinite(loss):
                        writer.add_scalar("loss", loss, k)
                        writer.add_scalar("log10_loss", math.log10(max(loss, 1e-300)), k)

                curve = train(lr, args.steps, args.seed, label, model=model, on_step=on_step, clip_norm=clip_norm)
                bar.update(args.steps - len(curve.losses))
                if writer is not None:
                    for k, norm in enumerate(curve.grad_norms):
                        writer.add_scalar("grad_norm", norm, k)
                    writer.add_text("verdict", curve.summary())
                    writer.close()
                curves.append(curve)
            results[impl] = curves
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    for impl, curves in results.items():
        print(f"\n== {impl} ==")
        for c in curves:
            print(c.summary())
        print()
        print(format_curves([c for c in curves if c.clip_norm is None], every=args.every))
    if not args.no_tensorboard:
        print(f"\nTensorBoard logs in {args.logdir}:  tensorboard --logdir {args.logdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
