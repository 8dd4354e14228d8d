"""Per-layer statistics of one pass, packed the same way by both twins, and their TensorBoard tags.

Both twins pack their statistics into one flat float64 vector with the same layout,
computed with the same formulas, so the torch twin can compute them on its device and
copy them to the host once per logged step (:func:`to_host`); :func:`unpack_stats`
reads either into a :class:`LayerStats`, and :func:`write_stats` writes one as a single
TensorBoard event through :class:`nnlab.tensorboard.EventWriter`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from nnlab.tensorboard import EventWriter, Histogram
from nnlab.vanishing.taps import Taps, layer_roles, scratch_pass, torch_pass


@dataclass
class LayerStats:
    """Per-layer statistics of one forward/backward pass, on the host.

    ``weight_grad_norm``/``bias_grad_norm``: (depth,) Frobenius norms, NaN for
    a missing bias. ``dead_fraction``: (depth − 1,) fraction of a hidden
    layer's units whose gradient dL/dz is exactly 0 for every sample of the
    batch; ``zero_grad_fraction``: fraction of (sample, unit) entries of dL/dz
    that are exactly 0. ``histograms``: TensorBoard tag → :class:`Histogram`.
    """

    loss: float
    weight_grad_norm: np.ndarray
    bias_grad_norm: np.ndarray
    dead_fraction: np.ndarray
    zero_grad_fraction: np.ndarray
    histograms: dict[str, Histogram] = field(default_factory=dict)

    @property
    def first_last_ratio(self) -> float:
        """First over last width×width hidden layer weight-gradient norm (layers 1 and depth − 2).

        Equal shapes make the two norms comparable. NaN when the net has
        fewer than two such layers (depth < 4).
        """
        n = self.weight_grad_norm
        return float(n[1] / n[-2]) if len(n) >= 4 else float("nan")


def layer_tag(k: int) -> str:
    """Tag part of the Linear layer with 0-based index ``k``; tags count from 1 (``layer_01`` is next to the input)."""
    return f"layer_{k + 1:02d}"


#: TensorBoard tags, identical for both twins.
LOSS_TAG = "loss/train"


def weight_grad_norm_tag(k: int) -> str:
    return f"grad_norm/weight/{layer_tag(k)}"


def log10_grad_norm_tag(k: int) -> str:
    return f"grad_norm_log10/{layer_tag(k)}"


def bias_grad_norm_tag(k: int) -> str:
    return f"grad_norm/bias/{layer_tag(k)}"


def dead_fraction_tag(k: int) -> str:
    return f"dead_fraction/{layer_tag(k)}"


def weight_grad_hist_tag(k: int) -> str:
    return f"grad_hist/weight/{layer_tag(k)}"


def preact_hist_tag(k: int) -> str:
    return f"preact_hist/{layer_tag(k)}"


def act_hist_tag(k: int) -> str:
    return f"act_hist/{layer_tag(k)}"


# Both twins pack their statistics into one flat float64 vector with the same
# layout, computed with the same formulas; ``unpack_stats`` reads either.
#   [loss, wnorm × L, bnorm × L, dead × H, zero × H, hist × (L + 2H)]
#   hist = [lo, hi, num, sum, sum_sq, counts × bins]   (bins split [lo, hi] evenly)
# A value v falls in bin ⌊(v − lo)·(bins/(hi − lo))⌋, the maximum in the last
# one; a constant tensor (hi = lo) is centred in the range [lo − ½, lo + ½].


def _numpy_histogram(values: np.ndarray, bins: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    lo, hi = v.min(), v.max()
    span = hi - lo
    if span == 0:
        lo, span = lo - 0.5, 1.0
    t = np.subtract(v, lo)
    t *= bins / span
    counts = np.bincount(t.astype(np.intp), minlength=bins + 1).astype(np.float64)  # truncation = floor, t ≥ 0
    counts[bins - 1] += counts[bins]  # the maximum lands in bin `bins`: count it in the last one
    counts = counts[:bins]
    return np.concatenate([[lo, lo + span, v.size, v.sum(), v @ v], counts])


def numpy_stats_packed(taps: Taps, histograms: bool = True, bins: int = 30) -> np.ndarray:
    """The packed statistics of a scratch pass (see ``unpack_stats``)."""
    wn = [np.linalg.norm(g) for g in taps.weight_grads]
    bn = [np.nan if g is None else np.linalg.norm(g) for g in taps.bias_grads]
    is_zero = [dz == 0 for dz in taps.preact_grads]  # (N, width) each, compared once
    dead = [np.mean(z.all(axis=0)) for z in is_zero]
    zero = [np.mean(z) for z in is_zero]
    parts = [np.asarray([float(taps.loss)], dtype=np.float64), wn, bn, dead, zero]
    if histograms:
        parts += [_numpy_histogram(t, bins) for t in (*taps.weight_grads, *taps.preacts, *taps.acts)]
    return np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1) for p in parts])


_SEGMENTS: dict[tuple, Any] = {}


def _segments(sizes: tuple[int, ...], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Segment id of every element of the concatenated tensors, and the sizes; cached per layout."""
    key = (sizes, str(device))
    if key not in _SEGMENTS:
        n = torch.tensor(sizes, dtype=torch.int64)
        seg = torch.repeat_interleave(torch.arange(len(sizes)), n)
        _SEGMENTS[key] = (seg.to(device), n.to(torch.float64).to(device))
    return _SEGMENTS[key]


