"""What a checkpoint is evaluated on, and the scores: image files and folders in, metrics out.

A folder in one of the training layouts (Kaggle ``cat.*``/``dog.*`` files, PetImages, class
folders ``cat/`` and ``dog/``; one class alone is enough here) gives every image its label;
any other folder is searched for images without labels (e.g. Kaggle's ``test1/``, named
``1.jpg``, ``2.jpg``, …), and so are image files named one by one.

Where labels exist, the scores are scikit-learn's (dog = 1 is the positive class, predicted
when P(dog) ≥ the threshold):

* accuracy = (TP + TN) / N;
* precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2·P·R / (P + R), each n/a when its
  denominator is 0;
* ROC-AUC: the probability that a random dog gets a higher P(dog) than a random cat
  (threshold-free; n/a with one class only);
* the confusion matrix, rows the true class and columns the predicted one (cat, dog).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from nnlab.dogcat.layouts import CAT, DOG, DataLayoutError, images_under, scan_layout

CLASS_NAMES = {CAT: "cat", DOG: "dog"}


def collect_targets(inputs: Iterable[str | os.PathLike]) -> tuple[list[tuple[str, int | None]], list[str]]:
    """``([(path, label or None), ...], [one line per input saying what was found])``.

    Folders are read as the trainer reads them (labels from the layout), else searched for image
    files without labels; files are taken as given, unlabelled. A missing input is kept as a file,
    so its error is reported in its place.
    """
    targets: list[tuple[str, int | None]] = []
    sources = []
    for given in inputs:
        path = Path(given).expanduser()
        if not path.is_dir():
            targets.append((str(given), None))
            continue
        try:
            layout, items = scan_layout(path, both_classes=False)
        except DataLayoutError:
            found = sorted(images_under(str(path)))
            targets += [(p, None) for p in found]
            sources.append(f"{path}: {len(found)} images without labels (not a labelled layout)")
            continue
        targets += items
        dogs = sum(1 for _, label in items if label == DOG)
        sources.append(f"{path}: {layout} layout, {len(items) - dogs} cats and {dogs} dogs")
    return targets, sources


def binary_evaluation(labels: Sequence[int], probs: Sequence[float], threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall, F1, ROC-AUC and the confusion matrix of P(dog) against the labels
    (scikit-learn; NaN where a score is undefined: no predicted dog, no dog, one class only)."""
    from sklearn import metrics

    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    pred = (p >= threshold).astype(np.int64)
    both = len(np.unique(y)) == 2
    return {
        "images": int(len(y)),
        "cats": int(np.count_nonzero(y == CAT)),
        "dogs": int(np.count_nonzero(y == DOG)),
        "threshold": float(threshold),
        "accuracy": float(metrics.accuracy_score(y, pred)) if len(y) else math.nan,
        "precision": float(metrics.precision_score(y, pred, pos_label=DOG, zero_division=np.nan)),
        "recall": float(metrics.recall_score(y, pred, pos_label=DOG, zero_division=np.nan)),
        "f1": float(metrics.f1_score(y, pred, pos_label=DOG, zero_division=np.nan)),
        "roc_auc": float(metrics.roc_auc_score(y, p)) if both else math.nan,
        "confusion_matrix": metrics.confusion_matrix(y, pred, labels=[CAT, DOG]).tolist(),
    }


def _score(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"


def format_evaluation(scores: dict) -> str:
    """The scores as the lines ``predict.py`` prints."""
    cm = scores["confusion_matrix"]
    width = max(6, len(str(max(max(row) for row in cm))) + 2)
    lines = [
        f"evaluated {scores['images']} labelled images ({scores['cats']} cats, {scores['dogs']} dogs), "
        f"dog when P(dog) >= {scores['threshold']:g}:",
        f"  accuracy   {_score(scores['accuracy'])}",
        f"  precision  {_score(scores['precision'])}   (of the images called dog, the share that are dogs)",
        f"  recall     {_score(scores['recall'])}   (of the dogs, the share called dog)",
        f"  F1         {_score(scores['f1'])}",
        f"  ROC-AUC    {_score(scores['roc_auc'])}   (threshold-free: P(a dog scores above a cat))",
        "confusion matrix (rows: true class, columns: predicted):",
        " " * 10 + "cat".rjust(width) + "dog".rjust(width),
    ]
    for name, row in zip(("cat", "dog"), cm):
        lines.append(f"  true {name}" + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


__all__ = ["CLASS_NAMES", "binary_evaluation", "collect_targets", "format_evaluation"]
