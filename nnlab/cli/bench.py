"""Benchmark the scratch twin against torch, the dog/cat data pipeline, logging, tests and memory.

    python scripts/bench.py                         # every figure, a few minutes on 2 cores
    python scripts/bench.py --quick                 # fewer repeats, no test-suite run
    python scripts/bench.py --only train_step decode
    python scripts/bench.py --markdown              # also print the table as Markdown (README)

Prints a table (median, min and max of repeated runs, the target, whether it is met)
and writes it, with the machine's description, as JSON. The measurements live in
nnlab.bench; this program only parses flags. Installed as nn-twins-bench;
scripts/bench.py and python -m nnlab.cli.bench run it too.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from nnlab import bench
from nnlab.runtime import show_progress

FIGURE_HELP = """figures (targets from the benchmark issue; reported, never asserted):
  train_step    one training step, scratch time / torch time on the CPU: logistic 30,000->1 and
                MLP 30,000-256-1 (ReLU), batch 128, float32 and float64, SGD and Adam, with one
                thread and with every core (target <= 1.0); GFLOP/s of the first layer's two big
                matrix products against a measured BLAS peak
  cnn_step      one training step of the dog/cat CNN (16-32-64-128-256 on 3x100x100, float32, Adam,
                batch 64), scratch time / torch time, one thread and every core (target <= 2.0);
                conv GFLOP/s of both against the BLAS peak; scratch's time by layer kind
  decode        first-pass decode of JPEGs to 3x100x100 uint8 (the shared 200x200 sample and
                500x375 photos made from it): draft-mode decode over the plain
                Image.open(f).convert('RGB').resize((100, 100)), per core (target >= 2.5), and
                images/s on all cores (scaling target >= 0.8 of linear)
  cache_epoch   one epoch of batches from the memory-mapped uint8 cache against a plain torch
                Dataset decoding every JPEG each epoch, DataLoader(num_workers=cores) (target >= 50x)
  cpu_epoch     an epoch on the CPU end to end: 25,000 images of a memory-mapped cache read, normalized
                and trained in batches of 128 (logistic and MLP 30,000-256-1, float32 Adam, each twin),
                images/s beside the bare step's (targets for the logistic model: scratch >= 30,000, torch
                >= 25,000, torch's epoch <= 1.3x scratch's)
  gpu_epoch     logistic model, 25,000 uint8 images resident on the GPU, batch 128 and 1,024,
                plain / torch.compile / CUDA graph, ms per epoch (target <= 20 at 1,024) and the
                ratio to the bandwidth floor (the images' bytes at a measured device copy's bandwidth);
                skipped without CUDA
  gpu_cnn_epoch the CNN's epoch as --model cnn --amp trains it on the GPU: 25,000 resident images,
                flips and shifts on the device, bf16 autocast, channels-last, batch 64 (target <= 1.5 s),
                against the FLOP floor (its convolutions at a measured bf16 matmul peak); skipped without CUDA
  gpu_vanishing the vanishing study's torch twin on the GPU against the CPU, and against the launch
                floor (kernels per step x the launch time of a small kernel); skipped without CUDA
  tensorboard   dog/cat trainer with weight and gradient histograms at the default interval
                against none, end to end and as one event's cost over the interval's steps, and
                the vanishing-gradient study's logging (target <= 5 %)
  parity_suite  wall time of the test suite as make test runs it: pytest -n auto, at most
                4 workers (target < 60 s)
  memory        peak RSS of a process training the logistic model (target < 1.2 GB) and the CNN
                (batch 64, target < 2 GB) for one epoch from a 25,000-image memory-mapped cache

On a machine shared with other jobs the timings are noisy: compare medians, and run
again when `uptime` shows a low load. Exit status: 0 done (targets met or not),
1 a figure failed with an error, 2 bad arguments."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=FIGURE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="fewer repeats and images, every core only for train_step, no parity-suite run "
                           "(about a third of the time; the figures are noisier)")
    size.add_argument("--tiny", action="store_true",
                      help="toy sizes that run every code path in seconds (the benchmark's own test); "
                           "the numbers mean nothing")
    p.add_argument("--only", nargs="+", choices=bench.FIGURES, metavar="FIGURE",
                   help="run only these figures (the others appear in the JSON as not selected): "
                        + ", ".join(bench.FIGURES))
    p.add_argument("--out", default=str(bench.DEFAULT_OUT), metavar="PATH",
                   help="where to write the JSON (written atomically; default: %(default)s)")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown, for the README")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars (they are drawn only on a terminal, and never with $TQDM_DISABLE set)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    mode = "quick" if args.quick else "tiny" if args.tiny else "full"
    argv_shown = sys.argv[1:] if argv is None else list(argv)
    command = "python scripts/bench.py" + "".join(" " + shlex.quote(a) for a in argv_shown)
    result = bench.run_benchmark(mode, args.only, progress=show_progress(not args.no_progress), command=command)
    path = bench.write_json(result, args.out)
    print(bench.format_table(result))
    print()
    print(bench.summary_line(result))
    if args.markdown:
        print()
        print(bench.format_table(result, markdown=True))
    print(f"JSON: {path}")
    failed = [name for name, entry in result["figures"].items() if entry.get("error")]
    for name in failed:
        print(f"figure {name} failed:\n{result['figures'][name]['traceback']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
