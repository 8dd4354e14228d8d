"""The study's results for a reader: the gap table, the weight-decay identities, the PNG and the TensorBoard runs."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from nnlab.overfitting.config import IMPLEMENTATIONS
from nnlab.overfitting.decay import DecayReport
from nnlab.overfitting.training import VariantResult
from nnlab.tensorboard import EventWriter

#: largest parameter difference of two runs that are the same run up to rounding, per dtype
SAME_RUN = {"float64": 1e-12, "float32": 1e-5}
#: the tags of every run (TensorBoard groups them by the part before the slash)
TAGS = ("accuracy/train", "accuracy/validation", "accuracy/gap", "loss/train", "loss/validation")


def _impls(results: Sequence[VariantResult]) -> list[str]:
    return [i for i in IMPLEMENTATIONS if all(i in r.curves for r in results)]


def format_table(results: Sequence[VariantResult]) -> str:
    """Markdown table: per variant, the final training and validation accuracy and their gap (each twin,
    ``scratch / torch``), and the twins' largest parameter difference over the run."""
    impls = _impls(results)
    both = " (" + " / ".join(impls) + ")" if len(impls) > 1 else ""
    head = ["variant", f"train acc{both}", f"val acc{both}", f"gap{both}"]
    if len(impls) == 2:
        head.append("max |θ_scratch − θ_torch|")
    rows = []
    for r in results:
        final = {i: r.curves[i] for i in impls}
        row = [r.variant.label]
        for values in ("train_accuracy", "val_accuracy", "gap"):
            row.append(" / ".join(f"{getattr(final[i], values)[-1]:.3f}" for i in impls))
        if len(impls) == 2:
            row.append(f"{r.max_param_diff:.1e}")
        rows.append(row)
    widths = [max(len(h), *(len(row[j]) for row in rows)) for j, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule] + [line(row) for row in rows])


def format_decay(report: DecayReport, in_features: int, n_classes: int = 2) -> str:
    """The identities of ``nnlab.overfitting.decay``, one line per comparison, then ‖θ‖ at the end and the twins."""
    s = report.settings
    impls = list(report.final_norm)
    sizes = "-".join(str(n) for n in (in_features, *s.hidden, n_classes))
    lines = [
        f"Weight decay, λ = {s.weight_decay:g}: {s.steps} steps of a {sizes} MLP from the same weights on the same "
        f"batches ({np.dtype(s.dtype).name}; SGD lr {s.sgd_lr:g} momentum {s.momentum:g}, Adam lr {s.adam_lr:g})",
    ]
    width = max(len(c.a) for c in report.comparisons), max(len(c.b) for c in report.comparisons)
    same = SAME_RUN[np.dtype(s.dtype).name]
    for c in report.comparisons:
        diffs = "  ".join(f"{i} {c.max_diff[i]:.1e}" for i in impls)
        verdict = (f"the same run (≤ {same:g})" if max(c.max_diff.values()) <= same else "NOT the same run") \
            if c.expected_equal else ("different runs" if min(c.max_diff.values()) > 100 * same else "hardly different")
        lines.append(f"  {c.a:<{width[0]}}  vs  {c.b:<{width[1]}}  max |Δθ|: {diffs}   {verdict}")
    norms = report.final_norm[impls[-1]]
    lines.append(
        f"  ‖θ‖ after {s.steps} steps ({impls[-1]}): Adam {norms['Adam']:.3f}, AdamW(weight_decay=λ) "
        f"{norms['AdamW(weight_decay=λ)']:.3f}, Adam(weight_decay=λ) {norms['Adam(weight_decay=λ)']:.3f}"
    )
    lines.append("    Adam divides λθ by √v̂ + ε: a weight with small loss gradients is pulled to 0 at about lr per "
                 "step; AdamW shrinks every weight by the same factor 1 − lr·λ")
    if report.twin_diff:
        lines.append(f"  scratch vs torch, each of the {len(report.twin_diff)} runs: "
                     f"max |θ_scratch − θ_torch| ≤ {max(report.twin_diff.values()):.1e}")
    return "\n".join(lines)


def plot_curves(results: Sequence[VariantResult], path: str | Path, title: str = "") -> Path:
    """PNG: one panel per variant, training and validation accuracy against the epoch (torch solid,
    scratch dotted on top of it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = 2 if len(results) > 1 else 1
    rows = -(-len(results) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), dpi=110, sharex=True, sharey=True, squeeze=False)
    impls = _impls(results)
    styles = {"torch": dict(linestyle="-", linewidth=1.8), "scratch": dict(linestyle=":", linewidth=2.2)}
    colors = {"train": "tab:blue", "validation": "tab:orange"}
    for ax, r in zip(axes.flat, results):
        for impl in sorted(impls, key=lambda i: i == "scratch"):  # scratch last, dotted over torch's line
            c = r.curves[impl]
            for split, values in (("train", c.train_accuracy), ("validation", c.val_accuracy)):
                ax.plot(c.epochs, values, color=colors[split], label=f"{split} ({impl})", **styles[impl])
        last = r.curves[impls[-1]]
        ax.set_title(f"{r.variant.label}: gap {last.final_gap:.3f}", fontsize=10)
        ax.grid(True, alpha=0.3)
    for ax in axes.flat[len(results):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_tensorboard(results: Sequence[VariantResult], logdir: str | Path) -> list[Path]:
    """One run per variant and twin, ``<logdir>/<variant>/<impl>``, with the same tags (:data:`TAGS`) at every
    measured epoch, so TensorBoard overlays the twins and the variants; a text card with the final numbers."""
    runs = []
    for r in results:
        for impl, c in r.curves.items():
            run = Path(logdir) / r.variant.name / impl
            with EventWriter(run) as writer:
                for k, epoch in enumerate(c.epochs):
                    writer.write(epoch, scalars=dict(zip(TAGS, (
                        c.train_accuracy[k], c.val_accuracy[k], c.gap[k], c.train_loss[k], c.val_loss[k]))))
                writer.text("summary", f"{r.variant.label} ({impl}): training accuracy {c.train_accuracy[-1]:.3f}, "
                                       f"validation accuracy {c.val_accuracy[-1]:.3f}, gap {c.final_gap:.3f}")
            runs.append(run)
    return runs


__all__ = ["TAGS", "format_table", "format_decay", "plot_curves", "write_tensorboard"]
