"""Random horizontal flips and shifts of uint8 image batches, identical on the host (NumPy) and on a device (torch).

Each training image is, with probability 1/2, mirrored left to right, then
reflect-padded by S pixels on every side and cropped back to H x W at a random
offset (dy, dx) ∈ {0, …, 2S}²: a shift by up to S pixels in each direction whose
uncovered border is filled with the mirror image of the edge, not with black. A dog
seen mirrored or a little off-centre is still a dog, so the network is shown a new
variant of every photo each epoch instead of memorizing the 3,200 it has.

Both transforms only move pixels, so they are one gather:

    out[n, c, i, j] = x[n, c, r(dy_n + i − S), col_n(j)],
    col_n(j) = c'(dx_n + j − S), or W − 1 − c'(dx_n + j − S) if image n is flipped,

with r, c' the reflection k ↦ −k (k < 0), 2(H − 1) − k (k > H − 1) of NumPy's and
torch's ``reflect`` padding (the edge pixel is not repeated). Because the result is
a copy of input bytes, the NumPy and torch versions agree bit for bit on every device.

The draws of a batch are a pure function of (seed, epoch, step): a resumed run and
two twins in lockstep see the same images, and under DDP each process takes its
stride of the global batch's draws, as it takes its stride of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Mixed into the seed so the augmentation draws never coincide with another stream of the run.
AUGMENT_STREAM = 0xA06


@dataclass(frozen=True)
class AugmentDraws:
    """One batch's draws: ``flip`` (n,) bool, ``dy``, ``dx`` (n,) crop offsets in [0, 2·shift]."""

    flip: np.ndarray
    dy: np.ndarray
    dx: np.ndarray
    shift: int

    def __len__(self) -> int:
        return len(self.flip)

    def shard(self, rank: int, world_size: int) -> "AugmentDraws":
        """The draws of ``batch[rank::world_size]``, the images a DDP process takes."""
        s = slice(rank, None, world_size)
        return AugmentDraws(self.flip[s], self.dy[s], self.dx[s], self.shift)

    def source_indices(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows (n, H), cols (n, W)): output pixel (i, j) of image n is input pixel (rows[n, i], cols[n, j])."""
        if self.shift >= min(height, width):
            raise ValueError(f"augment shift: expected fewer than {min(height, width)} px for {height}x{width} "
                             f"images (reflect padding), got {self.shift}")
        rows = _reflect(self.dy[:, None] + np.arange(height) - self.shift, height)
        cols = _reflect(self.dx[:, None] + np.arange(width) - self.shift, width)
        cols = np.where(self.flip[:, None], width - 1 - cols, cols)
        return rows, cols


def _reflect(k: np.ndarray, size: int) -> np.ndarray:
    """NumPy's/torch's ``reflect`` padding: −k before the start, 2(size − 1) − k past the end."""
    k = np.abs(k)
    return np.where(k > size - 1, 2 * (size - 1) - k, k)


def draw(seed: int, epoch: int, step: int, n: int, shift: int) -> AugmentDraws:
    """The draws of batch ``step`` of ``epoch``: flip with probability 1/2, offsets uniform in {0, …, 2·shift}."""
    if shift < 0:
        raise ValueError(f"augment shift: expected a non-negative number of pixels, got {shift}")
    rng = np.random.default_rng([int(seed), int(epoch), int(step), AUGMENT_STREAM])
    flip = rng.random(n) < 0.5
    dy = rng.integers(0, 2 * shift + 1, n)
    dx = rng.integers(0, 2 * shift + 1, n)
    return AugmentDraws(flip, dy, dx, int(shift))


def _check(images: Any, draws: AugmentDraws) -> None:
    if images.ndim != 4 or str(images.dtype) not in ("uint8", "torch.uint8"):
        raise ValueError(f"augment: expected uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    if images.shape[0] != len(draws):
        raise ValueError(f"augment: {len(draws)} draws for a batch of {images.shape[0]} images")


def augment_numpy(images: np.ndarray, draws: AugmentDraws) -> np.ndarray:
    """Flipped and shifted copy of uint8 ``images`` (N, C, H, W); ``images`` is not modified."""
    _check(images, draws)
    rows, cols = draws.source_indices(*images.shape[2:])
    out = np.empty(images.shape, np.uint8)
    for n in range(len(images)):  # per image: the rows of its crop, then their (mirrored) columns
        np.take(images[n].take(rows[n], axis=1), cols[n], axis=2, out=out[n])
    return out


def augment_torch(images: Any, draws: AugmentDraws) -> Any:
    """The same on a uint8 tensor, on its device, as two gathers (the index tables, n·(H + W) integers, are
    copied there)."""
    import torch

    _check(images, draws)
    n, c, h, w = images.shape
    rows, cols = (torch.from_numpy(a).to(images.device) for a in draws.source_indices(h, w))
    out = images.gather(2, rows[:, None, :, None].expand(n, c, h, w))
    return out.gather(3, cols[:, None, None, :].expand(n, c, h, w))


__all__ = ["AugmentDraws", "draw", "augment_numpy", "augment_torch", "AUGMENT_STREAM"]
