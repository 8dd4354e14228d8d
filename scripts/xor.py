#!/usr/bin/env python
"""XOR with three sigmoid units: the lecture's hand-set weights, then the same network learned by backprop.

Prints, for the rows (0,0), (0,1), (1,0), (1,1):

  * the outputs of y₁ = σ(5x₁+5x₂−8), y₂ = σ(−7x₁−7x₂+3), out = σ(−11y₁−11y₂+6),
    in the NumPy twin (scratch.xor) and the torch twin (torch_ref.xor);
  * the outputs and accuracy of the 2-2-1 network trained from a seeded random
    start (full batch, binary cross-entropy, SGD with momentum), both twins from
    the same start, and how far their final losses differ.

The library code is scratch.xor / torch_ref.xor; this script only parses arguments.
"""

from __future__ import annotations

import argparse
import sys

from nnlab.cli import positive_float, positive_int, unit_interval
from torch_ref.module import load_scratch_state


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n  python scripts/xor.py\n  python scripts/xor.py --seed 11   "
                                       "# a start that lands in a local minimum (50 %)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random start (default: %(default)s)")
    p.add_argument("--steps", type=positive_int, default=300, help="full-batch gradient steps (default: %(default)s)")
    p.add_argument("--lr", type=positive_float, default=1.0, help="learning rate (default: %(default)s)")
    p.add_argument("--momentum", type=unit_interval, default=0.9, help="SGD momentum, in [0, 1) (default: %(default)s)")
    args = p.parse_args(argv)

    import numpy as np

    import scratch.xor as S
    import torch_ref.xor as T

    rows = ["(0,0)", "(0,1)", "(1,0)", "(1,1)"]
    fmt = lambda v: "  ".join(f"{r} {x:.4f}" for r, x in zip(rows, np.asarray(v)))  # noqa: E731
    print("hand-set weights  y1=σ(5x1+5x2−8), y2=σ(−7x1−7x2+3), out=σ(−11y1−11y2+6)")
    print(f"  scratch: {fmt(S.xor_outputs(S.hand_set_xor_network()))}")
    print(f"  torch:   {fmt(T.xor_outputs(T.hand_set_xor_network()).numpy())}")

    s = S.xor_network(rng=args.seed)
    t = T.xor_network()
    load_scratch_state(t, s)
    kw = dict(lr=args.lr, momentum=args.momentum, steps=args.steps)
    s_losses, t_losses = S.train_xor(s, **kw), T.train_xor(t, **kw)
    print(f"\ntrained from seed {args.seed}: {args.steps} steps, BCE, SGD(lr={args.lr}, momentum={args.momentum})")
    print(f"  scratch: {fmt(S.xor_outputs(s))}  accuracy {S.xor_accuracy(s):.0%}  loss {s_losses[0]:.4f} → {s_losses[-1]:.4f}")
    print(f"  torch:   {fmt(T.xor_outputs(t).numpy())}  accuracy {T.xor_accuracy(t):.0%}  loss {t_losses[0]:.4f} → {t_losses[-1]:.4f}")
    print(f"  max |loss_scratch − loss_torch| over all steps: {max(abs(a - b) for a, b in zip(s_losses, t_losses)):.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
