"""Tiny in-memory dog/cat data shared by the training, checkpoint, TensorBoard and DDP tests."""

import numpy as np

from nnlab.dogcat.train import ArrayData


def tiny_dogcat(n=80, size=8, seed=0):
    """uint8 images (n, 3, size, size); "dogs" (label 1) are redder, so a linear model can learn."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 2).astype(np.int64)
    images = rng.integers(0, 200, (n, 3, size, size)).astype(np.uint8)
    images[labels == 1, 0] += 55
    return ArrayData(images, labels, "tiny synthetic arrays")
