"""Normalization layers by hand: BatchNorm1d/2d (statistics per channel over the batch)
and LayerNorm (statistics per sample over its trailing dimensions).

``BatchNorm1d`` / ``BatchNorm2d``: x̂ = (x − μ_B)/√(σ²_B + ε), y = γx̂ + β per
channel, as ``torch.nn.BatchNormNd``; seed idea: re-centring and re-scaling
every layer's input keeps activations out of the saturated regions whatever
the scale of the weights before it.

``LayerNorm``: the same normalization, but over the features of each sample
instead of over the batch, as ``torch.nn.LayerNorm``; seed idea: a sample's
output does not depend on the other samples, so training and eval compute the
same function, a batch of one is fine, and no running statistics are kept.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from scratch.module import Module, Parameter, as_float_array
from scratch.parallel import for_blocks, sample_blocks


class _BatchNorm(Module):
    """Batch normalization over every axis but the channel axis 1, as ``torch.nn.BatchNormNd``.

    Per channel c, over the m = N·(spatial size) values of a batch:

        μ = (1/m) Σ x,   σ² = (1/m) Σ (x − μ)²   (biased),   x̂ = (x − μ)/√(σ² + ε),
        y = γ x̂ + β                               (γ = ``weight``, β = ``bias``; affine)

    Training mode normalizes with the batch's μ, σ² and updates the buffers
    with the *unbiased* variance m/(m−1)·σ²:

        running_mean ← (1−p) running_mean + p μ,  running_var ← (1−p) running_var + p m σ²/(m−1),

    p = ``momentum`` (0.1), or 1/``num_batches_tracked`` when ``momentum=None``
    (a cumulative average). Eval mode normalizes with the running buffers;
    without ``track_running_stats`` it uses the batch statistics in both modes.

    ``eps`` follows torch: with batch statistics it must be positive, with running
    statistics non-negative (ValueError at forward, torch's words). Where torch returns
    inf or NaN instead (eps = 0 over a channel whose running_var is 0), forward raises.

    Backward with batch statistics, the compact closed form (σ̂ = √(σ²+ε)):

        dγ = Σ dy·x̂,   dβ = Σ dy,   dx = (1/m)·γ/σ̂·(m·dy − Σ dy − x̂·Σ(dy·x̂)),

    the last two terms being the paths through μ and σ². With running
    statistics μ and σ² are constants and dx = γ·dy/√(running_var + ε).

    The work is laid out for large inputs (a CNN's activations) and rounds where torch's
    CPU kernel rounds: the input is seen as (N, C, L); per-channel sums and sums of
    products are BLAS matrix-vector and dot products over rows of L values, the batch
    statistics summed over rows in float64 (torch accumulates them in double); the
    output is y = x·α + (β − μα) with α = γ/σ̂; the cache keeps the centred x − μ; dx is
    computed in place in the one array it returns. (Rounding as torch rounds matters in
    float32: a ReLU after the BatchNorm turns an ulp on either side of 0 into a different
    gradient, and a trajectory that follows torch's roundings leaves torch's far less often.)
    """

    _expected_ndim: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        if num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, got {num_features}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))  # torch: init.ones_
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))  # torch: init.zeros_
        else:
            self.weight = self.bias = None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self._cache: tuple | None = None

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, f"{type(self).__name__} input")
        if x.ndim not in self._expected_ndim:
            dims = " or ".join(f"{d}D" for d in self._expected_ndim)
            raise ValueError(f"{type(self).__name__}: expected {dims} input (got {x.ndim}D input)")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}: expected {self.num_features} channels on axis 1, "
                f"got input of shape {tuple(x.shape)}"
            )
        own = self.weight.data if self.affine else self.running_mean
        if own is not None and x.dtype != own.dtype:
            raise TypeError(
                f"{type(self).__name__}: input dtype {x.dtype} does not match the layer's "
                f"{own.dtype}; cast one of them (e.g. layer.to(np.{x.dtype}))"
            )
        return x

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        x3 = x.reshape(x.shape[0], self.num_features, -1)  # (N, C, L): the statistics run over N and L
        m = x.size // self.num_features
        use_batch_stats = self.training or not self.track_running_stats
        if use_batch_stats and not self.eps > 0:  # torch's checks, word for word
            raise ValueError(f"batch_norm eps must be positive during training, but got {self.eps}")
        if not self.eps >= 0:
            raise ValueError(f"batch_norm eps must be non-negative, but got {self.eps}")
        if use_batch_stats:
            if m == 1:
                raise ValueError(
                    f"Expected more than 1 value per channel when training, got input size {tuple(x.shape)}"
                )
            mean = (_channel_sums(x3, np.float64) / m).astype(x.dtype)
            xc, row_squares = np.empty_like(x3), np.empty(x3.shape[:2], x.dtype)

            def centre(a: int, b: int) -> None:  # x − μ, and Σ (x − μ)² per sample and channel while in the cache
                np.subtract(x3[a:b], mean[:, None], out=xc[a:b])
                row_squares[a:b] = _row_dots(xc[a:b], xc[a:b])

            for_blocks(sample_blocks(len(x3), x3[0].size), centre)
            var = row_squares.sum(axis=0, dtype=np.float64) / m  # biased: divides by m
            if self.training and self.track_running_stats:
                self.num_batches_tracked = self.num_batches_tracked + 1  # a registered buffer: __setattr__ keeps it one
                p = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                unbiased = (var * (m / (m - 1))).astype(x.dtype)
                self.running_mean[...] = p * mean + (1 - p) * self.running_mean
                self.running_var[...] = p * unbiased + (1 - p) * self.running_var
        else:
            mean, var = self.running_mean, self.running_var
            if self.eps == 0 and np.any(var <= 0):  # torch returns inf/NaN here
                raise ValueError(f"{type(self).__name__}: running_var is 0 in a channel and eps=0, so x̂ = "
                                 "(x − μ)/√(σ²+ε) would be infinite or NaN; use eps > 0")
            xc = x3 - mean[:, None]
        invstd = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        self._cache = (xc, invstd, use_batch_stats, m, x.shape)
        # y = γ x̂ + β = x·α + (β − μα) with α = γ/σ̂, per channel (torch's form)
        alpha = (self.weight.data * invstd if self.affine else invstd)[:, None]
        beta = ((self.bias.data if self.affine else 0) - mean * alpha[:, 0])[:, None]
        y = np.empty_like(x3)

        def transform(a: int, b: int) -> None:
            np.multiply(x3[a:b], alpha, out=y[a:b])
            y[a:b] += beta

        for_blocks(sample_blocks(len(x3), x3[0].size), transform)
        return y.reshape(x.shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        xc, invstd, use_batch_stats, m, shape = self._cache
        dout = np.asarray(dout)
        if dout.shape != shape:
            raise ValueError(
                f"{type(self).__name__}.backward: expected dout of shape {shape}, got {dout.shape}"
            )
        d3 = dout.reshape(xc.shape)
        dbeta = _channel_sums(d3)  # dL/dβ = Σ dy
        dot = _channel_dots(d3, xc)  # Σ dy·(x − μ)
        if self.affine:
            self.weight.accumulate_grad(dot * invstd)  # dL/dγ = Σ dy·x̂
            self.bias.accumulate_grad(dbeta)
            scale = self.weight.data * invstd  # γ/σ̂
        else:
            scale = invstd
        if not use_batch_stats:
            return (d3 * scale[:, None]).reshape(shape)  # dx = γ dy / √(running_var + ε)
        # dx = γ/σ̂·(dy − Σdy/m − x̂·Σ(dy·x̂)/m) = γ/σ̂·(dy − Σdy/m − (x − μ)·k), k = Σ dy·(x − μ)/(σ̂²m)
        mean_dy, k, scale = (dbeta / m)[:, None], (dot * invstd * invstd / m)[:, None], scale[:, None]
        dx = np.empty_like(xc)

        def input_grad(a: int, b: int) -> None:
            out = dx[a:b]
            np.subtract(d3[a:b], mean_dy, out=out)
            out -= xc[a:b] * k
            out *= scale

        for_blocks(sample_blocks(len(xc), xc[0].size), input_grad)
        return dx.reshape(shape)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


def _channel_sums(a: np.ndarray, total: type | None = None) -> np.ndarray:
    """Σ over axes 0 and 2 of (N, C, L): a BLAS matrix-vector product with ones over rows of L, then Σ over N
    (accumulated in ``total``, e.g. float64, when given)."""
    n, c, length = a.shape
    return (a.reshape(n * c, length) @ np.ones(length, a.dtype)).reshape(n, c).sum(axis=0, dtype=total)


def _row_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, C): Σ_L a·b of (N, C, L) arrays, a dot product per row of L (BLAS's with NumPy ≥ 2)."""
    n, c, length = a.shape
    a2, b2 = a.reshape(n * c, length), b.reshape(n * c, length)
    return (np.vecdot(a2, b2) if hasattr(np, "vecdot") else np.einsum("ij,ij->i", a2, b2)).reshape(n, c)


def _channel_dots(a: np.ndarray, b: np.ndarray, total: type | None = None) -> np.ndarray:
    """Σ a·b over axes 0 and 2 of (N, C, L): a dot product per row of L, then Σ over N (in ``total``)."""
    return _row_dots(a, b).sum(axis=0, dtype=total)


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) input, statistics per feature C (``torch.nn.BatchNorm1d``)."""

    _expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) input, statistics per channel over N·H·W (``torch.nn.BatchNorm2d``)."""

    _expected_ndim = (4,)


class LayerNorm(Module):
    """Layer normalization over the trailing dimensions ``normalized_shape``, as ``torch.nn.LayerNorm``.

    For x of shape (*, *normalized_shape), per sample (every leading index), over its
    M = Π normalized_shape values:

        μ = (1/M) Σ x,   σ² = (1/M) Σ (x − μ)²   (biased),   x̂ = (x − μ)/√(σ² + ε),
        y = γ ⊙ x̂ + β                             (γ = ``weight``, β = ``bias``, shape normalized_shape)

    ``elementwise_affine=False`` drops γ and β; ``bias=False`` drops β only.
    Training and eval modes compute the same thing: no running statistics.

    ``eps`` ≤ 0 is accepted as torch accepts it, but where it would make σ² + ε ≤ 0
    for a sample (any variance below −ε; a constant sample with ε = 0) forward raises
    a ValueError instead of returning torch's NaN or inf.

    Backward, the compact closed form (σ̂ = √(σ²+ε), g = γ ⊙ dy, Σ over one sample's M values):

        dγ = Σ_samples dy ⊙ x̂,   dβ = Σ_samples dy,   dx = (1/M)·(1/σ̂)·(M·g − Σ g − x̂·Σ(g ⊙ x̂)),

    the last two terms being the paths through μ and σ². With γ = 1 (the initial
    value) and an all-ones dy, g is constant and Σ x̂ = 0, so the true dx is 0,
    and so is the dx of a backward that drops the σ² path (the x̂·Σ(g ⊙ x̂)
    term): an all-ones upstream gradient cannot tell the two apart.
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        what = "LayerNorm: normalized_shape must be a positive int or a non-empty sequence of positive ints"
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else normalized_shape
        if not isinstance(shape, Sequence) or not all(isinstance(d, numbers.Integral) for d in shape):
            raise TypeError(f"{what}, got {normalized_shape!r}")
        if not shape or min(shape) <= 0:
            raise ValueError(f"{what}, got {normalized_shape!r}")
        self.normalized_shape = tuple(int(d) for d in shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))  # torch: init.ones_
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype)) if bias else None
        else:
            self.weight = self.bias = None
        self._cache: tuple | None = None

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, "LayerNorm input")
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k :]) != self.normalized_shape:
            shape = ", ".join(str(d) for d in self.normalized_shape)
            raise ValueError(
                f"LayerNorm: given normalized_shape={list(self.normalized_shape)}, expected input "
                f"with shape (*, {shape}), but got input of shape {tuple(x.shape)}"
            )
        if self.weight is not None and x.dtype != self.weight.dtype:
            raise TypeError(
                f"LayerNorm: input dtype {x.dtype} does not match the layer's {self.weight.dtype}; "
                f"cast one of them (e.g. layer.to(np.{x.dtype}))"
            )
        return x

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        k = len(self.normalized_shape)
        axes = tuple(range(x.ndim - k, x.ndim))  # the normalized dims of each sample
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)  # biased: divides by M
        if not self.eps > 0 and np.any(var + self.eps <= 0):  # torch returns NaN or inf here
            raise ValueError(
                f"LayerNorm: σ² + eps ≤ 0 for a sample (smallest σ² {float(var.min()):.3g}, eps={self.eps}), so x̂ = "
                "(x − μ)/√(σ²+ε) would be NaN or infinite; use eps > 0")
        invstd = 1.0 / np.sqrt(var + self.eps)
        x_hat = xc * invstd
        self._cache = (x_hat, invstd, axes)
        if self.weight is None:
            return x_hat
        y = x_hat * self.weight.data
        if self.bias is not None:
            y += self.bias.data  # y is a fresh product
        return y

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("LayerNorm.backward called before forward")
        x_hat, invstd, axes = self._cache
        dout = np.asarray(dout)
        if dout.shape != x_hat.shape:
            raise ValueError(f"LayerNorm.backward: expected dout of shape {x_hat.shape}, got {dout.shape}")
        batch_axes = tuple(range(x_hat.ndim - len(axes)))
        if self.weight is not None:
            self.weight.accumulate_grad((dout * x_hat).sum(axis=batch_axes), fresh=True)  # dL/dγ = Σ dy·x̂
            if self.bias is not None:
                self.bias.accumulate_grad(dout.sum(axis=batch_axes), fresh=True)  # dL/dβ = Σ dy
            g = dout * self.weight.data  # g = γ ⊙ dy
        else:
            g = dout
        m = int(np.prod(self.normalized_shape))
        # dx = (1/M)·(1/σ̂)·(M·g − Σg − x̂·Σ(g·x̂))
        return (invstd / m) * (
            m * g - g.sum(axis=axes, keepdims=True) - x_hat * (g * x_hat).sum(axis=axes, keepdims=True)
        )

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )
