"""Dog/cat data for both twins: find photos, decode and cache them, split, normalise.

The pieces live in small modules (``layouts``, ``decode``, ``cache``, ``synthetic``);
this module gathers them under one import and adds what the training loop needs on top::

    root, source = resolve_data_root(args.data)        # --data, $DOGCAT_DATA, shared sample
    if root is None:
        root = synthetic_dogcat(None)                    # announced as synthetic by `source`
    data = load_dogcat(root)                             # uint8 (N, 3, 100, 100) memory map
    train_idx, val_idx = stratified_split(data.labels, 0.2, seed=0)
    x = DEFAULT_NORMALIZATION.apply_numpy(data.images[train_idx[:128]])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .cache import BatchReader, DogCatData, default_cache_dir, load_dogcat
from .decode import (
    UnreadableImageError,
    available_cores,
    decode_image,
    decode_image_baseline,
    decode_many,
)
from .layouts import ACCEPTED_LAYOUTS, CAT, DOG, IMAGE_EXTENSIONS, DataLayoutError, detect_layout, find_images
from .synthetic import synthetic_dogcat

if TYPE_CHECKING:
    import torch

__all__ = [
    "ACCEPTED_LAYOUTS",
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
    "available_cores",
    "decode_image",
    "decode_image_baseline",
    "decode_many",
    "default_cache_dir",
    "detect_layout",
    "find_images",
    "load_dogcat",
    "resolve_data_root",
    "stratified_split",
    "synthetic_dogcat",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_SAMPLE = REPO_ROOT.parent / "shared" / "data" / "dogs-vs-cats-200px" / "train"


@dataclass(frozen=True)
class Normalization:
    """``x = (u / 255 - mean[c]) / std[c]`` per channel c, from uint8 pixels ``u`` of shape ``(..., 3, H, W)``.

    Saved in checkpoints through ``to_dict``/``from_dict``, so a model is always fed
    pixels scaled the way it was trained on.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __post_init__(self):
        mean, std = tuple(float(m) for m in self.mean), tuple(float(s) for s in self.std)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"Normalization needs 3 means and 3 stds (R, G, B), got mean={mean}, std={std}")
        if min(std) <= 0:
            raise ValueError(f"Normalization std must be positive, got {std}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @staticmethod
    def _check_pixels(x, kind: str) -> None:
        if x.ndim < 3 or x.shape[-3] != 3:
            raise ValueError(f"expected uint8 pixels of shape (..., 3, H, W), got shape {tuple(x.shape)}")
        if str(x.dtype) not in ("uint8", "torch.uint8"):
            raise TypeError(f"expected uint8 pixels (0..255) as a {kind}, got dtype {x.dtype}; normalise raw pixels once")

    def apply_numpy(self, x_uint8: np.ndarray, dtype=np.float32) -> np.ndarray:
        """Normalised copy of uint8 ``(..., 3, H, W)`` pixels as ``dtype``; the input is not modified."""
        self._check_pixels(x_uint8, "NumPy array")
        mean = np.asarray(self.mean, dtype=dtype).reshape(3, 1, 1)
        std = np.asarray(self.std, dtype=dtype).reshape(3, 1, 1)
        x = np.asarray(x_uint8).astype(dtype)
        x /= 255
        x -= mean
        x /= std
        return x

    def apply_torch(self, x_uint8_tensor: torch.Tensor, dtype=None) -> torch.Tensor:
        """Same as ``apply_numpy`` on a uint8 tensor, on its device (CUDA included).

        The per-channel constants are built once per (device, dtype) and reused, so a
        training step does no host-to-device copy and no host synchronisation.
        """
        import torch

        dtype = torch.float32 if dtype is None else dtype
        self._check_pixels(x_uint8_tensor, "torch tensor")
        mean, std = _torch_constants(self.mean, self.std, x_uint8_tensor.device, dtype)
        return (x_uint8_tensor.to(dtype) / 255 - mean) / std

    def to_dict(self) -> dict:
        """Plain JSON-able dict, for checkpoints: ``{"mean": [r, g, b], "std": [r, g, b]}``."""
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> Normalization:
        return cls(mean=tuple(d["mean"]), std=tuple(d["std"]))


_TORCH_CONSTANTS: dict = {}


def _torch_constants(mean, std, device, dtype):
    key = (mean, std, str(device), dtype)
    if key not in _TORCH_CONSTANTS:
        import torch

        _TORCH_CONSTANTS[key] = tuple(
            torch.tensor(values, dtype=dtype).reshape(3, 1, 1).to(device) for values in (mean, std)
        )
    return _TORCH_CONSTANTS[key]


# Pixels scaled to [-0.5, 0.5]: u / 255 - 0.5. This is the scaling behind the reference
# figures for the shared Kaggle sample (logistic about 0.58, one hidden layer of 256 about
# 0.63 validation accuracy), so runs here compare with them directly. It is centred like
# the usual mean = std = 0.5 choice but half its spread, and uses no data statistics, so it
# is the same for every data set and needs no pass over the images.
DEFAULT_NORMALIZATION = Normalization(mean=(0.5, 0.5, 0.5), std=(1.0, 1.0, 1.0))


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
