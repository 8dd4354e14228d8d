"""Mini-batch gradient descent by hand: one step = zero_grad, forward, loss, backward, step.

Seed ideas: the loss of a mini-batch is the *mean* of its per-sample losses,
L_B = (1/|B|) Σ_{n∈B} ℓₙ, so its gradient is an unbiased estimate of the full
gradient and the learning rate does not depend on the batch size; an epoch
visits every sample once, in an order drawn from a seeded generator
(``nnlab.common.batches``) that the torch twin shares, so both see identical batches.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nnlab.common.batches import iterate_minibatches
from scratch.module import Module


def train_step(model: Module, loss_fn: Module, optimizer: Any, x: np.ndarray, y: np.ndarray) -> float:
    """One update on the batch (x, y); returns the batch loss before the update."""
    optimizer.zero_grad()
    loss = loss_fn.forward(model.forward(x), y)
    model.backward(loss_fn.backward())  # dL/dθ accumulates into every parameter's .grad
    optimizer.step()
    return float(loss)


def minibatch_sgd(
    model: Module,
    loss_fn: Module,
    optimizer: Any,
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
    """Train over ``epochs`` epochs of seeded mini-batches; returns the loss of every step.

    ``on_step(step, loss)`` runs after each update (step counts from 1);
    ``max_steps`` stops early; ``start_epoch`` resumes the batch sequence.
    """
    model.train()
    losses: list[float] = []
    for _, (xb, yb) in iterate_minibatches(
        (X, y), batch_size, epochs=epochs, seed=seed, shuffle=shuffle,
        drop_last=drop_last, start_epoch=start_epoch,
    ):
        if max_steps is not None and len(losses) >= max_steps:
            break
        losses.append(train_step(model, loss_fn, optimizer, xb, yb))
        if on_step is not None:
            on_step(len(losses), losses[-1])
    return losses
