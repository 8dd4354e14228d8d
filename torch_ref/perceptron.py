"""The perceptron with torch tensors: ŷ = step(w·x + b), w ← w + η(y − ŷ)x, b ← b + η(y − ŷ).

No autograd: the rule is not gradient descent (the step has derivative 0).
Same API and the same sequence of weights as ``scratch.perceptron``.
"""

from __future__ import annotations

import torch


class Perceptron:
    """A single unit-step neuron with weights ``w`` (n_inputs,) and bias ``b``, both starting at 0."""

    def __init__(self, n_inputs: int, lr: float = 1.0, dtype: torch.dtype = torch.float64) -> None:
        if n_inputs < 1:
            raise ValueError(f"Perceptron: n_inputs must be ≥ 1, got {n_inputs}")
        if not lr > 0:
            raise ValueError(f"Perceptron: learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.w = torch.zeros(n_inputs, dtype=dtype)
        self.b = torch.zeros((), dtype=dtype)

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        return (X @ self.w + self.b > 0).to(self.w.dtype)

    def accuracy(self, X: torch.Tensor, y: torch.Tensor) -> float:
        return float((self.predict(X) == y).double().mean())

    def update(self, x: torch.Tensor, y: float) -> bool:
        error = y - float(x @ self.w + self.b > 0)
        if error != 0:
            self.w += self.lr * error * x
            self.b += self.lr * error
        return error != 0

    def fit(self, X: torch.Tensor, y: torch.Tensor, max_epochs: int = 100) -> list[float]:
        history: list[float] = []
        for _ in range(max_epochs):
            mistakes = sum(self.update(x, float(t)) for x, t in zip(X, y))
            history.append(self.accuracy(X, y))
            if mistakes == 0:
                break
        return history
