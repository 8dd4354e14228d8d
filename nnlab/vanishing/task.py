"""What the study trains on: a fixed synthetic teacher task or pooled dog/cat photos, and the
minibatch schedule both twins share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nnlab.dogcat.data import DEFAULT_NORMALIZATION, load_data


@dataclass
class Task:
    """A classification data set: ``x`` (N, in_features) float, ``y`` (N,) int64 class indices."""

    name: str
    x: np.ndarray
    y: np.ndarray
    n_classes: int

    @property
    def in_features(self) -> int:
        return self.x.shape[1]


def make_synthetic_task(
    n_samples: int = 2048, in_features: int = 32, n_classes: int = 4, seed: int = 0, dtype: Any = np.float64
) -> Task:
    """A fixed teacher–student task: x ~ N(0, I), y = argmax V·tanh(U x / √in · 2).

    A random two-layer tanh teacher makes the labels a smooth nonlinear
    function of x that an MLP can learn; the seed fixes everything.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, in_features))
    u = rng.standard_normal((in_features, 64)) * (2.0 / math.sqrt(in_features))
    v = rng.standard_normal((64, n_classes))
    y = np.argmax(np.tanh(x @ u) @ v, axis=1).astype(np.int64)
    return Task(f"synthetic-{in_features}d-{n_classes}c", x.astype(dtype), y, n_classes)


def load_dogcat_task(
    data_root: str | Path | None = None,
    n_samples: int = 2048,
    pool: int = 5,
    seed: int = 0,
    dtype: Any = np.float64,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[Task, str]:
    """The dog/cat photos as a flat two-class task, through the project's decoded-image cache.

    ``nnlab.dogcat.data.load_data`` picks the photos (``data_root``, ``$DOGCAT_DATA``,
    the shared sample, else synthetic images; ``log`` receives the line saying which)
    and gives uint8 (N, 3, 100, 100) from its cache; a random class-balanced-by-chance
    subset of ``n_samples`` photos is normalised, average-pooled ``pool``×``pool``
    (100 px → 20 px) and flattened to 3·20·20 = 1200 features. Label 1 = dog.
    Returns the task and what the photos are.
    """
    data, source = load_data(data_root, progress=progress, log=log)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.permutation(len(data))[: min(n_samples, len(data))])
    x = DEFAULT_NORMALIZATION.apply_numpy(np.asarray(data.images[pick]), dtype=np.float64)
    n, c, h, w = x.shape
    if h % pool or w % pool:
        raise ValueError(f"load_dogcat_task: pool {pool} must divide the image size {h}×{w}")
    x = x.reshape(n, c, h // pool, pool, w // pool, pool).mean(axis=(3, 5)).reshape(n, -1)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)  # feature-wise standardisation, like the synthetic x ~ N(0, I)
    return Task(f"dogcat-{h // pool}px", x.astype(dtype), data.labels[pick].astype(np.int64), 2), source


def minibatch_schedule(n_samples: int, batch_size: int, steps: int, seed: int = 0) -> np.ndarray:
    """(steps, batch_size) sample indices: epochs of fresh permutations, shared by both twins."""
    if batch_size > n_samples:
        raise ValueError(f"batch_size {batch_size} exceeds the {n_samples} samples of the task")
    rng = np.random.default_rng(seed)
    per_epoch = n_samples // batch_size
    epochs = -(-steps // per_epoch)
    rows = [rng.permutation(n_samples)[: per_epoch * batch_size].reshape(per_epoch, batch_size) for _ in range(epochs)]
    return np.concatenate(rows)[:steps]


__all__ = ["Task", "make_synthetic_task", "load_dogcat_task", "minibatch_schedule"]
