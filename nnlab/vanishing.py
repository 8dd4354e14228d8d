"""Vanishing gradients, measured: one deep MLP, built twice from identical weights.

The story in numbers. Backpropagation through a hidden layer multiplies the
upstream gradient by ``Wᵀ diag(f'(z))``. For a width-n layer with i.i.d.
weights of variance v, E‖Wᵀ diag(f') δ‖² = n·v·E[f'²]·‖δ‖², so each layer
scales the gradient by about

    r = √(n·v) · rms(f'(z)).

* Sigmoid, torch's default init: v = 1/(3n) and f' = σ(1−σ) ≤ 1/4, so
  r ≤ (1/4)·√(1/3) ≈ 0.144. Between the first and the last width×width
  hidden layer of a depth-10 MLP lie 7 such factors: 0.144⁷ ≈ 1.3·10⁻⁶.
  The first layers do not learn.
* Sigmoid outputs are all positive: for one sample the weight gradient of
  the next layer is dL/dW = δ·aᵀ with a > 0, so every row has one sign and
  gradient descent can only move a neuron's incoming weights all up or all
  down (the zigzag).
* ReLU has f' ∈ {0, 1}; He init v = 2/n makes n·v·E[f'²] = 2·½ = 1, so r ≈ 1.
  A unit whose pre-activation is negative for every sample has zero gradient
  for good (dead ReLU); LeakyReLU keeps a small slope and never a zero.
* BatchNorm rescales every pre-activation to unit variance, and its backward
  divides by the same standard deviation, so r ≈ rms(f')/std(f(ẑ)) ≈ 1 for
  any init.

The module builds the MLP (``Linear → [BatchNorm1d] → activation`` blocks,
then a ``Linear`` head) with ``scratch`` and loads its ``state_dict`` into
the ``torch`` twin, trains both on the same minibatches of a fixed synthetic
task (or of the dog/cat photos, :func:`load_dogcat_task`), and records per
layer (counted from 1 in tags and plots): weight and bias gradient norms, histograms of
weight gradients, pre-activations and activations, and the fraction of dead
units. Both twins write the same TensorBoard tags into runs named
``scratch/<config>`` and ``torch/<config>`` (e.g. ``torch/sigmoid-d10-default``),
so TensorBoard overlays them.

On CUDA nothing leaves the device between logged steps: statistics and
histograms are computed on the device and copied to the host in one transfer
per logged step (:func:`_to_host`), so there is no host synchronisation on
the other steps.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import numpy as np
import torch

import scratch.init as scratch_init
import scratch.layers as scratch_layers
import scratch.mlp as scratch_mlp
import scratch.optim as scratch_optim
import torch_ref.mlp as torch_mlp
from torch_ref.module import load_scratch_state

# ---------------------------------------------------------------------------
# configurations
# ---------------------------------------------------------------------------

#: activation name (as ``scratch.mlp`` / ``torch_ref.mlp`` know it) → the
#: nonlinearity whose gain torch's ``calculate_gain`` uses for it. torch knows no
#: ELU/GELU/SiLU gain; like ReLU they pass about half of a symmetric input's
#: second moment, so they take ReLU's gain √2.
ACTIVATIONS: dict[str, str] = {
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "elu": "relu",
    "gelu": "relu",
    "silu": "relu",
}
#: ``default``: torch's Linear init U(±1/√fan_in); ``xavier``: Glorot uniform;
#: ``he``: Kaiming uniform (fan_in); both with torch's gain for the activation.
INITS = ("default", "xavier", "he")
IMPLEMENTATIONS = ("scratch", "torch")


@dataclass(frozen=True)
class MLPConfig:
    """One network of the study: ``depth`` Linear layers, ``depth − 1`` of them hidden.

    Layout: Linear(in, width) → [BN] → f, then (depth − 2) × [Linear(width,
    width) → [BN] → f], then Linear(width, out). With BatchNorm the Linear
    layers before it carry no bias (BN's β replaces it).
    """

    activation: str = "sigmoid"
    init: str = "default"
    batchnorm: bool = False
    depth: int = 10
    width: int = 128

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {self.init!r}")
        if self.depth < 2 or self.width < 1:
            raise ValueError(f"depth must be ≥ 2 and width ≥ 1, got depth={self.depth}, width={self.width}")

    @property
    def name(self) -> str:
        """Run name without the implementation, e.g. ``sigmoid-d10-default`` or ``sigmoid-d10-default-bn``."""
        return f"{self.activation}-d{self.depth}-{self.init}" + ("-bn" if self.batchnorm else "")


#: The default study: sigmoid, tanh and ReLU with torch's default init and with
#: the init made for them, BatchNorm repairing sigmoid, and the ReLU variants
#: with He init.
DEFAULT_CONFIGS: tuple[tuple[str, str, bool], ...] = (
    ("sigmoid", "default", False),
    ("sigmoid", "xavier", False),
    ("sigmoid", "default", True),
    ("tanh", "default", False),
    ("tanh", "xavier", False),
    ("relu", "default", False),
    ("relu", "he", False),
    ("leaky_relu", "he", False),
    ("elu", "he", False),
    ("gelu", "he", False),
    ("silu", "he", False),
)


def default_configs(depth: int = 10, width: int = 128) -> list[MLPConfig]:
    return [MLPConfig(a, i, bn, depth, width) for a, i, bn in DEFAULT_CONFIGS]


# ---------------------------------------------------------------------------
# the twins
# ---------------------------------------------------------------------------


def _sizes(config: MLPConfig, in_features: int, out_features: int) -> list[int]:
    return [in_features] + [config.width] * (config.depth - 1) + [out_features]


def build_scratch_mlp(
    config: MLPConfig,
    in_features: int,
    out_features: int,
    dtype: Any = np.float64,
    rng: np.random.Generator | int | None = 0,
) -> scratch_layers.Sequential:
    """``scratch.mlp.mlp`` of the config's layout, then each Linear initialized by ``config.init``."""
    rng = scratch_layers._rng(rng)
    model = scratch_mlp.mlp(_sizes(config, in_features, out_features), config.activation, config.batchnorm,
                            dtype=dtype, rng=rng)
    linears = [m for m in model if isinstance(m, scratch_layers.Linear)]
    for linear in linears[:-1]:
        scratch_init.init_linear_(linear, config.init, ACTIVATIONS[config.activation], rng=rng)
    scratch_init.init_linear_(linears[-1], config.init, "linear", rng=rng)
    return model


def build_torch_mlp(config: MLPConfig, in_features: int, out_features: int) -> torch.nn.Sequential:
    """``torch_ref.mlp.mlp`` of the same layout and ``state_dict`` keys (weights still torch's random ones)."""
    return torch_mlp.mlp(_sizes(config, in_features, out_features), config.activation, config.batchnorm)


def twin_mlps(
    config: MLPConfig,
    in_features: int,
    out_features: int,
    dtype: Any = np.float64,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tuple[scratch_layers.Sequential, torch.nn.Sequential]:
    """Both twins from identical weights: build scratch, load its ``state_dict`` into torch."""
    scratch_model = build_scratch_mlp(config, in_features, out_features, dtype, np.random.default_rng(seed))
    torch_model = build_torch_mlp(config, in_features, out_features).to(_torch_dtype(dtype))
    load_scratch_state(torch_model, scratch_model)
    return scratch_model, torch_model.to(device)


def shift_hidden_biases_(model: Any, shift: float) -> Any:
    """Add ``shift`` to the bias of every hidden Linear (not the head); both twins.

    A strongly negative shift pushes every pre-activation below 0: the setup
    of the dying-ReLU experiment.
    """
    linears = [m for m in model if isinstance(m, (scratch_layers.Linear, torch.nn.Linear))][:-1]
    for layer in linears:
        if layer.bias is None:
            raise ValueError("shift_hidden_biases_: the hidden Linear layers have no bias (BatchNorm model?)")
        if isinstance(layer, torch.nn.Linear):
            with torch.no_grad():
                layer.bias.add_(shift)
        else:
            layer.bias.data = layer.bias.data + shift
    return model


def _torch_dtype(dtype: Any) -> torch.dtype:
    return {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[np.dtype(dtype)]


# ---------------------------------------------------------------------------
# the task
# ---------------------------------------------------------------------------


@dataclass
class Task:
    """A classification data set: ``x`` (N, in_features) float, ``y`` (N,) int64 class indices."""

    name: str
    x: np.ndarray
    y: np.ndarray
    n_classes: int

    @property
    def in_features(self) -> int:
        return self.x.shape[1]


def make_synthetic_task(
    n_samples: int = 2048, in_features: int = 32, n_classes: int = 4, seed: int = 0, dtype: Any = np.float64
) -> Task:
    """A fixed teacher–student task: x ~ N(0, I), y = argmax V·tanh(U x / √in · 2).

    A random two-layer tanh teacher makes the labels a smooth nonlinear
    function of x that an MLP can learn; the seed fixes everything.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, in_features))
    u = rng.standard_normal((in_features, 64)) * (2.0 / math.sqrt(in_features))
    v = rng.standard_normal((64, n_classes))
    y = np.argmax(np.tanh(x @ u) @ v, axis=1).astype(np.int64)
    return Task(f"synthetic-{in_features}d-{n_classes}c", x.astype(dtype), y, n_classes)


def dogcat_task_available() -> bool:
    """True when ``nnlab.dogcat.data.load_dogcat`` exists (the dog/cat cache input)."""
    try:
        from nnlab.dogcat import data
    except ImportError:
        return False
    return hasattr(data, "load_dogcat")


def load_dogcat_task(
    data_root: str | Path | None = None,
    n_samples: int = 2048,
    pool: int = 5,
    seed: int = 0,
    dtype: Any = np.float64,
    progress: bool = True,
) -> tuple[Task, str]:
    """The dog/cat photos as a flat two-class task, through the project's decoded-image cache.

    ``nnlab.dogcat.data.resolve_data_root`` picks the folder (``data_root``,
    ``$DOGCAT_DATA``, or the shared sample; with none of them, synthetic
    images, and the returned line says so). ``load_dogcat`` gives uint8
    (N, 3, 100, 100) from its cache; a random class-balanced-by-chance subset
    of ``n_samples`` photos is normalised, average-pooled ``pool``×``pool``
    (100 px → 20 px) and flattened to 3·20·20 = 1200 features. Label 1 = dog.
    Returns the task and the line naming the data source.
    """
    from nnlab.dogcat.data import DEFAULT_NORMALIZATION, load_dogcat, resolve_data_root, synthetic_dogcat

    root, source = resolve_data_root(data_root)
    if root is None:
        root = synthetic_dogcat(None)
    data = load_dogcat(root, progress=progress)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.permutation(len(data))[: min(n_samples, len(data))])
    x = DEFAULT_NORMALIZATION.apply_numpy(np.asarray(data.images[pick]), dtype=np.float64)
    n, c, h, w = x.shape
    if h % pool or w % pool:
        raise ValueError(f"load_dogcat_task: pool {pool} must divide the image size {h}×{w}")
    x = x.reshape(n, c, h // pool, pool, w // pool, pool).mean(axis=(3, 5)).reshape(n, -1)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)  # feature-wise standardisation, like the synthetic x ~ N(0, I)
    return Task(f"dogcat-{h // pool}px", x.astype(dtype), data.labels[pick].astype(np.int64), 2), source


def minibatch_schedule(n_samples: int, batch_size: int, steps: int, seed: int = 0) -> np.ndarray:
    """(steps, batch_size) sample indices: epochs of fresh permutations, shared by both twins."""
    if batch_size > n_samples:
        raise ValueError(f"batch_size {batch_size} exceeds the {n_samples} samples of the task")
    rng = np.random.default_rng(seed)
    per_epoch = n_samples // batch_size
    epochs = -(-steps // per_epoch)
    rows = [rng.permutation(n_samples)[: per_epoch * batch_size].reshape(per_epoch, batch_size) for _ in range(epochs)]
    return np.concatenate(rows)[:steps]


# ---------------------------------------------------------------------------
# one forward/backward with taps, and its statistics
# ---------------------------------------------------------------------------


@dataclass
class Histogram:
    """One histogram as TensorBoard stores it: ``bucket_limits`` are right edges."""

    min: float
    max: float
    num: float
    sum: float
    sum_squares: float
    bucket_limits: np.ndarray
    bucket_counts: np.ndarray


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


@dataclass
class Taps:
    """What one pass exposes, in the twin's own array type (ndarray or device tensor)."""

    loss: Any
    weight_grads: list
    bias_grads: list
    preacts: list
    acts: list
    preact_grads: list


def layer_tag(k: int) -> str:
    """Tag part of the Linear layer with 0-based index ``k``; tags count from 1 (``layer_01`` is next to the input)."""
    return f"layer_{k + 1:02d}"


#: TensorBoard tags, identical for both twins.
LOSS_TAG = "loss/train"


def weight_grad_norm_tag(k: int) -> str:
    return f"grad_norm/weight/{layer_tag(k)}"


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


def _roles(model: Iterable) -> list[str]:
    roles = []
    for m in model:
        if isinstance(m, (scratch_layers.Linear, torch.nn.Linear)):
            roles.append("linear")
        elif isinstance(m, (scratch_layers.BatchNorm1d, torch.nn.BatchNorm1d)):
            roles.append("norm")
        else:
            roles.append("act")
    return roles


def scratch_pass(model: scratch_layers.Sequential, x: np.ndarray, y: np.ndarray, loss_fn: Any, record: bool = True) -> Taps:
    """Forward, loss and backward of the scratch twin, keeping each activation's input and output.

    Gradients accumulate into the parameters' ``.grad`` (call ``zero_grad`` first).
    """
    mods = list(model)
    roles = _roles(mods)
    preacts, acts, dzs = [], [], []
    h = x
    for m, role in zip(mods, roles):
        if record and role == "act":
            preacts.append(h)
        h = m.forward(h)
        if record and role == "act":
            acts.append(h)
    loss = loss_fn.forward(h, y)
    d = loss_fn.backward()
    for m, role in zip(reversed(mods), reversed(roles)):
        d = m.backward(d)
        if record and role == "act":
            dzs.append(d)
    linears = [m for m, r in zip(mods, roles) if r == "linear"]
    return Taps(
        loss,
        [m.weight.grad for m in linears],
        [None if m.bias is None else m.bias.grad for m in linears],
        preacts,
        acts,
        dzs[::-1],
    )


def torch_pass(model: torch.nn.Sequential, x: torch.Tensor, y: torch.Tensor, loss_fn: Any, record: bool = True) -> Taps:
    """Forward, loss and ``loss.backward()`` of the torch twin; activation inputs keep their ``.grad``."""
    mods = list(model)
    roles = _roles(mods)
    preacts, acts = [], []
    h = x
    for m, role in zip(mods, roles):
        if record and role == "act":
            h.retain_grad()
            preacts.append(h)
        h = m(h)
        if record and role == "act":
            acts.append(h)
    loss = loss_fn(h, y)
    loss.backward()
    linears = [m for m, r in zip(mods, roles) if r == "linear"]
    return Taps(
        loss.detach(),
        [m.weight.grad for m in linears],
        [None if m.bias is None else m.bias.grad for m in linears],
        [p.detach() for p in preacts],
        [a.detach() for a in acts],
        [p.grad for p in preacts],
    )


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
    t = v - lo
    t *= bins / span
    idx = t.astype(np.int64)  # truncation = floor, t ≥ 0
    np.minimum(idx, bins - 1, out=idx)
    counts = np.bincount(idx, minlength=bins).astype(np.float64)
    return np.concatenate([[lo, lo + span, v.size, v.sum(), v @ v], counts])


def numpy_stats_packed(taps: Taps, histograms: bool = True, bins: int = 30) -> np.ndarray:
    """The packed statistics of a scratch pass (see ``unpack_stats``)."""
    wn = [np.linalg.norm(g) for g in taps.weight_grads]
    bn = [np.nan if g is None else np.linalg.norm(g) for g in taps.bias_grads]
    dead = [np.mean(np.all(dz == 0, axis=0)) for dz in taps.preact_grads]
    zero = [np.mean(dz == 0) for dz in taps.preact_grads]
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


def _to_host(packed: torch.Tensor) -> np.ndarray:
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
        return _to_host(torch_stats_packed(taps, histograms, bins))
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


def _scratch_loss() -> Any:
    from scratch.losses import CrossEntropyLoss

    return CrossEntropyLoss()


def gradient_stats(model: Any, x: Any, y: Any, histograms: bool = False, bins: int = 30) -> tuple[LayerStats, Taps]:
    """One forward/backward of either twin with cross-entropy; returns host statistics and the raw taps.

    Parameter gradients are cleared first, so ``.grad`` holds this pass only.
    """
    depth = sum(r == "linear" for r in _roles(model))
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
        taps = scratch_pass(model, np.asarray(x), np.asarray(y), _scratch_loss())
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


# ---------------------------------------------------------------------------
# training and logging
# ---------------------------------------------------------------------------


@dataclass
class TwinRun:
    """One twin trained on one configuration."""

    impl: str
    run_name: str
    logged_steps: list[int]
    stats: list[LayerStats]
    initial_loss: float
    final_loss: float
    seconds: float

    @property
    def initial(self) -> LayerStats:
        """Statistics of step 0, taken at initialization (before the first update)."""
        return self.stats[0]


class LoopResult(NamedTuple):
    """What a training loop returns: the logged steps and their statistics, and the
    training-set loss before the first and after the last update."""

    logged_steps: list[int]
    stats: list[LayerStats]
    initial_loss: float
    final_loss: float


def scratch_train_set_loss(model: scratch_layers.Sequential, task: Task, loss_fn: Any) -> float:
    """Cross-entropy on the whole training set in training mode (BatchNorm uses the set's
    own statistics); the running buffers it touches are restored afterwards."""
    state = model.state_dict()
    model.train()
    loss = float(loss_fn.forward(model.forward(task.x), task.y))
    model.load_state_dict(state)
    return loss


@torch.no_grad()
def torch_train_set_loss(model: torch.nn.Sequential, x: torch.Tensor, y: torch.Tensor, loss_fn: Any) -> float:
    """The torch twin of :func:`scratch_train_set_loss` (one host copy)."""
    buffers = [b.clone() for b in model.buffers()]
    model.train()
    loss = loss_fn(model(x), y)
    for b, saved in zip(model.buffers(), buffers):
        b.copy_(saved)
    return float(_to_host(loss.reshape(1))[0])


class EventWriter:
    """A TensorBoard event file for one run; each logged step is one event holding every tag.

    Built on the ``tensorboard`` package's own event-file writer (no torch
    needed for the scratch twin). One event per step instead of one per tag
    keeps the cost of writing ~60 tags per step to a single protobuf.
    """

    def __init__(self, logdir: str | Path) -> None:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        Path(logdir).mkdir(parents=True, exist_ok=True)
        self._writer = EventFileWriter(str(logdir))

    def write(self, stats: LayerStats, step: int) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary

        values = [Summary.Value(tag=LOSS_TAG, simple_value=stats.loss)]
        values += [Summary.Value(tag=weight_grad_norm_tag(k), simple_value=v) for k, v in enumerate(stats.weight_grad_norm)]
        values += [
            Summary.Value(tag=bias_grad_norm_tag(k), simple_value=v)
            for k, v in enumerate(stats.bias_grad_norm)
            if np.isfinite(v)
        ]
        values += [Summary.Value(tag=dead_fraction_tag(k), simple_value=v) for k, v in enumerate(stats.dead_fraction)]
        for tag, h in stats.histograms.items():
            proto = HistogramProto(
                min=h.min, max=h.max, num=h.num, sum=h.sum, sum_squares=h.sum_squares,
                bucket_limit=h.bucket_limits.tolist(), bucket=h.bucket_counts.tolist(),
            )
            values.append(Summary.Value(tag=tag, histo=proto))
        self._writer.add_event(Event(wall_time=time.time(), step=int(step), summary=Summary(value=values)))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "EventWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def logged_steps(steps: int, log_every: int) -> list[int]:
    """Steps whose statistics are logged: 0, log_every, 2·log_every, … below ``steps``."""
    return list(range(0, steps, log_every)) if log_every > 0 else []


def train_scratch(
    model: scratch_layers.Sequential,
    task: Task,
    schedule: np.ndarray,
    *,
    lr: float,
    momentum: float,
    log_every: int,
    histograms: bool = True,
    writer: Any = None,
    bins: int = 30,
    progress: Callable[[int], None] | None = None,
) -> LoopResult:
    """Minibatch SGD on the scratch twin; statistics every ``log_every`` steps (before the update)."""
    depth = sum(r == "linear" for r in _roles(model))
    opt = scratch_optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = _scratch_loss()
    initial = scratch_train_set_loss(model, task, loss_fn)
    model.train()
    steps_logged, stats = [], []
    for step, idx in enumerate(schedule):
        record = log_every > 0 and step % log_every == 0
        opt.zero_grad()
        taps = scratch_pass(model, task.x[idx], task.y[idx], loss_fn, record=record)
        if record:
            s = unpack_stats(numpy_stats_packed(taps, histograms, bins), depth, histograms, bins)
            steps_logged.append(step)
            stats.append(s)
            if writer is not None:
                writer.write(s, step)
        opt.step()
        if progress is not None:
            progress(1)
    return LoopResult(steps_logged, stats, initial, scratch_train_set_loss(model, task, loss_fn))


def train_torch(
    model: torch.nn.Sequential,
    task: Task,
    schedule: np.ndarray,
    *,
    lr: float,
    momentum: float,
    log_every: int,
    histograms: bool = True,
    writer: Any = None,
    bins: int = 30,
    progress: Callable[[int], None] | None = None,
    stats_on_device: bool | None = None,
) -> LoopResult:
    """The same loop with torch; the data and the schedule live on the model's device.

    Between logged steps nothing is read back: the loss stays a device
    tensor, and on a logged step the statistics are computed on the device
    and copied once (``stats_on_device``, see :func:`torch_stats_host`).
    """
    depth = sum(r == "linear" for r in _roles(model))
    p0 = next(model.parameters())
    x = torch.as_tensor(task.x, dtype=p0.dtype).to(p0.device)
    y = torch.as_tensor(task.y, dtype=torch.int64).to(p0.device)
    sched = torch.as_tensor(schedule, dtype=torch.int64).to(p0.device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    initial = torch_train_set_loss(model, x, y, loss_fn)
    model.train()
    steps_logged, stats = [], []
    for step in range(sched.shape[0]):
        idx = sched[step]
        record = log_every > 0 and step % log_every == 0
        opt.zero_grad(set_to_none=True)
        taps = torch_pass(model, x[idx], y[idx], loss_fn, record=record)
        if record:
            s = unpack_stats(torch_stats_host(taps, histograms, bins, stats_on_device), depth, histograms, bins)
            steps_logged.append(step)
            stats.append(s)
            if writer is not None:
                writer.write(s, step)
        opt.step()
        if progress is not None:
            progress(1)
    return LoopResult(steps_logged, stats, initial, torch_train_set_loss(model, x, y, loss_fn))


@dataclass
class StudySettings:
    """Everything but the network: task size, optimization and logging."""

    steps: int = 50
    batch_size: int = 256
    lr: float = 0.05
    momentum: float = 0.9
    log_every: int = 20
    histograms: bool = True
    bins: int = 30
    dtype: Any = np.float64
    seed: int = 0
    n_samples: int = 2048
    in_features: int = 32
    n_classes: int = 4


@dataclass
class ConfigResult:
    """Both twins of one configuration."""

    config: MLPConfig
    runs: dict[str, TwinRun]


def run_config(
    config: MLPConfig,
    task: Task,
    settings: StudySettings,
    *,
    implementations: Sequence[str] = IMPLEMENTATIONS,
    device: str | torch.device = "cpu",
    logdir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ConfigResult:
    """Train every requested twin of ``config`` from identical weights on the same minibatches."""
    for impl in implementations:
        if impl not in IMPLEMENTATIONS:
            raise ValueError(f"implementation: expected one of {IMPLEMENTATIONS}, got {impl!r}")
    schedule = minibatch_schedule(task.x.shape[0], settings.batch_size, settings.steps, settings.seed)
    x = task.x.astype(settings.dtype, copy=False)
    task = Task(task.name, x, task.y, task.n_classes)
    scratch_model, torch_model = twin_mlps(config, task.in_features, task.n_classes, settings.dtype, settings.seed, device)
    runs: dict[str, TwinRun] = {}
    for impl in implementations:
        run_name = f"{impl}/{config.name}"
        writer = EventWriter(Path(logdir) / run_name) if logdir is not None else None
        train = train_scratch if impl == "scratch" else train_torch
        model = scratch_model if impl == "scratch" else torch_model
        t0 = time.perf_counter()
        try:
            loop = train(
                model, task, schedule, lr=settings.lr, momentum=settings.momentum, log_every=settings.log_every,
                histograms=settings.histograms, writer=writer, bins=settings.bins, progress=progress,
            )
        finally:
            if writer is not None:
                writer.close()
        runs[impl] = TwinRun(impl, run_name, loop.logged_steps, loop.stats, loop.initial_loss, loop.final_loss,
                             time.perf_counter() - t0)
    return ConfigResult(config, runs)


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error that says so."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: torch sees no CUDA device here; use --device cpu or auto")
    return torch.device(device)


def run_study(
    configs: Sequence[MLPConfig],
    settings: StudySettings | None = None,
    *,
    task: Task | None = None,
    implementations: Sequence[str] = IMPLEMENTATIONS,
    device: str | torch.device = "cpu",
    logdir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ConfigResult]:
    """Every configuration, both twins; TensorBoard runs ``<logdir>/<impl>/<config.name>``."""
    settings = settings or StudySettings()
    if task is None:
        task = make_synthetic_task(settings.n_samples, settings.in_features, settings.n_classes, settings.seed)
    return [
        run_config(c, task, settings, implementations=implementations, device=device, logdir=logdir, progress=progress)
        for c in configs
    ]


# ---------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------


def format_table(results: Sequence[ConfigResult], steps: int) -> str:
    """Markdown table: per configuration, the weight-gradient norm of the first
    width×width hidden layer (layer 2) over that of the last (layer depth − 1) at
    initialization, and the loss on the whole training set before training and
    after ``steps`` SGD steps."""
    impls = [i for i in IMPLEMENTATIONS if all(i in r.runs for r in results)]
    depth = results[0].config.depth if results else 10
    ratio = f"‖∇W₂‖/‖∇W{_subscript(depth - 1)}‖"  # layers counted from 1, as in the tags and the plot
    head = ["activation", "init", "BN"] + [f"{ratio} ({i})" for i in impls] + ["loss @0"]
    head += [f"loss @{steps} ({i})" for i in impls]
    rows = []
    for r in results:
        c = r.config
        first = r.runs[impls[0]]
        row = [c.activation, c.init, "yes" if c.batchnorm else "no"]
        row += [f"{r.runs[i].initial.first_last_ratio:.2e}" for i in impls]
        row += [f"{first.initial_loss:.3f}"] + [f"{r.runs[i].final_loss:.3f}" for i in impls]
        rows.append(row)
    widths = [max(len(h), *(len(row[j]) for row in rows)) if rows else len(h) for j, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule] + [line(row) for row in rows])


def _subscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def plot_grad_norms(results: Sequence[ConfigResult], path: str | Path, impl: str = "torch") -> Path:
    """PNG: weight-gradient norm at initialization against layer index, one line per configuration, log y."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    styles = {"sigmoid": "-", "tanh": "--"}
    for r in results:
        run = r.runs.get(impl) or next(iter(r.runs.values()))
        norms = run.initial.weight_grad_norm
        ax.plot(
            np.arange(1, len(norms) + 1), np.maximum(norms, np.finfo(np.float64).tiny), marker="o", markersize=3,
            linestyle=styles.get(r.config.activation, "-."), label=r.config.name,
        )
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("‖dL/dW‖ at initialization")
    depth = results[0].config.depth if results else 0
    ax.set_xticks(np.arange(1, depth + 1))
    ax.set_title(f"Per-layer weight-gradient norm, depth-{depth} MLP ({impl})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------
# logging overhead
# ---------------------------------------------------------------------------


def measure_logging_overhead(
    config: MLPConfig | None = None,
    settings: StudySettings | None = None,
    *,
    impl: str = "torch",
    device: str | torch.device = "cpu",
    repeats: int = 30,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Cost of logging every ``settings.log_every`` steps, relative to training without it.

    Three kinds of training step are timed, interleaved, ``repeats`` times
    each, keeping the fastest (the least disturbed by other processes):

    * ``plain``: forward, backward, optimizer step;
    * ``scalars``: the same, recording the taps, computing loss, gradient
      norms and dead fractions, one host copy, and writing the scalars;
    * ``full``: ``scalars`` plus the histograms of weight gradients,
      pre-activations and activations.

    A run logs one step in ``log_every``, so its overhead is
    ``(t_logged − t_plain) / (log_every · t_plain)``. Returns the seconds per
    step, ``total_overhead`` (``full`` against ``plain``) and
    ``histogram_overhead`` (``full`` against ``scalars``). On CUDA every timed
    step is bracketed by ``torch.cuda.synchronize()``; on CPU the clock is
    the process CPU time, with torch and BLAS limited to ``threads`` threads
    for the measurement (restored afterwards). Writing goes to a temporary
    TensorBoard folder. Reproduce the figure quoted in the README with::

        python -c "from nnlab.vanishing import measure_logging_overhead as m; print(m(impl='torch')); print(m(impl='scratch'))"
    """
    if threads is not None:
        from threadpoolctl import threadpool_limits

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with threadpool_limits(threads):
                return measure_logging_overhead(config, settings, impl=impl, device=device, repeats=repeats, threads=None)
        finally:
            torch.set_num_threads(previous)

    config = config or MLPConfig()
    settings = settings or StudySettings()
    device = torch.device(device)
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"impl: expected one of {IMPLEMENTATIONS}, got {impl!r}")
    task = make_synthetic_task(settings.n_samples, settings.in_features, settings.n_classes, settings.seed, settings.dtype)
    idx = minibatch_schedule(task.x.shape[0], settings.batch_size, 1, settings.seed)[0]
    scratch_model, torch_model = twin_mlps(config, task.in_features, task.n_classes, settings.dtype, settings.seed, device)
    depth = config.depth
    lr = settings.lr * 1e-3  # keep the weights (nearly) where they are while timing
    if impl == "torch":
        model = torch_model
        x = torch.as_tensor(task.x[idx]).to(device)
        y = torch.as_tensor(task.y[idx]).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=settings.momentum)
        loss_fn = torch.nn.CrossEntropyLoss()

        def one_step(logged: bool, histograms: bool, writer: Any) -> None:
            opt.zero_grad(set_to_none=True)
            taps = torch_pass(model, x, y, loss_fn, record=logged)
            if logged:
                packed = torch_stats_host(taps, histograms, settings.bins)
                writer.write(unpack_stats(packed, depth, histograms, settings.bins), 0)
            opt.step()
    else:
        model = scratch_model
        x, y = task.x[idx], task.y[idx]
        opt = scratch_optim.SGD(model.parameters(), lr=lr, momentum=settings.momentum)
        loss_fn = _scratch_loss()

        def one_step(logged: bool, histograms: bool, writer: Any) -> None:
            opt.zero_grad()
            taps = scratch_pass(model, x, y, loss_fn, record=logged)
            if logged:
                packed = numpy_stats_packed(taps, histograms, settings.bins)
                writer.write(unpack_stats(packed, depth, histograms, settings.bins), 0)
            opt.step()

    # CPU: process CPU time, which a busy shared machine disturbs far less than
    # wall time (the loop is single-threaded under set_num_threads(1) and
    # threadpool_limits(1)); CUDA: wall time between synchronisations.
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    variants = {"plain": (False, False), "scalars": (True, False), "full": (True, True)}
    best = {name: math.inf for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        writer = EventWriter(tmp)
        try:
            for name, (logged, hist) in variants.items():  # warm-up
                one_step(logged, hist, writer)
            for _ in range(repeats):
                for name, (logged, hist) in variants.items():
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    t0 = clock()
                    one_step(logged, hist, writer)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    best[name] = min(best[name], clock() - t0)
        finally:
            writer.close()
    n = settings.log_every
    return {
        "impl": impl,
        "device": str(device),
        "log_every": n,
        "clock": "wall" if device.type == "cuda" else "process CPU time",
        "seconds_plain_step": best["plain"],
        "seconds_logged_step_scalars": best["scalars"],
        "seconds_logged_step_full": best["full"],
        "total_overhead": (best["full"] - best["plain"]) / (n * best["plain"]),
        "histogram_overhead": (best["full"] - best["scalars"]) / (n * best["plain"]),
    }
