"""Multi-class classification with softmax cross-entropy; accuracy reported, never optimized.

Model: logits z = f(x; θ) (a linear map, or an MLP for data no line separates,
such as the spiral), p = softmax(z), trained on the mean cross-entropy
L(θ) = −(1/N) Σₙ log p_{yₙ}(xₙ; θ) whose gradient w.r.t. the logits is p − onehot(y).

Accuracy = (1/N) Σₙ 1[argmax zₙ = yₙ] is what we report, but it cannot be the
training objective: it is piecewise constant in θ (a small change of θ flips
no argmax), so its gradient is 0 almost everywhere and undefined where it
jumps. The cross-entropy is smooth and keeps pushing even correct samples
towards higher confidence.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from scratch.layers import Linear, Sequential
from scratch.losses import CrossEntropyLoss
from scratch.minibatch import minibatch_sgd
from scratch.mlp import mlp
from scratch.module import Module
from scratch.optim import Adam


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest logit is the label: logits (N, C), labels (N,) int."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(
            f"accuracy: expected logits (N, C) and labels (N,), got {logits.shape} and {labels.shape}"
        )
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def softmax_classifier(
    n_features: int,
    n_classes: int,
    hidden: Sequence[int] = (),
    activation: str = "relu",
    dtype: Any = np.float64,
    rng: np.random.Generator | int | None = None,
) -> Sequential:
    """Logits model: ``Sequential(Linear)`` without hidden layers, else ``mlp([in, *hidden, C])``."""
    if not hidden:
        return Sequential(Linear(n_features, n_classes, dtype=dtype, rng=rng))
    return mlp([n_features, *hidden, n_classes], activation, dtype=dtype, rng=rng)


def train_softmax_classifier(
    model: Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float = 0.05,
    epochs: int = 20,
    batch_size: int = 32,
    seed: int = 0,
) -> list[float]:
    """Adam on the mean cross-entropy over seeded mini-batches; returns the accuracy after each epoch."""
    opt, loss_fn = Adam(model.parameters(), lr=lr), CrossEntropyLoss()
    history = []
    for epoch in range(epochs):
        minibatch_sgd(model, loss_fn, opt, X, y, batch_size=batch_size, seed=seed, start_epoch=epoch)
        model.eval()
        history.append(accuracy(model.forward(X), y))
        model.train()
    return history
