"""Mini-batch gradient descent with torch: zero_grad, forward, loss, ``loss.backward()``, step.

Same batches as ``scratch.minibatch`` (both slice NumPy arrays with the
indices of ``nnlab.common.batches``); each batch becomes tensors with
``torch.from_numpy``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from nnlab.common.batches import iterate_minibatches


def train_step(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
) -> float:
    """One update on the batch (x, y); returns the batch loss before the update."""
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def minibatch_sgd(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    epochs: int = 1,
    seed: int = 0,
    shuffle: bool = True,
    drop_last: bool = False,
    max_steps: int | None = None,
    start_epoch: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train over ``epochs`` epochs of seeded mini-batches; returns the loss of every step."""
    model.train()
    losses: list[float] = []
    for _, (xb, yb) in iterate_minibatches(
        (X, y), batch_size, epochs=epochs, seed=seed, shuffle=shuffle,
        drop_last=drop_last, start_epoch=start_epoch,
    ):
        if max_steps is not None and len(losses) >= max_steps:
            break
        losses.append(train_step(model, loss_fn, optimizer, torch.from_numpy(xb), torch.from_numpy(yb)))
        if on_step is not None:
            on_step(len(losses), losses[-1])
    return losses
