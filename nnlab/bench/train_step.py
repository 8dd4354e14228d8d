"""Figure 1: one training step, scratch time over torch time on the CPU, and GFLOP/s of its big matrix products."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from nnlab.bench.settings import BenchSettings
from nnlab.bench.timing import Row, Timing, cpu_threads, make_row, progress_bar, time_pairs, time_repeats
from nnlab.runtime import available_cores
from torch_ref.module import load_scratch_state


def build_twin_models(kind: str, dtype: str, in_features: int, hidden: int, seed: int = 0):
    """Scratch and torch models with identical weights: ``Linear(in, 1)`` or
    ``Linear(in, hidden) → ReLU → Linear(hidden, 1)``. The first scratch Linear has
    ``needs_input_grad = False``: its input is data, as torch's input without
    ``requires_grad`` is."""
    import torch

    import scratch.activations as sa
    import scratch.layers as sl

    rng = np.random.default_rng(seed)
    if kind == "logistic":
        s_layers = [sl.Linear(in_features, 1, dtype=dtype, rng=rng)]
        t_layers = [torch.nn.Linear(in_features, 1)]
    elif kind == "mlp":
        s_layers = [sl.Linear(in_features, hidden, dtype=dtype, rng=rng), sa.ReLU(), sl.Linear(hidden, 1, dtype=dtype, rng=rng)]
        t_layers = [torch.nn.Linear(in_features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)]
    else:
        raise ValueError(f"model: expected 'logistic' or 'mlp', got {kind!r}")
    s_layers[0].needs_input_grad = False
    s_model = sl.Sequential(*s_layers)
    t_model = torch.nn.Sequential(*t_layers).to(getattr(torch, dtype))
    load_scratch_state(t_model, s_model)
    return s_model, t_model


def train_step_functions(kind: str, dtype: str, optimizer: str, in_features: int, hidden: int, batch: int,
                         seed: int = 0) -> tuple[Callable[[], float], Callable[[], float]]:
    """``(scratch_step, torch_step)``: zero_grad, forward, BCE-with-logits loss, backward,
    optimizer step on one fixed batch; each returns the loss. The input is shared memory."""
    import torch

    import scratch.optim as so

    rng = np.random.default_rng(seed + 1)
    x = (rng.standard_normal((batch, in_features)) * 0.5).astype(dtype)
    y = (rng.random((batch, 1)) < 0.5).astype(dtype)
    s_model, t_model = build_twin_models(kind, dtype, in_features, hidden, seed)
    lr = 1e-3 if optimizer == "SGD" else 1e-4
    s_opt = getattr(so, optimizer)(list(s_model.parameters()), lr=lr)
    t_opt = getattr(torch.optim, optimizer)(t_model.parameters(), lr=lr)
    return step_pair(s_model, s_opt, x, y, t_model, t_opt, torch.from_numpy(x), torch.from_numpy(y))


def step_pair(s_model, s_opt, x: np.ndarray, y: np.ndarray, t_model, t_opt, xt, yt
              ) -> tuple[Callable[[], float], Callable[[], float]]:
    """``(scratch_step, torch_step)`` on the fixed batch ``x, y`` (``xt, yt`` for torch): zero_grad, forward,
    BCE-with-logits loss, backward, optimizer step; each returns the loss."""
    import torch.nn.functional as F

    from scratch.losses import BCEWithLogitsLoss

    s_loss = BCEWithLogitsLoss()

    def scratch_step() -> float:
        s_opt.zero_grad()
        loss = s_loss.forward(s_model.forward(x), y)
        s_model.backward(s_loss.backward())
        s_opt.step()
        return float(loss)

    def torch_step() -> float:
        t_opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(t_model(xt), yt)
        loss.backward()
        t_opt.step()
        return float(loss.detach())

    return scratch_step, torch_step


def blas_peak_gflops(dtype: str, n: int, repeats: int, warmup: int = 1) -> Timing:
    """GFLOP/s samples of an n x n NumPy matmul (2n³ flops); their best is the practical BLAS peak."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    t = time_repeats(lambda: a @ b, repeats, warmup)
    return Timing([2 * n**3 / s / 1e9 for s in t.samples])