def _device_index(indices: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """A cached index tensor on ``device``: a host→device copy from pageable memory would wait for the stream."""
    key = ("index", indices, str(device))
    if key not in _SEGMENTS:
        _SEGMENTS[key] = torch.tensor(indices, dtype=torch.int64).to(device)
    return _SEGMENTS[key]


def _torch_segment_moments(tensors: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenated float64 values, segment ids, per-tensor sum and sum of squares (a few kernels, any count)."""
    v = torch.cat([t.detach().reshape(-1) for t in tensors]).to(torch.float64)
    seg, num = _segments(tuple(t.numel() for t in tensors), v.device)
    zeros = torch.zeros(len(tensors), dtype=torch.float64, device=v.device)
    return v, seg, zeros.scatter_add(0, seg, v), zeros.scatter_add(0, seg, v * v)


def _torch_histograms(tensors: Sequence[torch.Tensor], bins: int) -> torch.Tensor:
    """(len(tensors), 5 + bins): the bins of ``_numpy_histogram`` for every tensor at once, on their device.

    One concatenation and segment reductions keep the kernel count constant
    (≈ 15 whatever the number of layers), and nothing is read back to the host:
    ``torch.histc`` and ``bincount`` would each synchronise to learn the range
    or the output size.
    """
    v, seg, total, total_sq = _torch_segment_moments(tensors)
    n = len(tensors)
    _, num = _segments(tuple(t.numel() for t in tensors), v.device)
    inf = torch.full((n,), math.inf, dtype=torch.float64, device=v.device)
    lo = inf.scatter_reduce(0, seg, v, "amin")
    hi = (-inf).scatter_reduce(0, seg, v, "amax")
    flat = hi == lo
    lo = torch.where(flat, lo - 0.5, lo)
    span = torch.where(flat, torch.ones_like(hi), hi - lo)
    idx = ((v - lo[seg]) * (bins / span)[seg]).to(torch.int64).clamp_(max=bins - 1) + seg * bins
    counts = torch.zeros(n * bins, dtype=torch.float64, device=v.device).scatter_add_(0, idx, torch.ones_like(v))
    return torch.cat([torch.stack([lo, lo + span, num, total, total_sq], dim=1), counts.view(n, bins)], dim=1)


def torch_stats_packed(taps: Taps, histograms: bool = True, bins: int = 30) -> torch.Tensor:
    """The packed statistics of a torch pass, left on the device (no synchronisation)."""
    f64 = torch.float64
    dev = taps.weight_grads[0].device
    wn = _torch_segment_moments(taps.weight_grads)[3].sqrt()
    present = [g for g in taps.bias_grads if g is not None]
    bn = torch.full((len(taps.bias_grads),), math.nan, dtype=f64, device=dev)
    if present:
        where = _device_index(tuple(k for k, g in enumerate(taps.bias_grads) if g is not None), dev)
        bn = bn.index_copy(0, where, _torch_segment_moments(present)[3].sqrt())
    parts = [taps.loss.to(f64).reshape(1), wn, bn]
    if taps.preact_grads:
        is_zero = torch.stack(taps.preact_grads) == 0  # (H, N, width)
        parts += [is_zero.all(dim=1).to(f64).mean(dim=1), is_zero.to(f64).mean(dim=(1, 2))]
    if histograms:
        parts.append(_torch_histograms([*taps.weight_grads, *taps.preacts, *taps.acts], bins).reshape(-1))
    return torch.cat(parts)


def to_host(packed: torch.Tensor) -> np.ndarray:
    """The one device→host copy of a logged step (the only synchronisation of the torch loop)."""
    return packed.cpu().numpy()


def torch_stats_host(taps: Taps, histograms: bool = True, bins: int = 30, on_device: bool | None = None) -> np.ndarray:
    """Packed statistics of a torch pass, on the host.

    ``on_device`` (default: whenever the tensors are not on the CPU) computes
    them with :func:`torch_stats_packed` and copies once. On the CPU there is
    no device to wait for and a tensor shares its memory with NumPy, so the
    scratch twin's NumPy code is used directly: it is several times faster
    there than torch's scatter kernels. Both give the same numbers (tested).
    """
    if on_device is None:
        on_device = taps.weight_grads[0].device.type != "cpu"
    if on_device:
        return to_host(torch_stats_packed(taps, histograms, bins))
    as_np = lambda ts: [None if t is None else t.detach().numpy() for t in ts]  # noqa: E731
    host = Taps(float(taps.loss), as_np(taps.weight_grads), as_np(taps.bias_grads), as_np(taps.preacts),
                as_np(taps.acts), as_np(taps.preact_grads))
    return numpy_stats_packed(host, histograms, bins)


def unpack_stats(packed: np.ndarray, depth: int, histograms: bool = True, bins: int = 30) -> LayerStats:
    """Read the flat vector of ``numpy_stats_packed``/``torch_stats_packed`` back into a :class:`LayerStats`."""
    p = np.asarray(packed, dtype=np.float64).reshape(-1)
    hidden = depth - 1
    expected = 1 + 2 * depth + 2 * hidden + ((depth + 2 * hidden) * (5 + bins) if histograms else 0)
    if p.size != expected:
        raise ValueError(
            f"unpack_stats: packed vector has {p.size} values, layout expects {expected} "
            f"(depth {depth}, histograms={histograms}, bins {bins})"
        )
    i = 0

    def take(n: int) -> np.ndarray:
        nonlocal i
        out = p[i : i + n]
        i += n
        return out

    loss = float(take(1)[0])
    wn, bn, dead, zero = take(depth), take(depth), take(hidden), take(hidden)
    hists: dict[str, Histogram] = {}
    if histograms:
        tags = [weight_grad_hist_tag(k) for k in range(depth)]
        tags += [preact_hist_tag(k) for k in range(hidden)] + [act_hist_tag(k) for k in range(hidden)]
        for tag in tags:
            lo, hi, num, s, ss = take(5)
            counts = take(bins)
            limits = lo + (hi - lo) * np.arange(1, bins + 1) / bins
            hists[tag] = Histogram(lo, hi, num, s, ss, limits, counts.copy())
    return LayerStats(loss, wn.copy(), bn.copy(), dead.copy(), zero.copy(), hists)


def scratch_loss() -> Any:
    from scratch.losses import CrossEntropyLoss

    return CrossEntropyLoss()


def gradient_stats(model: Any, x: Any, y: Any, histograms: bool = False, bins: int = 30) -> tuple[LayerStats, Taps]:
    """One forward/backward of either twin with cross-entropy; returns host statistics and the raw taps.

    Parameter gradients are cleared first, so ``.grad`` holds this pass only.
    """
    depth = sum(r == "linear" for r in layer_roles(model))
    if isinstance(model, torch.nn.Module):
        model.zero_grad(set_to_none=True)
        dtype = next(model.parameters()).dtype
        dev = next(model.parameters()).device
        xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x), dtype=dtype)
        yt = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y), dtype=torch.int64)
        taps = torch_pass(model, xt.to(dev), yt.to(dev), torch.nn.CrossEntropyLoss())
        packed = torch_stats_host(taps, histograms, bins)
    else:
        model.zero_grad()
        taps = scratch_pass(model, np.asarray(x), np.asarray(y), scratch_loss())
        packed = numpy_stats_packed(taps, histograms, bins)
    return unpack_stats(packed, depth, histograms, bins), taps


def single_signed_row_fraction(weight_grad: Any) -> float:
    """Fraction of rows of dL/dW whose nonzero entries all share one sign.

    For one sample dL/dW = δ·aᵀ, so if the layer's input a is all positive
    (sigmoid outputs) every row i is δᵢ·a: single-signed. With tanh inputs a
    has both signs and no row is.
    """
    g = weight_grad.detach().cpu().numpy() if isinstance(weight_grad, torch.Tensor) else np.asarray(weight_grad)
    return float(np.mean(np.all(g >= 0, axis=1) | np.all(g <= 0, axis=1)))


def write_stats(writer: EventWriter, stats: LayerStats, step: int) -> None:
    """One TensorBoard event for a logged step: loss, per-layer gradient norms (and their log10, which
    the custom-scalars chart of every layer draws on a readable scale; biases that exist), dead
    fractions and every histogram, under the tags both twins share."""
    scalars = {LOSS_TAG: stats.loss}
    scalars.update((weight_grad_norm_tag(k), v) for k, v in enumerate(stats.weight_grad_norm))
    with np.errstate(divide="ignore"):
        scalars.update((log10_grad_norm_tag(k), v) for k, v in enumerate(np.log10(stats.weight_grad_norm))
                       if np.isfinite(v))
    scalars.update((bias_grad_norm_tag(k), v) for k, v in enumerate(stats.bias_grad_norm) if np.isfinite(v))
    scalars.update((dead_fraction_tag(k), v) for k, v in enumerate(stats.dead_fraction))
    writer.write(step, scalars, stats.histograms)


__all__ = [
    "LayerStats", "LOSS_TAG", "layer_tag", "weight_grad_norm_tag", "log10_grad_norm_tag", "bias_grad_norm_tag", "dead_fraction_tag",
    "weight_grad_hist_tag", "preact_hist_tag", "act_hist_tag", "numpy_stats_packed", "torch_stats_packed",
    "torch_stats_host", "to_host", "unpack_stats", "scratch_loss", "gradient_stats",
    "single_signed_row_fraction", "write_stats",
]
