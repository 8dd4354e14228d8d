"""A small two-class SYNTHETIC image set, generated in code, for when no real photos exist.

It is written as JPEG files in the Kaggle layout (``cat.<N>.jpg`` / ``dog.<N>.jpg``), so
a fresh clone runs the whole pipeline on it: layout detection, decode, cache, training.
It is not a dog/cat data set; the two classes are texture families:

* "dog": blurry bright blobs (1 to 3 Gaussian spots) on a background tinted slightly warm;
* "cat": a stripe pattern of random frequency, angle and phase on a background tinted
  slightly cool.

Both share random backgrounds (colour, smooth shading, noise), so the classes overlap: the
mean tint separates them only partly (a linear model gets some of the way), and the
texture, which has no fixed position, needs more than a linear model to read fully.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from .cache import default_cache_dir
from .layouts import DOG

_WARM = np.array([1.0, 0.2, -1.0])


def _synthetic_photo(rng: np.random.Generator, label: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """One (H, W, 3) uint8 photo; ``yy``, ``xx`` are the pixel coordinates scaled to about [0, 1)."""
    tint = rng.normal(128.0, 28.0, 3) + (12.0 if label == DOG else -12.0) * _WARM
    angle, freq = rng.uniform(0, np.pi), rng.uniform(0.5, 1.5)
    shading = 30.0 * np.cos(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 2 * np.pi))
    image = tint + shading[..., None]
    if label == DOG:
        pattern = np.zeros(yy.shape)
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0.15, 0.85, 2)
            radius = rng.uniform(0.07, 0.18)
            pattern += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
        image += rng.uniform(40.0, 70.0) * pattern[..., None] * np.array([1.0, 0.85, 0.6])
    else:
        angle, freq = rng.uniform(0, np.pi), rng.uniform(4.0, 9.0)
        stripes = np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 2 * np.pi))
        image += rng.uniform(25.0, 45.0) * stripes[..., None]
    image += rng.normal(0.0, 5.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _write_set(folder: Path, n: int, width: int, height: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    for i in range(n):
        label = DOG if i % 2 else 0
        name = f"{'dog' if label == DOG else 'cat'}.{i // 2}.jpg"
        Image.fromarray(_synthetic_photo(rng, label, yy, xx)).save(folder / name, quality=90)


def synthetic_dogcat(root=None, n: int = 400, size: int = 100, seed: int = 0, photo_size=None) -> Path:
    """Write ``n`` SYNTHETIC photos (half "dog", half "cat", see the module docstring) and return their folder.

    The photos are ``2*size`` pixels square JPEGs in the Kaggle layout (``photo_size=(width,
    height)`` to choose, e.g. ``(500, 375)`` like many Kaggle photos), so loading them with
    ``load_dogcat(folder, size)`` exercises draft-mode decoding and the cache like real
    photos. The same arguments always give the same pixels.

    ``root``: the folder to write into (created if needed; existing ``cat.*``/``dog.*``
    names are overwritten). ``None``: a folder under the default cache directory named
    after ``(n, size, seed)``, written once (atomically) and reused on later calls.
    """
    width, height = photo_size if photo_size is not None else (2 * size, 2 * size)
    if root is not None:
        folder = Path(root).expanduser()
        _write_set(folder, n, width, height, seed)
        return folder
    folder = default_cache_dir() / f"synthetic-n{n}-{width}x{height}-seed{seed}" / "train"
    done = folder.parent / "COMPLETE"
    if done.exists():
        return folder
    tmp = folder.parent.with_name(f".{folder.parent.name}.tmp-{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        _write_set(tmp / "train", n, width, height, seed)
        (tmp / "COMPLETE").write_text("synthetic dog/cat stand-in set, see nnlab.dogcat.synthetic\n")
        if not done.exists():
            shutil.rmtree(folder.parent, ignore_errors=True)  # a half-written set from a killed run
            try:
                os.replace(tmp, folder.parent)
            except OSError:
                if not done.exists():  # not another process finishing the same set first
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
