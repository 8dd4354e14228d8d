"""Multi-class classification with softmax cross-entropy in torch; accuracy reported, never optimized.

Same model layout, batches and API as ``scratch.softmax_classifier``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from torch_ref.minibatch import minibatch_sgd
from torch_ref.mlp import mlp


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is the label."""
    return float((logits.argmax(dim=1) == labels).double().mean())


def softmax_classifier(
    n_features: int,
    n_classes: int,
    hidden: Sequence[int] = (),
    activation: str = "relu",
    dtype: torch.dtype = torch.float64,
) -> nn.Sequential:
    if not hidden:
        return nn.Sequential(nn.Linear(n_features, n_classes, dtype=dtype))
    return mlp([n_features, *hidden, n_classes], activation, dtype=dtype)


def train_softmax_classifier(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float = 0.05,
    epochs: int = 20,
    batch_size: int = 32,
    seed: int = 0,
) -> list[float]:
    """Adam on the mean cross-entropy over seeded mini-batches; returns the accuracy after each epoch."""
    opt, loss_fn = torch.optim.Adam(model.parameters(), lr=lr), nn.CrossEntropyLoss()
    history = []
    for epoch in range(epochs):
        minibatch_sgd(model, loss_fn, opt, X, y, batch_size=batch_size, seed=seed, start_epoch=epoch)
        model.eval()
        with torch.no_grad():
            history.append(accuracy(model(torch.from_numpy(X)), torch.from_numpy(y)))
        model.train()
    return history
