"""The study's results for a reader: the Markdown table of first/last gradient ratios and losses,
and the PNG of per-layer gradient norms against depth."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from nnlab.vanishing.config import IMPLEMENTATIONS
from nnlab.vanishing.study import ConfigResult


def format_table(results: Sequence[ConfigResult], steps: int) -> str:
    """Markdown table: per configuration, the weight-gradient norm of the first
    width×width hidden layer (layer 2) over that of the last (layer depth − 1) at
    initialization, and the loss on the whole training set before training and
    after ``steps`` SGD steps."""
    impls = [i for i in IMPLEMENTATIONS if all(i in r.runs for r in results)]
    depth = results[0].config.depth if results else 10
    ratio = f"‖∇W₂‖/‖∇W{_subscript(depth - 1)}‖"  # layers counted from 1, as in the tags and the plot
    head = ["activation", "init", "BN"] + [f"{ratio} ({i})" for i in impls] + ["loss @0"]
    head += [f"loss @{steps} ({i})" for i in impls]
    rows = []
    for r in results:
        c = r.config
        first = r.runs[impls[0]]
        row = [c.activation, c.init, "yes" if c.batchnorm else "no"]
        row += [f"{r.runs[i].initial.first_last_ratio:.2e}" for i in impls]
        row += [f"{first.initial_loss:.3f}"] + [f"{r.runs[i].final_loss:.3f}" for i in impls]
        rows.append(row)
    widths = [max(len(h), *(len(row[j]) for row in rows)) if rows else len(h) for j, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule] + [line(row) for row in rows])


def _subscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


#: Line style by activation family: saturating (solid, dashed), ReLU-like (dash-dot), smooth ReLU-like (dotted).
LINESTYLES = {"sigmoid": "-", "tanh": "--", "relu": "-.", "leaky_relu": "-.", "elu": ":", "gelu": ":", "silu": ":"}
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "h", "<", ">", "p")


def line_style(i: int, activation: str) -> tuple[str, str, str]:
    """(colour, line style, marker) of the ``i``-th line: ten colours, a line style per activation family
    and twelve markers, so no two of the first twelve lines look alike (the eleventh reuses the first
    colour with another line style and marker)."""
    return f"C{i % 10}", LINESTYLES.get(activation, "-"), MARKERS[i % len(MARKERS)]


def plot_grad_norms(results: Sequence[ConfigResult], path: str | Path, impl: str = "torch") -> Path:
    """PNG: weight-gradient norm at initialization against layer index, one line per configuration, log y."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for i, r in enumerate(results):
        run = r.runs.get(impl) or next(iter(r.runs.values()))
        norms = run.initial.weight_grad_norm
        colour, linestyle, marker = line_style(i, r.config.activation)
        ax.plot(
            np.arange(1, len(norms) + 1), np.maximum(norms, np.finfo(np.float64).tiny), color=colour,
            linestyle=linestyle, marker=marker, markersize=4, label=r.config.name,
        )
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("‖dL/dW‖ at initialization")
    depth = results[0].config.depth if results else 0
    ax.set_xticks(np.arange(1, depth + 1))
    ax.set_title(f"Per-layer weight-gradient norm, depth-{depth} MLP ({impl})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


__all__ = ["format_table", "plot_grad_norms", "line_style"]
