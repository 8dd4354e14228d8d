"""What the study trains on: a small training set and a larger validation set, as flat feature vectors.

:func:`photo_split` takes the dog/cat photos through the project's one data recipe
(``nnlab.dogcat.data.load_data``: ``--data``, ``$DOGCAT_DATA``, the shared sample, else
SYNTHETIC images, announced), average-pools them and flattens them.
:func:`noisy_teacher_split` is a tiny task generated in code, small enough for a test:
a linear teacher whose labels are flipped with probability ``flip``, so a network that
reaches 100 % training accuracy has memorised noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nnlab.dogcat.data import DEFAULT_NORMALIZATION, load_data


@dataclass
class Split:
    """``x_*`` (N, features) float, ``y_*`` (N,) int64 class indices, and what the data are."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    description: str
    n_classes: int = 2

    @property
    def in_features(self) -> int:
        return self.x_train.shape[1]


def proportional_pick(labels: np.ndarray, candidates: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` of the ``candidates`` (indices into ``labels``), each class in proportion to its share, sorted.

    The candidates are shuffled, then ordered by their rank within their class over the
    class's size, so the first ``count`` take every class in turn.
    """
    order = rng.permutation(candidates)
    rank = np.empty(len(order))
    for label in np.unique(labels[order]):
        members = labels[order] == label
        rank[members] = np.arange(np.count_nonzero(members)) / np.count_nonzero(members)
    return np.sort(order[np.argsort(rank, kind="stable")[:count]])


def pooled_features(images: np.ndarray, pool: int, dtype: Any = np.float64) -> np.ndarray:
    """uint8 (N, 3, H, W) photos → normalised, averaged over ``pool``×``pool`` blocks, flattened:
    (N, 3·(H/pool)·(W/pool))."""
    x = DEFAULT_NORMALIZATION.apply_numpy(np.asarray(images), dtype=np.float64)
    n, c, h, w = x.shape
    if h % pool or w % pool:
        divisors = [d for d in range(1, min(h, w) + 1) if h % d == 0 and w % d == 0]
        raise ValueError(f"pool: expected a divisor of the image size {h}×{w} ({divisors}), got {pool}")
    return x.reshape(n, c, h // pool, pool, w // pool, pool).mean(axis=(3, 5)).reshape(n, -1).astype(dtype)


def photo_split(
    data_root: str | Path | None = None,
    train_size: int = 300,
    val_size: int = 1000,
    pool: int = 10,
    seed: int = 0,
    dtype: Any = np.float64,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Split:
    """The photos ``nnlab.dogcat.data.load_data`` finds (``log`` hears which), split by :func:`split_photos`."""
    data, source = load_data(data_root, progress=progress, log=log)
    return split_photos(data.images, data.labels, source, train_size, val_size, pool, seed, dtype)


def split_photos(
    images: np.ndarray,
    labels: np.ndarray,
    source: str = "photos",
    train_size: int = 300,
    val_size: int = 1000,
    pool: int = 10,
    seed: int = 0,
    dtype: Any = np.float64,
) -> Split:
    """``train_size`` photos to train on and up to ``val_size`` others to validate on, as pooled features.

    Both are drawn with ``seed``, each class in proportion to its share of the set
    (:func:`proportional_pick`): validation first, from all photos, then training from
    the rest. A set too small for both gets fewer validation photos (said in the
    description); one with no photo left for validation is an error. Only the chosen
    photos are read from ``images`` (uint8 (N, 3, H, W), e.g. the cache's memory map).
    """
    labels = np.asarray(labels)
    n = len(labels)
    if n < train_size + 1:
        raise ValueError(f"train_size: the photos ({source}) hold {n} images; expected at most {n - 1} "
                         f"(one photo must be left for validation), got {train_size}")
    n_val = min(val_size, n - train_size)
    rng = np.random.default_rng(seed)
    val = proportional_pick(labels, np.arange(n), n_val, rng)
    train = proportional_pick(labels, np.setdiff1d(np.arange(n), val), train_size, rng)
    note = "" if n_val == val_size else f" (only {n_val} left for validation)"
    height, width = images.shape[-2:]
    return Split(
        pooled_features(images[train], pool, dtype), labels[train].astype(np.int64),
        pooled_features(images[val], pool, dtype), labels[val].astype(np.int64),
        f"{source}: {len(train)} training and {len(val)} validation photos{note}, "
        f"pooled {height}×{width} → {height // pool}×{width // pool} px",
    )


def noisy_teacher_split(
    train_size: int = 100,
    val_size: int = 512,
    n_features: int = 10,
    flip: float = 0.2,
    seed: int = 0,
    dtype: Any = np.float64,
) -> Split:
    """x ~ N(0, I), y = [w·x > 0] with each label flipped with probability ``flip``; w ~ N(0, I).

    The best possible accuracy is 1 − ``flip`` on either set: training accuracy above it
    is memorised noise, the overfitting the regularizers are meant to stop.
    """
    if not 0 <= flip < 0.5:
        raise ValueError(f"flip: expected a probability in [0, 0.5), got {flip}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n_features)
    x = rng.standard_normal((train_size + val_size, n_features))
    y = (x @ w > 0).astype(np.int64)
    flipped = rng.random(len(y)) < flip
    y[flipped] = 1 - y[flipped]
    x = x.astype(dtype)
    return Split(x[:train_size], y[:train_size], x[train_size:], y[train_size:],
                 f"noisy linear teacher: {n_features} features, {flip:.0%} of labels flipped, "
                 f"{train_size} training and {val_size} validation samples")


__all__ = ["Split", "photo_split", "split_photos", "noisy_teacher_split", "pooled_features", "proportional_pick"]
