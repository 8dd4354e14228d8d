"""Pooling by hand: max, average and adaptive average over 2-D windows.

Seed ideas: pooling shrinks the image while keeping what matters in each
window, so later layers see a wider field for the same kernel and the
features tolerate small shifts. Max pooling passes the gradient to the one
element that won its window (d max/dx_k = [k = argmax]) and nothing to the
others; average pooling spreads it evenly (d mean/dx_k = 1/divisor). Global
average pooling (``AdaptiveAvgPool2d(1)``) turns a (C, H, W) feature map into
C numbers whatever H and W, which is how a CNN meets its classifier.

Windows are visited as kh·kw strided slices, one per kernel offset, exactly as
``scratch.conv.col2im`` visits them; geometry and errors follow torch's
``pooling_output_shape`` and ``pool2d_shape_check``:

    OH = ⌊(H + 2p − d·(k − 1) − 1 + (s − 1 if ceil_mode))/s⌋ + 1,

minus one when ceil_mode would start the last window beyond the input and
the left padding, with 0 ≤ p ≤ k/2 (torch's rule) and OH ≥ 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch.conv import _pair, _workspace
from scratch.module import Module, as_float_array
from scratch.parallel import for_blocks, sample_blocks

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "pool_output_size"]


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """torch's pooling output size; ceil_mode rounds up unless the last window would start past the input."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


