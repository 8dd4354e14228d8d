"""Tiny in-memory dog/cat data and a quick run's settings, shared by the pipeline tests."""

import numpy as np

from nnlab.dogcat.config import TrainConfig
from nnlab.dogcat.data import ArrayData


def tiny_dogcat(n=80, size=8, seed=0):
    """uint8 images (n, 3, size, size); "dogs" (label 1) are redder, so a linear model can learn."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 2).astype(np.int64)
    images = rng.integers(0, 200, (n, 3, size, size)).astype(np.uint8)
    images[labels == 1, 0] += 55
    return ArrayData(images, labels, "tiny synthetic arrays")


def tiny_config(tmp_path, **kw):
    """A float64 CPU run on 8x8 images, 2 epochs of batches of 16, no logs, in ``tmp_path/run``."""
    base = dict(dtype="float64", epochs=2, batch_size=16, lr=0.05, logdir=str(tmp_path / "run"),
                tensorboard=False, progress=False, device="cpu", image_size=8)
    base.update(kw)
    return TrainConfig(**base)
