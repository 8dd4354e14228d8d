"""The run folder: what a training run leaves beside ``checkpoint.pt``, readable without TensorBoard.

::

    runs/<run>/
      checkpoint.pt        the weights, optimizer and progress (nnlab.dogcat.checkpoint)
      config.json          every setting of the run, resolved (``TrainConfig.from_dict`` reads it back),
                           and under "resolved" what the settings became: device, model, optimizer, data
      metrics.csv          one row per epoch: epoch, global_step, train/val loss and accuracy, lr,
                           seconds, images_per_second (and the scratch twin's columns with --impl both)
      learning_curve.png   loss and accuracy against epoch, train and validation
      summary.json         the headline metrics when the run ends: final and best validation accuracy, …
      events.out.tfevents.*  TensorBoard

Every file is written atomically (:func:`nnlab.dogcat.checkpoint.atomic_file`) with the
permissions the umask gives. ``metrics.csv`` is rewritten from the run's history, which the
checkpoint carries: a resumed run continues the file with its next epoch and never repeats
a row, and rows past the checkpoint a crashed run may have left are dropped.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from nnlab.dogcat.checkpoint import atomic_file

CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.csv"
CURVE_NAME = "learning_curve.png"
SUMMARY_NAME = "summary.json"
#: The run-folder files besides the checkpoint and the TensorBoard events.
FILES = (CONFIG_NAME, METRICS_NAME, CURVE_NAME, SUMMARY_NAME)

#: metrics.csv's columns in this order; other keys of the history follow in the order they appear.
COLUMNS = ("epoch", "global_step", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds",
           "images_per_second", "scratch_train_loss", "scratch_train_accuracy", "scratch_val_loss",
           "scratch_val_accuracy", "parity_max_abs_diff", "parity_worst_tensor")
#: The learning curve is redrawn after an epoch only when drawing costs at most this share of the epoch;
#: it is always drawn when the run ends.
CURVE_BUDGET = 0.05


def write_json(path: str | Path, value: Any) -> None:
    """``value`` as indented JSON, atomically (NaN and ∞ become null: JSON has no such numbers)."""
    text = json.dumps(_plain(value), indent=2, allow_nan=False) + "\n"
    with atomic_file(path) as f:
        f.write(text.encode())


def metrics_csv(history: Sequence[Mapping[str, Any]]) -> str:
    """The CSV text of the per-epoch records: :data:`COLUMNS` first, then any other key."""
    keys = [k for k in COLUMNS if any(k in r for r in history)]
    keys += [k for r in history for k in r if k not in keys and not isinstance(r[k], (dict, list))]
    keys = list(dict.fromkeys(keys))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, restval="", extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in history:
        writer.writerow({k: _cell(v) for k, v in record.items()})
    return out.getvalue()


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    """The rows of a metrics.csv, as strings keyed by column."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def draw_learning_curve(history: Sequence[Mapping[str, Any]], title: str = "") -> bytes:
    """PNG bytes: loss (left) and accuracy (right) against epoch, train solid and validation dashed;
    the scratch twin's, when present, in grey beneath (equal values hide them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), dpi=100)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix, colour, width in (("scratch_", "0.6", 3.0), ("", None, 1.5)):
            for split, style in (("train", "-"), ("val", "--")):
                key = f"{prefix}{split}_{metric}"
                if all(key in r for r in history):
                    ax.plot(epochs, [_number(r[key]) for r in history], linestyle=style, marker="o", markersize=3,
                            color=colour or ("C0" if split == "train" else "C1"), linewidth=width,
                            label=f"{prefix.rstrip('_') + ' ' if prefix else ''}{split}", zorder=1 if prefix else 2)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


class RunFolder:
    """Writes the run-folder files of one run; with ``enabled`` False (processes other than the
    first of a distributed run) every call does nothing."""

    def __init__(self, folder: str | Path, enabled: bool = True, title: str = "") -> None:
        self.folder = Path(folder)
        self.enabled = enabled
        self.title = title
        self._curve_seconds = 0.25  # a first guess at drawing the curve, replaced once measured

    def start(self, config: Mapping[str, Any], resolved: Mapping[str, Any], resumed: bool) -> None:
        """Write config.json; a fresh run (not resumed) first removes the files an earlier run left."""
        if not self.enabled:
            return
        if not resumed:
            for name in (METRICS_NAME, CURVE_NAME, SUMMARY_NAME):
                (self.folder / name).unlink(missing_ok=True)
        write_json(self.folder / CONFIG_NAME, dict(config, resolved=dict(resolved)))

    def epoch_done(self, history: Sequence[Mapping[str, Any]], epoch_seconds: float) -> None:
        """metrics.csv from the whole history; the learning curve when it is cheap against the epoch."""
        if not self.enabled:
            return
        with atomic_file(self.folder / METRICS_NAME) as f:
            f.write(metrics_csv(history).encode())
        if self._curve_seconds <= CURVE_BUDGET * epoch_seconds:
            self.draw(history)

    def draw(self, history: Sequence[Mapping[str, Any]]) -> None:
        if not (self.enabled and history):
            return
        start = time.perf_counter()
        png = draw_learning_curve(history, self.title)
        with atomic_file(self.folder / CURVE_NAME) as f:
            f.write(png)
        self._curve_seconds = time.perf_counter() - start

    def finish(self, history: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> None:
        """The learning curve and summary.json when the run ends (completed or stopped early)."""
        if not (self.enabled and history):
            return
        self.draw(history)
        write_json(self.folder / SUMMARY_NAME, summary)


def summary_of(history: Sequence[Mapping[str, Any]], **extra: Any) -> dict:
    """The headline metrics of a run's history: the last epoch's, the best validation accuracy and
    its epoch, the largest twin gap, total seconds and mean images/s; ``extra`` is added as given."""
    last = history[-1]
    scored = [r for r in history if _number(r.get("val_accuracy")) == _number(r.get("val_accuracy"))]
    best = max(scored, key=lambda r: r["val_accuracy"]) if scored else None
    out = {
        "epochs": int(last["epoch"]), "global_step": int(last["global_step"]),
        "final": {k: last[k] for k in COLUMNS[2:] if k in last and k not in ("lr", "seconds", "images_per_second")},
        "best_val_accuracy": None if best is None else {"value": best["val_accuracy"], "epoch": best["epoch"]},
        "seconds": sum(_number(r.get("seconds", 0.0)) for r in history),
    }
    rates = [_number(r["images_per_second"]) for r in history if "images_per_second" in r]
    if rates:
        out["images_per_second"] = sum(rates) / len(rates)
    gaps = [r["parity_max_abs_diff"] for r in history if "parity_max_abs_diff" in r]
    if gaps:
        out["parity_max_abs_diff"] = max(gaps)
    out.update(extra)
    return out


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _cell(value: Any) -> Any:
    """Floats with full precision (repr), NaN as empty: a spreadsheet reads both."""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value


def _plain(value: Any) -> Any:
    """JSON-ready: NumPy numbers and arrays as Python ones, tuples as lists, NaN/∞ as None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


__all__ = ["CONFIG_NAME", "METRICS_NAME", "CURVE_NAME", "SUMMARY_NAME", "FILES", "COLUMNS", "RunFolder",
           "metrics_csv", "read_metrics", "draw_learning_curve", "summary_of", "write_json"]
