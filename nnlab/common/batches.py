"""The seeded mini-batch iterator both twins share: identical batches, epoch by epoch.

Each epoch draws its own permutation from ``np.random.default_rng([seed, epoch])``,
so epoch k's order does not depend on how many epochs ran before (a resumed
run sees the same batches as an uninterrupted one). Batches are index arrays;
the caller slices its own arrays (NumPy, or ``torch.from_numpy`` of them).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np


def minibatch_indices(
    n_samples: int,
    batch_size: int,
    *,
    seed: int = 0,
    epoch: int = 0,
    shuffle: bool = True,
    drop_last: bool = False,
) -> list[np.ndarray]:
    """The index arrays of one epoch: a permutation of range(n) cut into chunks of ``batch_size``.

    The last chunk is smaller when ``batch_size`` does not divide ``n_samples``,
    unless ``drop_last`` (torch's DataLoader semantics).
    """
    if n_samples < 1:
        raise ValueError(f"minibatch_indices: expected at least one sample, got n_samples={n_samples}")
    if batch_size < 1:
        raise ValueError(f"minibatch_indices: batch_size must be ≥ 1, got {batch_size}")
    order = (
        np.random.default_rng([seed, epoch]).permutation(n_samples)
        if shuffle
        else np.arange(n_samples)
    )
    stop = n_samples - n_samples % batch_size if drop_last else n_samples
    return [order[i : i + batch_size] for i in range(0, stop, batch_size)]


def iterate_minibatches(
    arrays: Sequence[np.ndarray],
    batch_size: int,
    *,
    epochs: int = 1,
    seed: int = 0,
    shuffle: bool = True,
    drop_last: bool = False,
    start_epoch: int = 0,
) -> Iterator[tuple[int, tuple[np.ndarray, ...]]]:
    """Yield ``(epoch, (a[idx] for a in arrays))`` for every mini-batch of every epoch.

    All arrays must have the same first dimension; each batch holds the same
    rows of each (inputs and their targets stay paired).
    """
    arrays = [np.asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("iterate_minibatches: expected at least one array, got none")
    n = len(arrays[0])
    lengths = [len(a) for a in arrays]
    if any(m != n for m in lengths):
        raise ValueError(f"iterate_minibatches: arrays must have equal first dimensions, got {lengths}")
    for epoch in range(start_epoch, start_epoch + epochs):
        for idx in minibatch_indices(n, batch_size, seed=seed, epoch=epoch, shuffle=shuffle, drop_last=drop_last):
            yield epoch, tuple(a[idx] for a in arrays)
