"""The training loop: every variant, both twins in lockstep, accuracy curves on both sets.

Per epoch, each mini-batch (``nnlab.common.batches.minibatch_indices``: one seeded
permutation per epoch) goes to every twin before the next one; every ``eval_every``
epochs each twin is measured in eval mode on the whole training and validation sets,
and the twins' largest parameter difference is recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from nnlab.common.batches import minibatch_indices
from nnlab.overfitting.config import IMPLEMENTATIONS, StudySettings, Variant
from nnlab.overfitting.data import Split
from nnlab.overfitting.twins import build_twins, max_parameter_difference


@dataclass
class Curves:
    """One twin's measurements after the epochs in ``epochs`` (counted from 1); epoch 0 is the start."""

    epochs: list[int] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)

    @property
    def gap(self) -> list[float]:
        """Training minus validation accuracy at each measured epoch."""
        return [t - v for t, v in zip(self.train_accuracy, self.val_accuracy)]

    @property
    def final_gap(self) -> float:
        return self.gap[-1]


@dataclass
class VariantResult:
    """A variant's curves per twin, and the twins' largest parameter difference over every measurement."""

    variant: Variant
    curves: dict[str, Curves]
    max_param_diff: float | None = None
    seconds: float = 0.0


def train_variant(
    split: Split,
    variant: Variant,
    settings: StudySettings,
    implementations=IMPLEMENTATIONS,
    progress: Callable[[int], None] | None = None,
) -> VariantResult:
    """Train ``variant`` in the asked twins from the same weights on the same batches; ``progress(1)`` per step."""
    t0 = time.perf_counter()
    twins = build_twins(variant, split.in_features, settings, implementations, split.n_classes)
    curves = {name: Curves() for name in twins}
    result = VariantResult(variant, curves)

    def measure(epoch: int) -> None:
        for name, twin in twins.items():
            c = curves[name]
            train_loss, train_acc = twin.evaluate(split.x_train, split.y_train)
            val_loss, val_acc = twin.evaluate(split.x_val, split.y_val)
            c.epochs.append(epoch)
            c.train_loss.append(train_loss)
            c.train_accuracy.append(train_acc)
            c.val_loss.append(val_loss)
            c.val_accuracy.append(val_acc)
        if len(twins) == 2:
            diff = max_parameter_difference(twins["scratch"], twins["torch"])
            result.max_param_diff = max(diff, result.max_param_diff or 0.0)

    measure(0)
    n = len(split.y_train)
    for epoch in range(settings.epochs):
        for idx in minibatch_indices(n, settings.batch_size, seed=settings.seed, epoch=epoch):
            xb, yb = split.x_train[idx], split.y_train[idx]
            for twin in twins.values():
                twin.step(xb, yb)
            if progress is not None:
                progress(1)
        if (epoch + 1) % settings.eval_every == 0 or epoch + 1 == settings.epochs:
            measure(epoch + 1)
    result.seconds = time.perf_counter() - t0
    return result


def steps_per_variant(n_train: int, settings: StudySettings) -> int:
    """Optimizer steps one twin takes in one variant (for a progress bar)."""
    return settings.epochs * -(-n_train // settings.batch_size)


def run_study(
    split: Split,
    settings: StudySettings,
    implementations=IMPLEMENTATIONS,
    progress: Callable[[int], None] | None = None,
) -> list[VariantResult]:
    """plain, weight decay, dropout and both, in that order."""
    return [train_variant(split, v, settings, implementations, progress) for v in settings.variants()]


__all__ = ["Curves", "VariantResult", "train_variant", "run_study", "steps_per_variant"]
