"""Dropout by hand: inverted dropout of single units (``Dropout``) or whole channels (``Dropout2d``).

In training, each unit (or channel) is kept with probability 1 − p, and kept
values are scaled by 1/(1 − p):

    y = x ⊙ m / (1 − p),   m ~ Bernoulli(1 − p),   so E[y] = x;

in eval mode y = x. Seed idea: the network cannot rely on any single unit, a
cheap stand-in for averaging the many thinned networks the masks select; the
1/(1 − p) scaling at training time (*inverted* dropout) leaves inference
untouched.

The keep-mask m is drawn from a NumPy ``Generator`` the layer is given
(``rng=``, or a seed) by :func:`keep_mask`, or passed explicitly:
``forward(x, mask=m)``. After a training forward, ``last_mask`` holds the
keep-mask used (``None`` when nothing was dropped at random: eval, p = 0, p = 1).

**Both twins in lockstep.** ``torch_ref.dropout.Dropout`` / ``Dropout2d`` take
the same ``rng=`` and draw with the same :func:`keep_mask`. Give each twin its
*own* generator, seeded alike (``np.random.default_rng(seed)`` twice, never one
object shared by both: the twin stepped first would consume the other's
draws). Both then draw the same shapes in the same order, so every step uses
the same masks on both sides, in float32 and float64 alike (the uniforms are
drawn in float64 whatever the input's dtype). To resume exactly, save
``rng.bit_generator.state`` with the checkpoint and assign it back to the
generator on resume; the layers hold no other state.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from scratch.module import Module, as_float_array


def keep_mask(rng: np.random.Generator, shape: tuple, p: float) -> np.ndarray:
    """Boolean keep-mask of ``shape``, True with probability 1 − p: ``rng.random(shape) < 1 − p``."""
    return rng.random(shape) < 1.0 - p


def _check_probability(p: Any) -> float:
    """torch's check ``p < 0 or p > 1``, written so that NaN (which torch lets through) fails too."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout probability must be a real number, got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return p


def as_keep_mask(mask: Any, expected: tuple, name: str) -> np.ndarray:
    """``mask`` as a boolean array of shape ``expected``; booleans or 0/1 values are accepted."""
    mask = np.asarray(mask)
    if mask.shape != tuple(expected):
        raise ValueError(f"{name}: expected a keep-mask of shape {tuple(expected)}, got {mask.shape}")
    if mask.dtype != np.bool_:
        if mask.dtype.kind not in "biuf" or not np.isin(mask, (0, 1)).all():
            raise ValueError(f"{name}: a keep-mask holds booleans or 0/1, got dtype {mask.dtype} with other values")
        mask = mask.astype(bool)
    return mask


def channel_mask_shape(shape: tuple) -> tuple:
    """The keep-mask shape of channel dropout: (N, C, 1, …, 1), with torch's warnings for other than 4-D input."""
    ndim = len(shape)
    if ndim < 2:
        raise ValueError(
            f"Dropout2d: feature dropout requires at least 2 dimensions (N, C, …) in the input, "
            f"got shape {tuple(shape)}"
        )
    if ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=4,
        )
    elif ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=4,
        )
    return tuple(shape[:2]) + (1,) * (ndim - 2)


class _DropoutNd(Module):
    """Shared by Dropout and Dropout2d: they differ only in the shape of the mask."""

    def __init__(self, p: float = 0.5, inplace: bool = False, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        self.p = _check_probability(p)
        self.inplace = bool(inplace)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.last_mask: np.ndarray | None = None
        self._noise: np.ndarray | None = None  # m/(1 − p) as cached for backward; None: identity
        self._shape: tuple | None = None

    def mask_shape(self, shape: tuple) -> tuple:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """y = x ⊙ m/(1 − p) in training (m drawn, or the given keep-mask), y = x in eval.

        A given ``mask`` has shape :meth:`mask_shape` of x's shape; it is ignored
        where nothing is dropped at random (eval mode, p = 0) and at p = 1, where
        every unit is dropped, as in torch.
        """
        x = as_float_array(x, f"{type(self).__name__} input")
        expected = self.mask_shape(x.shape)
        self._shape, self.last_mask = x.shape, None
        if not self.training or self.p == 0 or x.size == 0:
            self._noise = None
            return x if self.inplace else x.copy()  # a fresh array, like every scratch layer's output
        if self.p == 1:
            noise = np.zeros((), dtype=x.dtype)  # torch: x * 0, so NaN and ±inf inputs give NaN
        else:
            m = keep_mask(self.rng, expected, self.p) if mask is None else as_keep_mask(mask, expected, type(self).__name__)
            self.last_mask = m
            noise = m.astype(x.dtype)
            noise /= 1 - self.p  # m/(1 − p), in torch's order: the mask is scaled, then multiplied in
        self._noise = noise
        with np.errstate(invalid="ignore"):  # a dropped ±inf is ±inf·0 = NaN, as in torch
            return np.multiply(x, noise, out=x if self.inplace else None)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._shape is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dout = np.asarray(dout)
        if dout.shape != self._shape:
            raise ValueError(
                f"{type(self).__name__}.backward: expected dout of shape {self._shape}, got {dout.shape}"
            )
        if self._noise is None:
            return dout.copy()  # dy/dx = 1
        with np.errstate(invalid="ignore"):
            return dout * self._noise  # dy/dx = m/(1 − p)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout of single units, as ``torch.nn.Dropout(p=0.5, inplace=False)``.

    Any input shape; the keep-mask has the input's shape.
    Backward: dx = dy ⊙ m/(1 − p) (dx = dy in eval).
    """

    def mask_shape(self, shape: tuple) -> tuple:
        return tuple(shape)


class Dropout2d(_DropoutNd):
    """Inverted dropout of whole channels, as ``torch.nn.Dropout2d(p=0.5, inplace=False)``.

    Input (N, C, H, W): the keep-mask has shape (N, C, 1, 1), one draw per
    channel of each sample, broadcast over H × W. Backward: dx = dy ⊙ m/(1 − p).

    torch's behaviour, followed here: a 3-D input is read as (N, C, L), not as
    an unbatched (C, H, W) (mask (N, C, 1), with torch's warning); 2-D and 5-D or
    more inputs warn and use a mask of shape (N, C, 1, …); 1-D raises.
    """

    def mask_shape(self, shape: tuple) -> tuple:
        return channel_mask_shape(shape)
