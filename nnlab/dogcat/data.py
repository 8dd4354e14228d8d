"""The dog/cat data a run trains on: which photos, loaded how, split how.

The pieces live in small modules (``layouts``, ``decode``, ``cache``, ``synthetic``,
``normalization``); this module gathers them under one import and holds the one recipe
every caller uses, :func:`load_data`::

    data, source = load_data(args.data)     # --data, $DOGCAT_DATA, the shared sample, else SYNTHETIC
    train_idx, val_idx = stratified_split(data.labels, 0.2, seed=0)
    x = DEFAULT_NORMALIZATION.apply_numpy(data.images[train_idx[:128]])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .cache import BatchReader, DogCatData, default_cache_dir, load_dogcat
from .decode import UnreadableImageError, decode_image, decode_image_baseline, decode_many
from .layouts import ACCEPTED_LAYOUTS, CAT, DOG, IMAGE_EXTENSIONS, DataLayoutError, detect_layout, find_images
from .normalization import DEFAULT_NORMALIZATION, Normalization
from .synthetic import synthetic_dogcat

__all__ = [
    "ACCEPTED_LAYOUTS",
    "ArrayData",
    "BatchReader",
    "CAT",
    "DEFAULT_NORMALIZATION",
    "DOG",
    "IMAGE_EXTENSIONS",
    "SHARED_SAMPLE",
    "DataLayoutError",
    "DogCatData",
    "Normalization",
    "UnreadableImageError",
    "decode_image",
    "decode_image_baseline",
    "decode_many",
    "default_cache_dir",
    "detect_layout",
    "find_images",
    "load_data",
    "load_dogcat",
    "resolve_data_root",
    "stratified_split",
    "synthetic_dogcat",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_SAMPLE = REPO_ROOT.parent / "shared" / "data" / "dogs-vs-cats-200px" / "train"


@dataclass
class ArrayData:
    """In-memory data in the shape ``load_dogcat`` returns: uint8 (N, 3, H, W) and 0/1 labels."""

    images: np.ndarray
    labels: np.ndarray
    description: str = "arrays"


def stratified_split(labels, val_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/validation split that keeps the class ratio: ``(train_idx, val_idx)``.

    Each class's indices are shuffled by ``np.random.default_rng(seed)`` (classes in sorted
    order) and ``round(val_fraction * class count)`` of them go to validation. Both index
    arrays are sorted int64, disjoint, and together cover ``range(len(labels))``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    val_parts = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        n_val = int(round(val_fraction * len(members)))
        val_parts.append(rng.permutation(members)[:n_val])
    val = np.sort(np.concatenate(val_parts)).astype(np.int64) if val_parts else np.zeros(0, np.int64)
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[val] = True
    return np.flatnonzero(~is_val).astype(np.int64), val


def resolve_data_root(cli_value=None) -> tuple[Path | None, str]:
    """Which photos to use: ``(folder or None, one line saying which source was chosen)``.

    Order: ``cli_value`` (``--data``), else ``$DOGCAT_DATA``, else the shared 4,000-photo
    sample beside the repository (``../shared/data/dogs-vs-cats-200px/train``) when present,
    else ``None``: the caller then uses ``synthetic_dogcat`` and says so. A given folder is
    not checked here; ``load_dogcat`` reports a missing one with the accepted layouts.
    """
    if cli_value:
        root = Path(cli_value).expanduser()
        return root, f"data: {root} (from --data)"
    if os.environ.get("DOGCAT_DATA"):
        root = Path(os.environ["DOGCAT_DATA"]).expanduser()
        return root, f"data: {root} (from $DOGCAT_DATA)"
    if SHARED_SAMPLE.is_dir():
        return SHARED_SAMPLE, f"data: {SHARED_SAMPLE} (the shared 4,000-photo Kaggle sample)"
    return None, (
        "data: SYNTHETIC two-class images generated in code (no --data, no $DOGCAT_DATA, and no shared "
        f"sample at {SHARED_SAMPLE}); pass --data with a Kaggle or PetImages folder to train on real photos"
    )


def load_data(data=None, size: int = 100, cache_dir=None, workers=None, progress: bool = True,
              log: Callable[[str], None] = print) -> tuple[DogCatData, str]:
    """The photos ``data`` (``--data``) names, else ``$DOGCAT_DATA``, else the shared sample, else a
    SYNTHETIC set generated in code: ``(loaded data, what it is)``.

    ``log`` receives the line saying which source was chosen (and, without a progress bar,
    the summary ``load_dogcat`` would print); the description starts with "SYNTHETIC" when
    no real photos were found.
    """
    root, source = resolve_data_root(data)
    log(source)
    synthetic = root is None
    if synthetic:
        root = synthetic_dogcat(None, size=size, seed=0)
    loaded = load_dogcat(root, size=size, cache_dir=cache_dir, workers=workers, progress=progress)
    if not progress:  # with progress on, load_dogcat prints this line itself
        log(loaded.summary())
    return loaded, ("SYNTHETIC images in " if synthetic else "") + str(root)
