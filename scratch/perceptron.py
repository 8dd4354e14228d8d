"""Rosenblatt's perceptron by hand: a unit-step neuron and the perceptron learning rule.

    ŷ = step(w·x + b),   step(z) = 1 if z > 0 else 0
    on each sample:  w ← w + η (y − ŷ) x,   b ← b + η (y − ŷ)

Only mistakes move the weights (y − ŷ ∈ {−1, 0, +1}). This is not gradient
descent: the step's derivative is 0 wherever it exists. On linearly separable
data (AND, OR, NAND) the rule stops after finitely many mistakes (Novikoff:
at most (R/γ)² with R = max‖(x, 1)‖ and γ the margin of a separating unit
vector). On XOR no (w, b) exists, so it never stops: separating (0,1), (1,0)
from (0,0), (1,1) would need b ≤ 0, w₁ + w₂ + b ≤ 0, w₂ + b > 0 and w₁ + b > 0;
the last two sum to w₁ + w₂ + b > −b ≥ 0, contradicting the second. At best
3 of the 4 points are right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch.module import as_float_array


class Perceptron:
    """A single unit-step neuron with weights ``w`` (n_inputs,) and bias ``b``, both starting at 0."""

    def __init__(self, n_inputs: int, lr: float = 1.0, dtype: Any = np.float64) -> None:
        if n_inputs < 1:
            raise ValueError(f"Perceptron: n_inputs must be ≥ 1, got {n_inputs}")
        if not lr > 0:
            raise ValueError(f"Perceptron: learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.w = np.zeros(n_inputs, dtype=dtype)
        self.b = np.zeros((), dtype=dtype)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """ŷ = step(X w + b), (N,) of 0.0 / 1.0."""
        X = as_float_array(X, "Perceptron input")
        if X.ndim != 2 or X.shape[1] != self.w.shape[0]:
            raise ValueError(
                f"Perceptron: expected input of shape (N, {self.w.shape[0]}), got {tuple(X.shape)}"
            )
        return (X @ self.w + self.b > 0).astype(self.w.dtype)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(X) == y))

    def update(self, x: np.ndarray, y: float) -> bool:
        """The perceptron rule on one sample; returns whether it was a mistake."""
        error = y - float(x @ self.w + self.b > 0)  # y − ŷ ∈ {−1, 0, 1}
        if error != 0:
            self.w += self.lr * error * x
            self.b += self.lr * error
        return error != 0

    def fit(self, X: np.ndarray, y: np.ndarray, max_epochs: int = 100) -> list[float]:
        """Sweep the samples in order until an epoch makes no mistake or ``max_epochs`` pass.

        Returns the accuracy on (X, y) after each epoch; it ends with 1.0 exactly
        when the data was separated.
        """
        X = as_float_array(X, "Perceptron input")
        y = np.asarray(y)
        if y.shape != (X.shape[0],) or not np.isin(y, (0, 1)).all():
            raise ValueError(
                f"Perceptron.fit: expected targets of shape ({X.shape[0]},) with values 0 or 1, "
                f"got shape {y.shape}"
            )
        history: list[float] = []
        for _ in range(max_epochs):
            mistakes = sum(self.update(x, float(t)) for x, t in zip(X, y))
            history.append(self.accuracy(X, y))
            if mistakes == 0:
                break
        return history
