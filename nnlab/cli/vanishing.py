"""Vanishing gradients, measured: per-layer gradient norms of a deep MLP, in scratch and torch.

Trains the same deep MLP twice from identical weights (NumPy by hand and torch)
for each activation / initialization / BatchNorm configuration, on a fixed
synthetic classification task, and reports:

  * a table: the weight-gradient norm of the first width×width hidden layer
    over that of the last one, at initialization (≈1e-6 for sigmoid with
    torch's default init: each sigmoid layer shrinks the gradient by about
    (1/4)·√(1/3) ≈ 0.14), and the training loss at step 0 and after --steps;
  * a PNG: per-layer weight-gradient norm against depth, one line per
    configuration, log scale;
  * TensorBoard logs: per layer and logged step, weight/bias gradient norms,
    dead-unit fractions, histograms of weight gradients, pre-activations and
    activations, and the depth profile (gradient norm against layer, both twins,
    one image per logged step). Runs are named scratch/<config> and torch/<config>
    with the same tags, so TensorBoard overlays the twins; the run "overview" holds
    what to look at, the table, the plot and a chart of every layer:
    tensorboard --logdir runs
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

from nnlab.cli import at_least, positive_float, positive_int, tensorboard_command, unit_interval

EPILOG = """\
examples:
  python scripts/vanishing_gradients.py                      # default study, CPU, < 1 min
  python scripts/vanishing_gradients.py --activations sigmoid relu --inits default he --batchnorm both
  python scripts/vanishing_gradients.py --device cuda --steps 1000 --log-every 50
  tensorboard --logdir runs                                   # then open http://localhost:6006"""

#: The study compares layer 2 with layer depth − 1, the first and last width×width hidden layers:
#: two different layers exist from depth 4 on (at depth 3 they are the same layer, ratio 1).
MIN_DEPTH = 4
#: Statistics every this many steps; a run of at most twice as many steps logs every steps/4 steps
#: instead, so that every run logs at least 3 steps (a 20-step run: 0, 5, 10, 15; not only step 0).
DEFAULT_LOG_EVERY = 20