def matmul_gflops(dtype: str, in_features: int, hidden: int, batch: int, repeats: int, warmup: int) -> dict:
    """GFLOP/s of the first layer's two big products, as each twin computes them:
    forward Y = X Wᵀ (scratch ``Linear.forward``, torch ``F.linear``) and dW = dYᵀ X."""
    import torch
    import torch.nn.functional as F

    import scratch.layers as sl

    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, in_features)).astype(dtype)
    d = rng.standard_normal((batch, hidden)).astype(dtype)
    layer = sl.Linear(in_features, hidden, dtype=dtype, rng=rng)
    xt, dt = torch.from_numpy(x), torch.from_numpy(d)
    wt, bt = torch.from_numpy(layer.weight.data), torch.from_numpy(layer.bias.data)
    flops = 2.0 * batch * in_features * hidden
    out = {}
    for name, fn in (
        ("scratch_forward", lambda: layer.forward(x)),
        ("scratch_weight_grad", lambda: d.T @ x),
        ("torch_forward", lambda: F.linear(xt, wt, bt)),
        ("torch_weight_grad", lambda: dt.T @ xt),
    ):
        out[name] = Timing([flops / s / 1e9 for s in time_repeats(fn, repeats, warmup).samples])
    return out


def figure_train_step(s: BenchSettings, progress: bool = False) -> list[Row]:
    cores = available_cores()
    threads = sorted({cores if t == 0 else min(t, cores) for t in s.step_threads})
    dtypes, models, optimizers = ("float32", "float64"), ("logistic", "mlp"), ("SGD", "Adam")
    cases = [(t, d, m, o) for t in threads for d in dtypes for m in models for o in optimizers]
    rows: list[Row] = []
    peaks: dict = {}
    for t, dtype, kind, opt in progress_bar(cases, progress, "train step"):
        label = f"{t} thread" + ("s" if t > 1 else "")
        with cpu_threads(t):
            if (t, dtype) not in peaks:
                peaks[(t, dtype)] = blas_peak_gflops(dtype, s.peak_n, min(s.repeats, 3), 1)
                mm = matmul_gflops(dtype, s.in_features, s.hidden, s.batch, s.repeats, s.warmup)
                peak = peaks[(t, dtype)].max  # the best of the runs: a peak, not a typical run
                fwd, wgrad = mm["scratch_forward"].median, mm["scratch_weight_grad"].median
                combined = [2 / (1 / f + 1 / g) for f, g in zip(mm["scratch_forward"].samples, mm["scratch_weight_grad"].samples)]
                rows.append(make_row(
                    "train_step", f"matmuls {s.batch}x{s.in_features}·{s.in_features}x{s.hidden} {dtype}, {label}",
                    "GFLOP/s", combined,
                    detail=(f"scratch X·Wᵀ {fwd:.1f}, dYᵀ·X {wgrad:.1f}; torch {mm['torch_forward'].median:.1f}, "
                            f"{mm['torch_weight_grad'].median:.1f}; BLAS peak {peak:.1f} "
                            f"({100 * 2 / (1 / fwd + 1 / wgrad) / peak:.0f}% of it)"),
                    blas_peak_gflops=peaks[(t, dtype)].samples,
                    **{k: v.samples for k, v in mm.items()},
                ))
            scratch_step, torch_step = train_step_functions(kind, dtype, opt, s.in_features, s.hidden, s.batch)
            ls, lt = scratch_step(), torch_step()  # same weights, same batch: the same loss
            if not math.isclose(ls, lt, rel_tol=1e-3 if dtype == "float32" else 1e-9):
                raise RuntimeError(f"{kind} {dtype} {opt}: scratch loss {ls} differs from torch's {lt}; "
                                   "the two steps would not be the same work")
            once = time_pairs(scratch_step, torch_step, 1, 0)
            shortest = min(once[0].median, once[1].median)
            block = max(1, min(50, math.ceil(s.block_seconds / shortest)))  # short steps: blocks of calls
            pair_seconds = block * (once[0].median + once[1].median)
            repeats = max(s.repeats, min(50, math.ceil(s.min_case_seconds / pair_seconds)))
            ts, tt, ratios = time_pairs(scratch_step, torch_step, repeats, s.warmup, block)
        shape = f"{s.in_features}→1" if kind == "logistic" else f"{s.in_features}-{s.hidden}-1"
        rows.append(make_row(
            "train_step", f"{kind} {shape} {dtype} {opt} b{s.batch}, {label}: scratch/torch", "x", ratios,
            target="<= 1.0",
            detail=(f"scratch {1e3 * ts.median:.2f} ms, torch {1e3 * tt.median:.2f} ms per step; {repeats} pairs"
                    + (f" of {block}-step blocks" if block > 1 else "")),
            scratch_seconds=ts.samples, torch_seconds=tt.samples, threads=t,
        ))
    return rows


__all__ = [
    "build_twin_models", "train_step_functions", "step_pair", "blas_peak_gflops", "matmul_gflops", "figure_train_step",
]
