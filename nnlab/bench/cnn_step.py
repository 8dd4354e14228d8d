"""Figure 8: one CNN training step, scratch time over torch time on the CPU, its GFLOP/s, and where scratch spends it.

The dog/cat CNN (``--model cnn``: 3x3 conv blocks with BatchNorm2d, ReLU and 2x2 max-pool,
global average pooling, dropout, one logit) in float32, Adam, on one fixed batch, both
twins from the same weights with the same dropout masks. A convolution's work is
counted from its shape: one multiply-add per weight per output pixel (2 flops),
forward, dW and dX (the first layer forms no dX), so GFLOP/s = conv flops per step /
step time, comparable to the BLAS peak. The scratch step is also timed layer kind by
layer kind (conv, BatchNorm, activation, pooling): the largest share names the op that
limits it.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any, Callable

import numpy as np

from nnlab.bench.settings import BenchSettings
from nnlab.bench.timing import Row, cpu_threads, make_row, progress_bar, time_pairs
from nnlab.bench.train_step import blas_peak_gflops, step_pair
from nnlab.runtime import available_cores


def conv_flops_per_step(batch: int, image_size: int, channels: tuple) -> float:
    """Flops of the conv layers in one training step: 2·MACs for the forward, dW and (but the first) dX."""
    total, size, c_in = 0.0, image_size, 3
    for i, c_out in enumerate(channels):
        macs = batch * size * size * c_out * c_in * 9  # 3x3, padding 1: the output keeps the size
        total += 2 * macs * (2 if i == 0 else 3)
        size, c_in = size // 2, c_out
    return total


def cnn_step_functions(batch: int, image_size: int, channels: tuple, dropout: float = 0.3, dtype: str = "float32",
                       seed: int = 0) -> tuple[Callable[[], float], Callable[[], float], Any]:
    """``(scratch_step, torch_step, scratch_model)``: zero_grad, forward, BCE-with-logits, backward and an Adam
    step of the dog/cat CNN on one fixed batch; each returns the loss. torch runs channels-last, as the trainer
    does on the CPU."""
    import torch

    import scratch.optim as so
    from nnlab.dogcat.models import ModelSpec, build_scratch_model, build_torch_model

    spec = ModelSpec("cnn", (3, image_size, image_size), channels=tuple(channels), dropout=dropout)
    s_model = build_scratch_model(spec, dtype, seed=seed, dropout_rng=np.random.default_rng(seed))
    t_model = build_torch_model(spec, dtype, s_model.state_dict(), dropout_rng=np.random.default_rng(seed))
    t_model = t_model.to(memory_format=torch.channels_last)  # as the trainer runs the CNN on the CPU
    rng = np.random.default_rng(seed + 1)
    x = (rng.random((batch, 3, image_size, image_size)) - 0.5).astype(dtype)
    y = (rng.random(batch) < 0.5).astype(dtype)
    s_opt = so.Adam(list(s_model.parameters()), lr=1e-3)
    t_opt = torch.optim.Adam(t_model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x).contiguous(memory_format=torch.channels_last), torch.from_numpy(y)
    scratch_step, torch_step = step_pair(s_model, s_opt, x, y, t_model, t_opt, xt, yt)
    return scratch_step, torch_step, s_model


def scratch_time_by_layer_kind(model, step: Callable[[], float], repeats: int) -> dict:
    """Seconds per step in each block part's forward and backward (``conv.fwd``, ``bn.bwd``, …), summed over
    blocks, and ``rest`` (head, loss, optimizer); the model's layers are timed through wrappers."""
    spent: dict = defaultdict(float)
    originals = []
    for block in model.features:
        for part in ("conv", "bn", "act", "pool"):
            layer = getattr(block, part)
            for phase, name in (("fwd", "forward"), ("bwd", "backward")):
                original = getattr(layer, name)
                originals.append((layer, name))

                def timed(*args, _f=original, _key=f"{part}.{phase}", **kwargs):
                    start = time.perf_counter()
                    out = _f(*args, **kwargs)
                    spent[_key] += time.perf_counter() - start
                    return out

                object.__setattr__(layer, name, timed)
    try:
        step()  # warm-up
        spent.clear()
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        total = (time.perf_counter() - start) / repeats
    finally:
        for layer, name in originals:
            object.__delattr__(layer, name)  # back to the class's method
    shares = {k: v / repeats for k, v in spent.items()}
    shares["rest"] = total - sum(shares.values())
    return shares


def figure_cnn_step(s: BenchSettings, progress: bool = False) -> list[Row]:
    cores = available_cores()
    threads = sorted({cores if t == 0 else min(t, cores) for t in s.step_threads})
    channels, size, batch = tuple(s.cnn_channels), s.cnn_image_size, s.cnn_batch
    flops = conv_flops_per_step(batch, size, channels)
    rows: list[Row] = []
    for t in progress_bar(threads, progress, "CNN step"):
        label = f"{t} thread" + ("s" if t > 1 else "")
        with cpu_threads(t):
            peak = blas_peak_gflops("float32", s.peak_n, min(s.repeats, 3), 1).max
            scratch_step, torch_step, model = cnn_step_functions(batch, size, channels)
            ls, lt = scratch_step(), torch_step()  # same weights, masks and batch: the same loss
            if not math.isclose(ls, lt, rel_tol=1e-3):
                raise RuntimeError(f"CNN step: scratch loss {ls} differs from torch's {lt}; not the same work")
            ts, tt, ratios = time_pairs(scratch_step, torch_step, s.repeats, s.warmup)
            shares = scratch_time_by_layer_kind(model, scratch_step, max(1, min(s.repeats, 3)))
        top = sorted(shares.items(), key=lambda kv: -kv[1])[:3]
        where = ", ".join(f"{k} {1e3 * v:.0f} ms" for k, v in top)
        g_s, g_t = flops / ts.median / 1e9, flops / tt.median / 1e9
        widths = "-".join(str(c) for c in channels)
        rows.append(make_row(
            "cnn_step", f"CNN {widths} on 3x{size}x{size}, float32 Adam b{batch}, {label}: scratch/torch", "x",
            ratios, target="<= 2.0",
            detail=(f"scratch {1e3 * ts.median:.0f} ms, torch {1e3 * tt.median:.0f} ms per step; conv work "
                    f"{flops / 1e9:.2f} GFLOP/step: scratch {g_s:.1f}, torch {g_t:.1f} GFLOP/s against a BLAS peak "
                    f"of {peak:.1f} ({100 * g_s / peak:.0f}% / {100 * g_t / peak:.0f}%); scratch's largest parts: "
                    f"{where}"),
            scratch_seconds=ts.samples, torch_seconds=tt.samples, threads=t, conv_gflop_per_step=flops / 1e9,
            scratch_gflops=g_s, torch_gflops=g_t, blas_peak_gflops=peak, scratch_seconds_by_part=shares,
        ))
    return rows


__all__ = ["conv_flops_per_step", "cnn_step_functions", "scratch_time_by_layer_kind", "figure_cnn_step"]
