"""The study's settings: the four variants (plain, weight decay, dropout, both) and how each one trains."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

IMPLEMENTATIONS = ("scratch", "torch")
#: The variants in the order the study prints them; each is a (weight decay, dropout) pair.
VARIANT_NAMES = ("plain", "weight_decay", "dropout", "both")


@dataclass(frozen=True)
class Variant:
    """One way of training the same network: SGD's ``weight_decay`` λ and the Dropout probability p."""

    name: str
    weight_decay: float = 0.0
    dropout: float = 0.0

    @property
    def label(self) -> str:
        """``plain``, ``weight decay λ=0.03``, ``dropout p=0.7``, ``both λ=0.03 p=0.7``."""
        parts = [f"λ={self.weight_decay:g}"] * bool(self.weight_decay) + [f"p={self.dropout:g}"] * bool(self.dropout)
        return " ".join([self.name.replace("_", " "), *parts])


@dataclass
class StudySettings:
    """Everything a run needs besides the data.

    Defaults (the README's run): 300 training photos and 1,000 validation photos,
    average-pooled from 100×100 to 10×10 pixels (300 inputs); an MLP
    300-256-256-2 with ReLU; SGD (lr 0.01, momentum 0.9), mini-batches of 50, 100
    epochs; weight decay λ = 0.03, dropout p = 0.7 after each hidden ReLU. At 20×20
    pixels (1,200 inputs, more than there are photos) every variant reached training
    accuracy 1.00 within the 100 epochs (measured gaps 0.40, 0.40, 0.40, 0.39): the
    pooling is what leaves the regularizers room to act.
    """

    train_size: int = 300
    val_size: int = 1000
    pool: int = 10
    hidden: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    epochs: int = 100
    batch_size: int = 50
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.03
    dropout: float = 0.7
    eval_every: int = 1
    seed: int = 0
    dtype: Any = np.float64

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        at_least_one = dict(train_size=self.train_size, val_size=self.val_size, pool=self.pool, epochs=self.epochs,
                            batch_size=self.batch_size, eval_every=self.eval_every)
        for name, value in at_least_one.items():
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}: expected an integer ≥ 1, got {value!r}")
        if self.train_size < 2:
            raise ValueError(f"train_size: expected at least 2 samples, got {self.train_size}")
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden: expected one or more layer widths ≥ 1, got {self.hidden}")
        if not self.lr > 0:
            raise ValueError(f"lr: expected a learning rate > 0, got {self.lr}")
        if not self.momentum >= 0:
            raise ValueError(f"momentum: expected a value ≥ 0, got {self.momentum}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay: expected λ ≥ 0, got {self.weight_decay}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: expected a probability p with 0 ≤ p < 1, got {self.dropout}")
        if np.dtype(self.dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype: expected float32 or float64, got {np.dtype(self.dtype).name}")

    def variants(self) -> list[Variant]:
        """plain (λ = 0, p = 0), weight decay (λ, 0), dropout (0, p), both (λ, p)."""
        lam, p = self.weight_decay, self.dropout
        pairs = {"plain": (0.0, 0.0), "weight_decay": (lam, 0.0), "dropout": (0.0, p), "both": (lam, p)}
        return [Variant(name, *pairs[name]) for name in VARIANT_NAMES]

    def sizes(self, in_features: int, n_classes: int = 2) -> list[int]:
        return [int(in_features), *self.hidden, int(n_classes)]


__all__ = ["IMPLEMENTATIONS", "VARIANT_NAMES", "Variant", "StudySettings"]
