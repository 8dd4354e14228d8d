"""Dropout with torch.nn: torch's own layers, plus the scratch twin's way of choosing the mask.

``Dropout`` and ``Dropout2d`` subclass ``torch.nn.Dropout`` / ``torch.nn.Dropout2d``.
Constructed as torch's (``Dropout(p=0.5, inplace=False)``) they *are* torch's:
forward calls ``F.dropout`` / ``F.dropout2d`` and torch's generator draws the
mask. Two additions let them follow the scratch twin mask for mask:

- ``rng=`` (a NumPy ``Generator`` or a seed): the keep-mask is drawn with
  :func:`scratch.dropout.keep_mask` from that generator, exactly the draws a
  scratch layer with a generator seeded alike makes;
- ``forward(x, mask=m)``: a given keep-mask (booleans or 0/1, shape
  ``mask_shape(x.shape)``).

Either way the output is computed as torch computes it, ``x * (m / (1 − p))``
with autograd supplying dx = dy ⊙ m/(1 − p), and ``last_mask`` holds the mask
used. For two twins in lockstep, give each its own generator seeded alike (see
:mod:`scratch.dropout`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from scratch.dropout import as_keep_mask, channel_mask_shape, keep_mask

__all__ = ["Dropout", "Dropout2d"]


class _NumpyMaskDropout:
    """The mask-from-NumPy path shared by Dropout and Dropout2d (mixed into torch's classes)."""

    def _setup(self, rng: np.random.Generator | int | None) -> None:
        self.rng = None if rng is None else rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.last_mask: np.ndarray | None = None

    def _torch_forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        self.last_mask = None
        random = self.training and 0 < self.p < 1 and x.numel() > 0
        if not random or (mask is None and self.rng is None):
            return self._torch_forward(x)  # torch's own: identity, zeros at p = 1, or torch's generator
        expected = self.mask_shape(tuple(x.shape))
        m = keep_mask(self.rng, expected, self.p) if mask is None else as_keep_mask(mask, expected, type(self).__name__)
        self.last_mask = m
        noise = torch.from_numpy(m).to(dtype=x.dtype, device=x.device)
        noise.div_(1 - self.p)  # torch's _dropout: the mask is scaled, then multiplied in
        return x.mul_(noise) if self.inplace else x * noise


class Dropout(_NumpyMaskDropout, torch.nn.Dropout):
    """``torch.nn.Dropout(p=0.5, inplace=False)``; with ``rng=`` or ``mask=``, the keep-mask is NumPy's."""

    def __init__(self, p: float = 0.5, inplace: bool = False, rng: np.random.Generator | int | None = None) -> None:
        torch.nn.Dropout.__init__(self, p, inplace)
        self._setup(rng)

    def mask_shape(self, shape: tuple) -> tuple:
        return tuple(shape)

    def _torch_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, self.training, self.inplace)


class Dropout2d(_NumpyMaskDropout, torch.nn.Dropout2d):
    """``torch.nn.Dropout2d(p=0.5, inplace=False)``; with ``rng=`` or ``mask=``, the (N, C, 1, 1) keep-mask is NumPy's."""

    def __init__(self, p: float = 0.5, inplace: bool = False, rng: np.random.Generator | int | None = None) -> None:
        torch.nn.Dropout2d.__init__(self, p, inplace)
        self._setup(rng)

    def mask_shape(self, shape: tuple) -> tuple:
        return channel_mask_shape(shape)  # with torch's warnings for other than 4-D input

    def _torch_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout2d(x, self.p, self.training, self.inplace)
