"""What an epoch reports: validation loss and accuracy from logits, the confusion matrix, the printed line."""

from __future__ import annotations

from typing import Mapping

import numpy as np


def binary_metrics(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Mean BCE from logits, accuracy at P = 0.5, and the confusion counts (NaN loss and accuracy for
    no samples: an empty validation split has no accuracy, not an accuracy of 0).

    ℓ(z, y) = max(z, 0) − z·y + log(1 + e^(−|z|)); predicted dog when z > 0 (P(dog) > ½);
    ``confusion[true class, predicted class]`` with cat = 0, dog = 1.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    pred = z > 0
    truth = y > 0.5
    n = max(len(z), 1)
    with np.errstate(all="ignore"):
        loss = float(losses.mean()) if len(z) else float("nan")
    return dict(
        loss=loss,
        accuracy=float(np.count_nonzero(pred == truth)) / n if len(z) else float("nan"),
        confusion=np.array([[np.sum(~truth & ~pred), np.sum(~truth & pred)],
                            [np.sum(truth & ~pred), np.sum(truth & pred)]], dtype=np.int64),
    )


def format_confusion(cm: np.ndarray) -> str:
    """2x2 table, rows = true class, columns = predicted class."""
    cm = np.asarray(cm)
    w = max(6, len(str(int(cm.max()))) + 2)
    lines = ["confusion matrix on validation (rows: true class, columns: predicted):",
             " " * 10 + "cat".rjust(w) + "dog".rjust(w)]
    for name, row in zip(("cat", "dog"), cm):
        lines.append(f"  true {name}" + "".join(str(int(v)).rjust(w) for v in row))
    return "\n".join(lines)


def epoch_line(record: Mapping, epochs: int) -> str:
    """The line printed after each epoch; with both twins, the scratch accuracy and the parameter gap too."""
    r = record

    def show(value, digits):  # NaN: no validation images
        return "n/a" if value != value else f"{value:.{digits}f}"

    line = (f"epoch {r['epoch']}/{epochs}: train loss {r['train_loss']:.4f} acc {r['train_accuracy']:.3f} | "
            f"val loss {show(r['val_loss'], 4)} acc {show(r['val_accuracy'], 3)} | {r['seconds']:.1f}s")
    if "parity_max_abs_diff" in r:
        line += (f" | scratch val acc {show(r['scratch_val_accuracy'], 3)}; largest torch−scratch "
                 f"parameter difference {r['parity_max_abs_diff']:.2e} ({r['parity_worst_tensor']})")
    return line


__all__ = ["binary_metrics", "format_confusion", "epoch_line"]