def build_parser() -> argparse.ArgumentParser:
    from nnlab import vanishing as V
    from nnlab.runtime import DEVICES

    defaults = V.StudySettings()
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
    )
    p.add_argument("--activations", nargs="+", choices=sorted(V.ACTIVATIONS), metavar="ACT",
                   help=f"activations to study ({', '.join(V.ACTIVATIONS)}); with --inits/--batchnorm "
                        "this runs the full grid instead of the default list: sigmoid with default, xavier and "
                        "default+BatchNorm; tanh default and xavier; relu default and he; leaky_relu, elu, gelu, "
                        "silu with he")
    p.add_argument("--inits", nargs="+", choices=V.INITS, metavar="INIT",
                   help="initializations for the grid: default (torch's U(±1/√fan_in)), xavier, he")
    p.add_argument("--batchnorm", choices=("no", "yes", "both"),
                   help="BatchNorm1d after every hidden Linear, for the grid (default: no)")
    p.add_argument("--depth", type=at_least(MIN_DEPTH), default=10,
                   help=f"Linear layers in the MLP, at least {MIN_DEPTH}: the table compares the first and the last "
                        "width×width hidden layer (default: 10)")
    p.add_argument("--width", type=positive_int, default=128, help="hidden width (default: 128)")
    p.add_argument("--steps", type=positive_int, default=defaults.steps,
                   help=f"SGD steps per twin (default: {defaults.steps})")
    p.add_argument("--batch-size", type=positive_int, default=defaults.batch_size,
                   help=f"minibatch size, at most the task's {defaults.n_samples} samples "
                        f"(default: {defaults.batch_size})")
    p.add_argument("--lr", type=positive_float, default=defaults.lr, help=f"SGD learning rate (default: {defaults.lr})")
    p.add_argument("--momentum", type=unit_interval, default=defaults.momentum,
                   help=f"SGD momentum, in [0, 1) (default: {defaults.momentum})")
    p.add_argument("--log-every", type=positive_int, default=None, metavar="N",
                   help=f"log statistics, histograms and the depth profile every N steps (default: "
                        f"{DEFAULT_LOG_EVERY}, which keeps the logging overhead below 5%%; runs of at most "
                        f"{2 * DEFAULT_LOG_EVERY} steps log every steps/4, so that they log at least 3 steps)")
    p.add_argument("--no-histograms", action="store_true", help="log scalars only")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="float64 (default) keeps the twins equal to ~1e-12; float32 is faster and drifts apart "
                        "once training amplifies rounding differences")
    p.add_argument("--impl", nargs="+", choices=V.IMPLEMENTATIONS, default=list(V.IMPLEMENTATIONS),
                   help="which twins to run (default: both)")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="device of the torch twin: auto (default) = cuda when available, else cpu; "
                        "the scratch twin always runs on the CPU")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="CPU threads for torch and BLAS (default: 1, which avoids oversubscription on shared machines)")
    p.add_argument("--task", choices=("synthetic", "dogcat"), default="synthetic",
                   help="synthetic: a fixed 4-class teacher task generated in code (default); dogcat: 2,048 "
                        "photos from the dog/cat cache (nnlab.dogcat), pooled to 20x20 px and flattened")
    p.add_argument("--data", default=None,
                   help="photo folder for --task dogcat (default: $DOGCAT_DATA, else the shared sample)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the task, the weights and the minibatches")
    p.add_argument("--logdir", type=Path, default=None,
                   help="TensorBoard folder (default: runs/vanishing-<timestamp>)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for vanishing_gradients.png and vanishing_gradients.md (default: the logdir)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it is drawn only on a terminal, and never with $TQDM_DISABLE set)")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from nnlab import vanishing as V

    p = build_parser()
    args = p.parse_args(argv)
    if args.task == "synthetic" and args.batch_size > V.StudySettings().n_samples:
        p.error(f"argument --batch-size: expected at most the task's {V.StudySettings().n_samples} samples, "
                f"got {args.batch_size}")
    if args.data is not None and args.task != "dogcat":
        p.error("argument --data: applies only with --task dogcat (the synthetic task reads no photos)")
    if args.log_every is None:
        args.log_every = DEFAULT_LOG_EVERY if args.steps > 2 * DEFAULT_LOG_EVERY else max(1, args.steps // 4)
    return args


def configs_from_args(args: argparse.Namespace) -> list:
    from nnlab import vanishing as V

    if args.activations is None and args.inits is None and args.batchnorm is None:
        return V.default_configs(args.depth, args.width)
    acts = args.activations or list(V.ACTIVATIONS)
    inits = args.inits or ["default"]
    bns = {"no": [False], "yes": [True], "both": [False, True]}[args.batchnorm or "no"]
    return [V.MLPConfig(a, i, bn, args.depth, args.width) for a in acts for i in inits for bn in bns]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    from nnlab import vanishing as V
    from nnlab.runtime import resolve_device, show_progress
    from nnlab.vanishing.board import write_overview

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    progress = show_progress(not args.no_progress)
    logdir = args.logdir or Path("runs") / f"vanishing-{datetime.now():%Y%m%d-%H%M%S}"
    out = args.out or logdir
    settings = V.StudySettings(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
        log_every=args.log_every, histograms=not args.no_histograms, dtype=np.dtype(args.dtype).type,
        seed=args.seed,
    )
    configs = configs_from_args(args)
    t0 = time.perf_counter()
    task = None
    if args.task == "dogcat":
        task, _ = V.load_dogcat_task(args.data, seed=args.seed, dtype=settings.dtype, progress=progress,
                                     log=lambda line: print(line, file=sys.stderr))
        if args.batch_size > len(task.y):
            print(f"error: --batch-size {args.batch_size} exceeds the {len(task.y)} photos of the task",
                  file=sys.stderr)
            return 2
    with threadpool_limits(args.threads), tqdm(
        total=len(configs) * len(args.impl) * args.steps, unit="step", disable=not progress, file=sys.stderr
    ) as bar:
        results = V.run_study(configs, settings, task=task, implementations=args.impl, device=device,
                              logdir=logdir, progress=bar.update)
    table = V.format_table(results, args.steps)
    out.mkdir(parents=True, exist_ok=True)
    png = V.plot_grad_norms(results, out / "vanishing_gradients.png", impl="torch" if "torch" in args.impl else "scratch")
    (out / "vanishing_gradients.md").write_text(table + "\n")
    write_overview(logdir, results, table, png)
    print(table)
    print(f"\nplot:        {png}")
    print(f"table:       {out / 'vanishing_gradients.md'}")
    print(f"tensorboard: {tensorboard_command(logdir)}   ({len(results) * len(args.impl)} runs, torch on {device}, "
          f"logged every {args.log_every} steps; start with the run 'overview')")
    print(f"wall time:   {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