class _Pool2d(Module):
    """Argument handling shared by MaxPool2d and AvgPool2d: int-or-pair arguments, torch's checks."""

    def __init__(self, kernel_size, stride, padding, dilation, ceil_mode) -> None:
        super().__init__()
        # torch keeps the arguments as given (an int stays an int); the pairs below do the work
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None or stride == () else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self._k, self._s = _pair(kernel_size, "kernel_size"), _pair(self.stride, "stride")
        self._p, self._d = _pair(padding, "padding"), _pair(dilation, "dilation")
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self._k, self._s, self._p, self._d
        name = type(self).__name__
        if kh <= 0 or kw <= 0:
            raise ValueError(f"{name}: kernel size should be greater than zero, but got kH: {kh} kW: {kw}")
        if sh <= 0 or sw <= 0:
            raise ValueError(f"{name}: stride should be greater than zero, but got dH: {sh} dW: {sw}")
        if dh <= 0 or dw <= 0:
            raise ValueError(f"{name}: dilation should be greater than zero, but got dilationH: {dh} dilationW: {dw}")
        if ph < 0 or pw < 0:
            raise ValueError(f"{name}: pad must be non-negative, but got pad: {self._p}")
        if ph > kh // 2 or pw > kw // 2:
            raise ValueError(
                f"{name}: pad should be at most half of kernel size, but got pad={self._p}, kernel_size={self._k}"
            )
        self._cache: tuple | None = None

    def _input(self, x: Any) -> tuple[np.ndarray, tuple[int, int]]:
        """The input as (N, C, H, W) and the output size; raises torch's errors for bad shapes."""
        name = type(self).__name__
        x = as_float_array(x, f"{name} input")
        if x.ndim not in (3, 4) or 0 in x.shape[-3:]:
            raise ValueError(
                f"{name}: expected a 3D (C, H, W) or 4D (N, C, H, W) input with non-zero C, H, W, "
                f"got input of shape {tuple(x.shape)}"
            )
        H, W = x.shape[-2:]
        out_hw = tuple(
            pool_output_size(size, k, s, p, d, self.ceil_mode)
            for size, k, s, p, d in zip((H, W), self._k, self._s, self._p, self._d)
        )
        if min(out_hw) < 1:
            raise ValueError(
                f"{name}: given input size ({x.shape[-3]}x{H}x{W}), calculated output size "
                f"({x.shape[-3]}x{out_hw[0]}x{out_hw[1]}). Output size is too small"
            )
        return (x[None] if x.ndim == 3 else x), out_hw

    def _padded(self, x: np.ndarray, out_hw, fill: float) -> np.ndarray:
        """x framed with ``fill`` so that every window of every output position lies inside."""
        (ph, pw), N, C, H, W = self._p, *x.shape
        span = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out_hw, self._s, self._d, self._k)]
        Hp, Wp = max(H + 2 * ph, span[0]), max(W + 2 * pw, span[1])  # ceil_mode may reach past the padding
        if (Hp, Wp) == (H, W):
            return x
        xp = np.full((N, C, Hp, Wp), fill, dtype=x.dtype)
        xp[:, :, ph : ph + H, pw : pw + W] = x
        return xp

    def _offsets(self, out_hw):
        """(k, rows, cols): the slices of the padded input that kernel offset k = i·kw + j sees, i.e. xp[..., o·s + i·d, q·s + j·d]."""
        (kh, kw), (sh, sw), (dh, dw) = self._k, self._s, self._d
        oh, ow = out_hw
        for i in range(kh):
            for j in range(kw):
                yield i * kw + j, slice(i * dh, i * dh + (oh - 1) * sh + 1, sh), slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)

    def _cached(self) -> tuple:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def _dout(self, dout: Any, out_shape: tuple, unbatched: bool) -> np.ndarray:
        """dout as (N, C, OH, OW), after checking it has the output's shape."""
        dout = np.asarray(dout)
        expected = out_shape[1:] if unbatched else out_shape
        if dout.shape != expected:
            raise ValueError(f"{type(self).__name__}.backward: expected dout of shape {expected}, got {dout.shape}")
        return dout.reshape(out_shape)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """y[n, c, o, q] = max over the window x_pad[n, c, o·s + i·d, q·s + j·d], i < kh, j < kw (``torch.nn.MaxPool2d``).

    Shapes: x (N, C, H, W) or (C, H, W) → y (N, C, OH, OW) or (C, OH, OW);
    ``stride`` defaults to ``kernel_size``; padding counts as −∞.

    Backward: dx_k = Σ over the windows whose winner is k of dy (windows may
    overlap). The winner is torch's: the *first* maximum in row-major window
    order among the window's input pixels and, where the window holds NaN, the
    last NaN, as torch's ``val > max || isnan(val)`` scan picks them. Only the
    winners' offsets (one byte each for kernels up to 16x16) are kept for
    backward; the window values are gathered into a buffer that the next call
    reuses. Both directions work in blocks of samples that stay in the cache,
    shared among ``scratch.parallel``'s threads (the values do not depend on
    their count).
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        if return_indices:  # kept in torch's position so that positional arguments mean the same
            raise NotImplementedError("MaxPool2d: return_indices=True is not supported here (there is no MaxUnpool2d)")
        self.dilation = dilation
        self.return_indices = False
        self._windows: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        unbatched = np.ndim(x) == 3
        x, out_hw = self._input(x)
        xp = self._padded(x, out_hw, -np.inf)
        offsets = list(self._offsets(out_hw))
        N, C = x.shape[:2]
        self._windows = _workspace(self._windows, N, (len(offsets), C) + out_hw, x.dtype)
        windows = self._windows[:N]  # windows[:, k] = the pixels at offset k of every window
        y = np.empty((N, C) + out_hw, dtype=x.dtype)
        winner = np.empty(y.shape, dtype=np.min_scalar_type(len(offsets) - 1))
        inside = None if xp is x else [self._inside(k, x.shape[2:], out_hw) for k, _, _ in offsets]

        def samples(a: int, b: int) -> None:  # samples a..b-1, on whichever thread for_blocks gives them
            w, yb, wb = windows[a:b], y[a:b], winner[a:b]
            for k, rows, cols in offsets:
                np.copyto(w[:, k], xp[a:b, :, rows, cols])
            np.max(w, axis=1, out=yb)  # NaN propagates, as in torch
            wb.fill(0)
            found = np.zeros(yb.shape, dtype=bool)
            hit = np.empty(yb.shape, dtype=bool)
            for k, rows, cols in offsets:  # first offset holding the maximum, input pixels only
                np.equal(w[:, k], yb, out=hit)
                if inside is not None:
                    hit &= inside[k]
                np.logical_and(hit, ~found, out=hit)
                wb += np.multiply(hit, k, dtype=wb.dtype)
                found |= hit
            if not found.all():  # windows whose maximum is NaN: torch keeps the last NaN
                nan_window = ~found & np.isnan(yb)
                for k, _, _ in offsets:
                    wb[nan_window & np.isnan(w[:, k])] = k

        for_blocks(sample_blocks(N, windows[0].size), samples)
        self._cache = (x.shape, xp.shape, winner, unbatched)
        return y[0] if unbatched else y

    def _inside(self, k: int, in_hw, out_hw) -> np.ndarray:
        """(OH, OW) mask: does kernel offset k of window (o, q) fall on an input pixel rather than the −∞ frame?"""
        i, j = divmod(k, self._k[1])
        rows = np.arange(out_hw[0]) * self._s[0] + i * self._d[0] - self._p[0]  # input row that offset i reads
        cols = np.arange(out_hw[1]) * self._s[1] + j * self._d[1] - self._p[1]
        return np.logical_and.outer((rows >= 0) & (rows < in_hw[0]), (cols >= 0) & (cols < in_hw[1]))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x_shape, xp_shape, winner, unbatched = self._cached()
        dout = self._dout(dout, winner.shape, unbatched)
        extent = [d * (k - 1) + 1 for d, k in zip(self._d, self._k)]
        disjoint = all(s >= e for s, e in zip(self._s, extent))
        tiled = disjoint and all(
            s == e and o * s == size for s, e, o, size in zip(self._s, extent, winner.shape[2:], xp_shape[2:])
        )
        dxp = (np.empty if tiled else np.zeros)(xp_shape, dtype=dout.dtype)  # tiled: every pixel is written below
        offsets = list(self._offsets(winner.shape[2:]))

        def samples(a: int, b: int) -> None:
            for k, rows, cols in offsets:
                dst = dxp[a:b, :, rows, cols]
                if disjoint:  # each pixel in at most one window: write instead of add
                    np.multiply(dout[a:b], winner[a:b] == k, out=dst)  # d max/dx_k = [k won the window]
                else:
                    dst += dout[a:b] * (winner[a:b] == k)

        for_blocks(sample_blocks(len(dxp), int(np.prod(xp_shape[1:]))), samples)
        (ph, pw), (H, W) = self._p, x_shape[2:]
        dx = dxp[:, :, ph : ph + H, pw : pw + W]  # gradient that reached the −∞ frame is dropped
        return dx[0] if unbatched else dx

    def extra_repr(self) -> str:
        return super().extra_repr() + f", dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class AvgPool2d(_Pool2d):
    """y[n, c, o, q] = (1/divisor) Σ over the window x_pad[n, c, o·s + i, q·s + j] (``torch.nn.AvgPool2d``).

    Padding counts as 0. Per output position, with the window clipped to the
    padded input, ``divisor`` is its size (``count_include_pad=True``), the
    number of real input pixels in it (``False``), or ``divisor_override``.

    Backward: every pixel of a window receives dy/divisor (summed over the
    windows that overlap it).
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        if divisor_override is not None and int(divisor_override) == 0:
            raise ValueError("AvgPool2d: divisor must be not zero")
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def _divisor(self, in_hw, out_hw, dtype) -> np.ndarray:
        """(OH, OW) divisors, torch's rule: window clipped to the padded input, or to the input alone."""
        if self.divisor_override is not None:
            return np.full(out_hw, self.divisor_override, dtype=dtype)
        sizes = []
        for size, out, k, s, p in zip(in_hw, out_hw, self._k, self._s, self._p):
            start = np.arange(out) * s - p
            end = np.minimum(start + k, size + p)
            real = np.minimum(end, size) - np.maximum(start, 0)
            sizes.append(end - start if self.count_include_pad else real)
        return np.multiply.outer(*sizes).astype(dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        unbatched = np.ndim(x) == 3
        x, out_hw = self._input(x)
        xp = self._padded(x, out_hw, 0.0)
        y = np.zeros(x.shape[:2] + out_hw, dtype=x.dtype)
        for _, rows, cols in self._offsets(out_hw):
            y += xp[:, :, rows, cols]
        divisor = self._divisor(x.shape[2:], out_hw, x.dtype)
        y /= divisor
        self._cache = (x.shape, xp.shape, divisor, unbatched)
        return y[0] if unbatched else y

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x_shape, xp_shape, divisor, unbatched = self._cached()
        dout = self._dout(dout, x_shape[:2] + divisor.shape, unbatched)
        share = dout / divisor  # d mean/dx_k = 1/divisor for each pixel k of the window
        dxp = np.zeros(xp_shape, dtype=dout.dtype)
        for _, rows, cols in self._offsets(divisor.shape):
            dxp[:, :, rows, cols] += share
        (ph, pw), (H, W) = self._p, x_shape[2:]
        dx = dxp[:, :, ph : ph + H, pw : pw + W]
        return dx[0] if unbatched else dx


class AdaptiveAvgPool2d(Module):
    """Average over torch's adaptive bins: out size fixed, windows computed from the input size.

    Along an axis of size H into OH bins, bin i covers rows
    [⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉) (bins may overlap when H is not a multiple of
    OH). Averaging is separable, so with A_H (OH, H) holding 1/|bin i| on bin
    i's rows (likewise A_W):

        Y = A_H · X · A_Wᵀ   (per sample and channel),   dX = A_Hᵀ · dY · A_W.

    ``output_size``: an int, or an (h, w) pair whose ``None`` entries keep the
    input's size; 1 is global average pooling, y[n, c] = mean over (H, W).
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        pair = (output_size, output_size) if isinstance(output_size, (int, np.integer)) or output_size is None else tuple(output_size)
        if len(pair) != 2 or not all(v is None or isinstance(v, (int, np.integer)) for v in pair):
            raise ValueError(f"AdaptiveAvgPool2d: output_size must be an int or a pair of ints or None, got {output_size!r}")
        if any(v is not None and v < 0 for v in pair):
            raise ValueError(
                f"AdaptiveAvgPool2d: elements of output_size must be greater than or equal to 0 but received {pair}"
            )
        self.output_size = output_size
        self._sizes = pair
        self._cache: tuple | None = None

    @staticmethod
    def bin_matrix(size: int, out: int, dtype: Any = np.float64) -> np.ndarray:
        """A (out, size) with A[i, ⌊i·size/out⌋ : ⌈(i+1)·size/out⌉] = 1/(bin length), zeros elsewhere."""
        a = np.zeros((out, size), dtype=dtype)
        for i in range(out):
            start, end = (i * size) // out, -((-(i + 1) * size) // out)
            a[i, start:end] = 1.0 / (end - start)
        return a

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, "AdaptiveAvgPool2d input")
        if x.ndim not in (3, 4) or 0 in x.shape[-3:]:
            raise ValueError(
                f"AdaptiveAvgPool2d: expected a 3D (C, H, W) or 4D (N, C, H, W) input with non-zero C, H, W, "
                f"got input of shape {tuple(x.shape)}"
            )
        H, W = x.shape[-2:]
        oh, ow = (size if out is None else int(out) for out, size in zip(self._sizes, (H, W)))
        a_h, a_w = self.bin_matrix(H, oh, x.dtype), self.bin_matrix(W, ow, x.dtype)
        lead = x.shape[:-2]
        t = (x.reshape(-1, W) @ a_w.T).reshape(-1, H, ow)  # X · A_Wᵀ
        y = np.matmul(a_h, t)  # A_H · (X · A_Wᵀ)
        self._cache = (x.shape, a_h, a_w)
        return y.reshape(lead + (oh, ow))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("AdaptiveAvgPool2d.backward called before forward")
        x_shape, a_h, a_w = self._cache
        out_shape = x_shape[:-2] + (a_h.shape[0], a_w.shape[0])
        dout = np.asarray(dout)
        if dout.shape != out_shape:
            raise ValueError(f"AdaptiveAvgPool2d.backward: expected dout of shape {out_shape}, got {dout.shape}")
        t = (dout.reshape(-1, a_w.shape[0]) @ a_w).reshape(-1, a_h.shape[0], a_w.shape[1])  # dY · A_W
        return np.matmul(a_h.T, t).reshape(x_shape)  # dX = A_Hᵀ · dY · A_W

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
