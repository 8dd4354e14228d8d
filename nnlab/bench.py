"""Benchmarks: the scratch twin against torch, the data pipeline, logging, tests and memory.

Seven figures, each a function returning :class:`Row` objects (median, min and max
of repeated runs, the target, whether it is met), run side by side in one process
by :func:`run_benchmark` and written as JSON with the machine's description::

    train_step    scratch/torch time of one training step on the CPU (logistic
                  30,000→1 and MLP 30,000-256-1 ReLU, batch 128, float32/float64,
                  SGD/Adam), and GFLOP/s of the two big matrix products against a
                  measured BLAS peak (a large square NumPy matmul)
    decode        first-pass JPEG → 3x100x100 uint8 decode, images per CPU-second on
                  one core and images/s on all cores, against the plain
                  Image.open(f).convert('RGB').resize((100, 100)) measured alongside
    cache_epoch   one epoch of batches from the memory-mapped uint8 cache against a
                  plain torch Dataset that decodes every JPEG each epoch
                  (DataLoader, num_workers = cores)
    gpu_epoch     logistic model, 25,000 images resident on the GPU as uint8, batch
                  128 and 1,024, eager / torch.compile / CUDA graph, against the
                  bandwidth floor (one read of the images); skipped without CUDA
    tensorboard   dog/cat trainer with weight and gradient histograms at the default
                  interval against none, end to end and as one event's cost over the
                  interval's steps; the vanishing-gradient study's own figure
    parity_suite  wall time of ``python -m pytest -q`` over the test paths
    memory        peak RSS of a subprocess training the logistic model for one
                  epoch from a 25,000-image memory-mapped cache

Timings on a machine shared with other jobs are noisy: every figure reports the
median of repeats, and comparisons (scratch against torch, draft against baseline)
are timed interleaved, pair by pair, so a burst of load hits both sides (steps of a
few milliseconds in blocks of calls, each block's median a sample).
Targets are reported, never asserted.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from torch_ref.module import load_scratch_state

REPO_ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("train_step", "decode", "cache_epoch", "gpu_epoch", "tensorboard", "parity_suite", "memory")
MODES = ("full", "quick", "tiny")
DEFAULT_OUT = Path("bench_results") / "bench.json"


# -- settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchSettings:
    """Sizes and repeat counts of one run; ``full`` is the issue's definition of each figure."""

    mode: str = "full"
    repeats: int = 5
    warmup: int = 2
    # train_step
    in_features: int = 30_000
    hidden: int = 256
    batch: int = 128
    step_threads: tuple = (1, 0)  # 0 = every available core
    min_case_seconds: float = 1.0  # a train-step case times at least this long (more pairs for short steps)
    block_seconds: float = 0.05  # steps shorter than this are timed in blocks (median of the block)
    peak_n: int = 3072
    # decode and cache_epoch
    decode_small: int = 2000  # enough work (about 2 s on one core) that pool start-up is noise
    decode_large: int = 800
    decode_repeats: int = 3
    large_size: tuple = (500, 375)
    epoch_images: int = 1000
    epoch_repeats: int = 3
    image_size: int = 100
    # gpu_epoch
    gpu_images: int = 25_000
    gpu_batches: tuple = (128, 1024)
    gpu_repeats: int = 10
    # tensorboard
    tb_steps: int = 200
    tb_steps_per_epoch: int = 157  # the 25,000-photo Kaggle set: 20,000 training images in batches of 128
    tb_hist_every: int | None = None  # None: the trainer's default
    tb_repeats: int = 5
    tb_image_size: int = 100
    vanishing: bool = True
    # parity_suite
    run_suite: bool = True
    suite_timeout: float = 900.0
    # memory
    memory_images: int = 25_000
    memory_impls: tuple = ("torch", "scratch")

    @classmethod
    def for_mode(cls, mode: str) -> "BenchSettings":
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        full = cls()
        if mode == "full":
            return full
        if mode == "quick":
            return replace(
                full, mode="quick", repeats=3, warmup=1, step_threads=(0,), min_case_seconds=0.5, decode_small=200, decode_large=100,
                decode_repeats=2, epoch_images=400, epoch_repeats=2, gpu_repeats=5, tb_repeats=2,
                run_suite=False, memory_impls=("torch",),
            )
        # tiny: every code path in seconds, for the test suite; the numbers mean nothing
        return replace(
            full, mode="tiny", repeats=1, warmup=0, min_case_seconds=0.0, in_features=300, hidden=16, batch=8, step_threads=(1,),
            peak_n=64, decode_small=6, decode_large=4, decode_repeats=1, large_size=(120, 90), epoch_images=16,
            epoch_repeats=1, image_size=16, gpu_images=512, gpu_batches=(64,), gpu_repeats=1, tb_steps=12,
            tb_steps_per_epoch=6,
            tb_hist_every=5, tb_repeats=1, tb_image_size=8, vanishing=False, run_suite=False,
            memory_images=64, memory_impls=("scratch",),  # a torch optimizer would import torch._dynamo: +2.5 s
        )


# -- rows and timing -----------------------------------------------------------------


@dataclass
class Row:
    """One line of the table. ``target`` reads like ``<= 1.0``; ``met`` is None without one."""

    figure: str
    case: str
    unit: str
    median: float | None = None
    min: float | None = None
    max: float | None = None
    repeats: int = 0
    target: str = ""
    met: bool | None = None
    skipped: bool = False
    reason: str = ""
    detail: str = ""
    extra: dict = field(default_factory=dict)


_COMPARE = {"<=": lambda v, t: v <= t, "<": lambda v, t: v < t, ">=": lambda v, t: v >= t, ">": lambda v, t: v > t}


def make_row(figure: str, case: str, unit: str, samples: Sequence[float] | None = None,
             target: str = "", detail: str = "", **extra: Any) -> Row:
    """A row from raw samples: median, min, max, and ``met`` checked on the median."""
    row = Row(figure, case, unit, target=target, detail=detail, extra=extra)
    values = [float(s) for s in (samples or []) if s is not None and math.isfinite(s)]
    if values:
        row.median, row.min, row.max = statistics.median(values), min(values), max(values)
        row.repeats = len(values)
        if target:
            op, bound = target.split()
            row.met = bool(_COMPARE[op](row.median, float(bound)))
    return row


def skipped_row(figure: str, case: str, unit: str, reason: str, target: str = "") -> Row:
    return Row(figure, case, unit, target=target, skipped=True, reason=reason)


@dataclass
class Timing:
    """Seconds of repeated runs of one thing."""

    samples: list

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)


def time_repeats(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1,
                 sync: Callable[[], Any] | None = None) -> Timing:
    """Wall-clock seconds of ``fn()``, ``warmup`` untimed calls first; ``sync`` (e.g.
    ``torch.cuda.synchronize``) runs before each clock read so queued device work counts."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(max(1, repeats)):
        if sync:
            sync()
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        samples.append(time.perf_counter() - start)
    return Timing(samples)


def time_pairs(a: Callable[[], Any], b: Callable[[], Any], repeats: int = 5,
               warmup: int = 1, block: int = 1) -> tuple[Timing, Timing, list]:
    """Time ``a`` and ``b`` alternately; returns both timings and the per-pair ratios a/b.

    With ``block`` > 1 each sample is the median of ``block`` consecutive calls: the
    first call after a switch also pays for the other library's thread pool still
    spinning on the same cores, which the median leaves out.
    """
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    for _ in range(max(1, repeats)):
        for fn, out in ((a, ta), (b, tb)):
            calls = []
            for _ in range(max(1, block)):
                start = time.perf_counter()
                fn()
                calls.append(time.perf_counter() - start)
            out.append(statistics.median(calls))
    return Timing(ta), Timing(tb), [x / y for x, y in zip(ta, tb)]


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def cpu_threads(n: int):
    """Run with ``n`` threads in NumPy's BLAS (threadpoolctl) and in torch's intra-op pool."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    with threadpool_limits(limits=n, user_api="blas"):
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def _bar(iterable, progress: bool, desc: str, total: int | None = None):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=not progress, leave=False, dynamic_ncols=True)


# -- machine description -------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _meminfo_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) * 1024 / 1e9, 1)
    except OSError:
        pass
    return None


def describe_machine() -> dict:
    """CPU model, cores, memory, BLAS in use (threadpoolctl), library versions, GPU if any, load."""
    import PIL
    import torch
    from PIL import features
    from threadpoolctl import threadpool_info

    blas = [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture", "threading_layer", "filepath")}
        for info in threadpool_info()
    ]
    torch_blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    gpu = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu = {"name": props.name, "memory_gb": round(props.total_memory / 1e9, 1),
               "cuda": torch.version.cuda, "count": torch.cuda.device_count()}
    return {
        "cpu_model": _cpu_model(),
        "cores_available": available_cores(),
        "cores_logical": os.cpu_count(),
        "memory_gb": _meminfo_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_blas": torch_blas.group(1) if torch_blas else None,
        "torch_threads": torch.get_num_threads(),
        "pillow": PIL.__version__,
        "libjpeg_turbo": bool(features.check_feature("libjpeg_turbo")),
        "threadpools": blas,
        "gpu": gpu,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


# -- figure 1: train step, scratch against torch ----------------------------------------


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
    import torch.nn.functional as F

    import scratch.optim as so
    from scratch.losses import BCEWithLogitsLoss

    rng = np.random.default_rng(seed + 1)
    x = (rng.standard_normal((batch, in_features)) * 0.5).astype(dtype)
    y = (rng.random((batch, 1)) < 0.5).astype(dtype)
    s_model, t_model = build_twin_models(kind, dtype, in_features, hidden, seed)
    lr = 1e-3 if optimizer == "SGD" else 1e-4
    s_opt = getattr(so, optimizer)(list(s_model.parameters()), lr=lr)
    t_opt = getattr(torch.optim, optimizer)(t_model.parameters(), lr=lr)
    s_loss = BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

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
    for t, dtype, kind, opt in _bar(cases, progress, "train step"):
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


# -- figure 2: first-pass decode ----------------------------------------------------------


def shared_sample() -> Path:
    from nnlab.dogcat.data import SHARED_SAMPLE

    return Path(SHARED_SAMPLE)


def _spread(items: Sequence, n: int) -> list:
    """``n`` items evenly spaced over a sorted list (both classes of a Kaggle folder)."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def sample_photos(n: int) -> list[Path]:
    """``n`` JPEGs of the shared 200x200 sample, spread over both classes; [] when it is absent."""
    root = shared_sample()
    if not root.is_dir():
        return []
    return _spread(sorted(p for p in root.iterdir() if p.suffix.lower() in (".jpg", ".jpeg")), n)


def make_large_photos(sources: Sequence[Path], folder: Path, n: int, size: tuple = (500, 375),
                      seed: int = 0) -> list[Path]:
    """``n`` JPEGs of ``size`` (quality 90) in ``folder``, Kaggle names: the ``sources``
    upscaled, or, without sources, synthetic photos from ``nnlab.dogcat.synthetic``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    if not sources:
        from nnlab.dogcat.synthetic import synthetic_dogcat

        sources = sorted(synthetic_dogcat(folder / "sources", n=n, size=max(size) // 2, seed=seed).glob("*.jpg"))
    out = []
    for i, src in enumerate(list(sources)[:n]):
        name = f"{'dog' if Path(src).name.startswith('dog') else 'cat'}.{i}.jpg"
        with Image.open(src) as img:
            big = img.convert("RGB").resize(size, Image.Resampling.BICUBIC)
        big.save(folder / f".{name}", quality=90)
        os.replace(folder / f".{name}", folder / name)
        out.append(folder / name)
    return out


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def decode_rate(paths: Sequence[Path], size: int, workers: int, method: str) -> tuple[float, float]:
    """(images per wall-clock second, images per CPU-second) of one ``decode_many`` pass."""
    from nnlab.dogcat.decode import decode_many

    cpu = _cpu_seconds()
    _, failures, seconds = decode_many([str(p) for p in paths], size=size, workers=workers, method=method)
    cpu = _cpu_seconds() - cpu
    if failures:
        raise RuntimeError(f"decode benchmark: {len(failures)} of {len(paths)} photos unreadable, e.g. {failures}")
    return len(paths) / seconds, len(paths) / max(cpu, 1e-9)


def _decode_rows(label: str, paths: Sequence[Path], s: BenchSettings, progress: bool) -> list[Row]:
    cores = available_cores()
    for p in paths:  # read once: the figures measure decoding, not a cold disk
        Path(p).read_bytes()
    base, draft, ratios, allcores = [], [], [], []
    for _ in _bar(range(s.decode_repeats), progress, f"decode {label}"):
        b = decode_rate(paths, s.image_size, 1, "baseline")
        d = decode_rate(paths, s.image_size, 1, "draft")
        a = decode_rate(paths, s.image_size, cores, "draft")
        base.append(b)
        draft.append(d)
        allcores.append(a)
        ratios.append(d[1] / b[1])
    n = len(paths)
    scaling = [a[0] / (cores * d[0]) for a, d in zip(allcores, draft)]  # wall clock over wall clock
    return [
        make_row("decode", f"{label}: baseline, 1 core ({n} photos)", "img/CPU-s", [b[1] for b in base],
                 detail=f"wall clock {statistics.median(b[0] for b in base):.0f} img/s",
                 wall_images_per_s=[b[0] for b in base]),
        make_row("decode", f"{label}: draft decode, 1 core", "img/CPU-s", [d[1] for d in draft],
                 detail=f"wall clock {statistics.median(d[0] for d in draft):.0f} img/s",
                 wall_images_per_s=[d[0] for d in draft]),
        make_row("decode", f"{label}: draft over baseline, per core", "x", ratios, target=">= 2.5",
                 detail="images per CPU-second (this process and its workers), runs interleaved"),
        make_row("decode", f"{label}: draft decode, all {cores} cores", "img/s", [a[0] for a in allcores],
                 detail=f"{cores} worker processes, wall clock, pool start-up included"),
        make_row("decode", f"{label}: scaling, {cores} cores over {cores}x one core", "x", scaling, target=">= 0.8",
                 detail="wall-clock rates; 1.0 is linear; other jobs on the machine take cores from the pool"),
    ]


def figure_decode(s: BenchSettings, progress: bool = False) -> list[Row]:
    small = sample_photos(s.decode_small)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-decode-") as tmp:
        if small:
            rows += _decode_rows("200x200 shared sample", small, s, progress)
        else:
            reason = f"the shared sample is absent (looked in {shared_sample()})"
            rows += [skipped_row("decode", "200x200 shared sample: draft over baseline, per core", "x", reason, ">= 2.5")]
        w, h = s.large_size
        sources = sample_photos(s.decode_large)
        large = make_large_photos(sources, Path(tmp) / "large", s.decode_large, s.large_size)
        what = "shared photos upscaled" if sources else "synthetic photos"
        rows += _decode_rows(f"{w}x{h} {what}", large, s, progress)
    return rows


# -- figure 3: an epoch from the cache against decoding every epoch ------------------------


class DecodingDataset:
    """A plain ``torch.utils.data.Dataset``: every item decodes its JPEG again
    (``Image.open(f).convert('RGB').resize((size, size))``) → uint8 (3, size, size), label."""

    def __init__(self, paths: Sequence[str], labels: Sequence[int], size: int = 100) -> None:
        self.paths, self.labels, self.size = list(paths), list(labels), size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        import torch
        from PIL import Image

        with Image.open(self.paths[i]) as img:
            hwc = np.asarray(img.convert("RGB").resize((self.size, self.size)))
        return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1))), int(self.labels[i])


def cache_epoch(images: np.ndarray, batch: int, seed: int, normalization=None) -> int:
    """One epoch of shuffled uint8 batches from the (memory-mapped) cache, gathered as the
    trainer's CPU path gathers them, and normalised to float32 when ``normalization`` is
    given; returns the images seen."""
    import torch

    order = np.random.default_rng(seed).permutation(len(images))
    seen = 0
    for start in range(0, len(order), batch):
        x = torch.from_numpy(np.take(images, order[start:start + batch], axis=0))
        if normalization is not None:
            x = normalization.apply_torch(x, torch.float32)
        seen += len(x)
    return seen


def decode_epoch(dataset: DecodingDataset, batch: int, workers: int, seed: int, normalization=None) -> int:
    """One epoch of uint8 batches through ``DataLoader(dataset, shuffle=True, num_workers=workers)``."""
    import torch

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                                         generator=torch.Generator().manual_seed(seed))
    seen = 0
    for x, _ in loader:
        if normalization is not None:
            x = normalization.apply_torch(x, torch.float32)
        seen += len(x)
    return seen


def figure_cache_epoch(s: BenchSettings, progress: bool = False) -> list[Row]:
    from nnlab.dogcat.data import DEFAULT_NORMALIZATION, load_dogcat
    from nnlab.dogcat.synthetic import synthetic_dogcat

    cores = available_cores()
    batch = 128
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-epoch-") as tmp:
        folder = Path(tmp) / "train"
        photos = sample_photos(s.epoch_images)
        if photos:
            folder.mkdir()
            for p in photos:
                shutil.copyfile(p, folder / p.name)
            what = "shared sample"
        else:
            synthetic_dogcat(folder, n=s.epoch_images, size=s.image_size)
            what = "synthetic photos (no shared sample)"
        start = time.perf_counter()
        data = load_dogcat(folder, size=s.image_size, cache_dir=Path(tmp) / "cache", progress=False)
        build = time.perf_counter() - start
        dataset = DecodingDataset(data.paths, data.labels, s.image_size)
        cache_epoch(data.images, batch, 10**6)  # the first pass over the map faults its pages in
        cached, decoded, ratios, normalised = [], [], [], []
        for r in _bar(range(s.epoch_repeats), progress, "epoch: cache vs decode"):
            t0 = time.perf_counter()
            n1 = cache_epoch(data.images, batch, r)
            t1 = time.perf_counter()
            n2 = decode_epoch(dataset, batch, cores, r)
            t2 = time.perf_counter()
            cache_epoch(data.images, batch, r, DEFAULT_NORMALIZATION)
            t3 = time.perf_counter()
            if n1 != n2:
                raise RuntimeError(f"epoch benchmark: cache gave {n1} images, the decoding loader {n2}")
            cached.append(t1 - t0)
            decoded.append(t2 - t1)
            ratios.append((t2 - t1) / (t1 - t0))
            normalised.append(t3 - t2)
    n = len(data)
    norm = statistics.median(normalised) - statistics.median(cached)  # the float conversion alone
    with_norm = (statistics.median(decoded) + norm) / statistics.median(normalised)
    return [
        make_row("cache_epoch", f"{n} images ({what}), batch {batch}: uint8 batches from the memory-mapped cache", "s",
                 cached, detail=f"{n / statistics.median(cached):,.0f} img/s; the cache's first pass took {build:.2f} s"),
        make_row("cache_epoch", f"uint8 batches decoding every JPEG each epoch, DataLoader num_workers={cores}", "s",
                 decoded, detail=f"{n / statistics.median(decoded):,.0f} img/s, worker start-up included"),
        make_row("cache_epoch", "epoch speed-up of the cache", "x", ratios, target=">= 50",
                 detail="per-epoch decode time over cache time, runs interleaved"),
        make_row("cache_epoch", "cache epoch with float32 normalisation (as the CPU trainer feeds the model)", "s",
                 normalised, detail=f"normalising costs {1e3 * norm:.0f} ms an epoch, the same on both sides; "
                                    f"speed-up with it counted on both sides {with_norm:.0f}x"),
    ]


# -- figure 4: GPU epoch ------------------------------------------------------------------


class GpuLogistic:
    """Logistic model on uint8 images resident on the GPU; one epoch is a device-side
    permutation, then per batch: gather, normalise, forward, BCE, backward, Adam.

    ``variant``: ``"plain"`` (eager); ``"compile"`` (``torch.compile`` of gather → loss, fused
    Adam); ``"cuda_graph"`` (each batch size's whole step captured once in a CUDA graph
    with a capturable Adam, replayed with the batch's indices copied into a static buffer).
    """

    def __init__(self, images, labels, batch: int, variant: str, normalization) -> None:
        import torch

        self.images, self.labels, self.batch, self.variant = images, labels, batch, variant
        self.normalization = normalization
        self.n = images.shape[0]
        device = images.device
        self.model = torch.nn.Linear(int(np.prod(images.shape[1:])), 1, device=device)
        if variant == "cuda_graph":
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4, capturable=True)
        else:
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4, fused=True)
        self.loss_fn = torch.compile(self._loss, dynamic=False) if variant == "compile" else self._loss
        self.graphs: dict = {}
        self.static_idx: dict = {}
        if variant == "cuda_graph":
            self._capture()

    def _loss(self, idx):
        import torch.nn.functional as F

        x = self.normalization.apply_torch(self.images.index_select(0, idx))
        logits = self.model(x.flatten(1)).squeeze(1)
        return F.binary_cross_entropy_with_logits(logits, self.labels.index_select(0, idx))

    def _sizes(self) -> list[int]:
        sizes = [min(self.batch, self.n)]
        if self.n % self.batch and self.n > self.batch:
            sizes.append(self.n % self.batch)
        return sizes

    def _capture(self) -> None:
        import torch

        device = self.images.device
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):  # warm-up outside capture: allocates .grad and Adam's state
            for size in self._sizes():
                self.static_idx[size] = torch.arange(size, device=device)
                for _ in range(3):
                    self.opt.zero_grad(set_to_none=False)
                    self._loss(self.static_idx[size]).backward()
                    self.opt.step()
        torch.cuda.current_stream(device).wait_stream(side)
        for size in self._sizes():
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self.opt.zero_grad(set_to_none=False)  # grads are static buffers, zeroed inside the graph
                self._loss(self.static_idx[size]).backward()
                self.opt.step()
            self.graphs[size] = graph

    def step(self, idx) -> None:
        if self.variant == "cuda_graph":
            self.static_idx[len(idx)].copy_(idx)
            self.graphs[len(idx)].replay()
            return
        self.opt.zero_grad(set_to_none=True)
        self.loss_fn(idx).backward()
        self.opt.step()

    def epoch(self) -> None:
        import torch

        order = torch.randperm(self.n, device=self.images.device)
        for start in range(0, self.n, self.batch):
            self.step(order[start:start + self.batch])


def cuda_event_timing(fn: Callable[[], Any], repeats: int, warmup: int) -> Timing:
    """Seconds of ``fn`` between two CUDA events on the current stream, after warm-up."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(max(1, repeats)):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / 1e3)
    return Timing(samples)


GPU_VARIANTS = ("plain", "compile", "cuda_graph")


def figure_gpu_epoch(s: BenchSettings, progress: bool = False) -> list[Row]:
    import torch

    from nnlab.dogcat.data import DEFAULT_NORMALIZATION

    cases = [(b, v) for b in s.gpu_batches for v in GPU_VARIANTS]
    mb = s.gpu_images * 3 * s.image_size**2 / 1e6
    floor_case = f"bandwidth floor: one read of {s.gpu_images:,} uint8 images ({mb:.0f} MB)"

    def target(b):
        return "<= 20" if b == 1024 else ""

    if not torch.cuda.is_available():
        reason = f"no CUDA device (torch {torch.__version__}: torch.cuda.is_available() is False)"
        return [skipped_row("gpu_epoch", floor_case, "ms", reason)] + [
            skipped_row("gpu_epoch", f"logistic, {s.gpu_images:,} images, batch {b}, {v}", "ms/epoch", reason, target(b))
            for b, v in cases
        ]
    device = torch.device("cuda")
    gen = torch.Generator(device=device).manual_seed(0)
    shape = (s.gpu_images, 3, s.image_size, s.image_size)
    images = torch.randint(0, 256, shape, dtype=torch.uint8, device=device, generator=gen)
    labels = torch.randint(0, 2, (s.gpu_images,), device=device, generator=gen).float()
    flat = images.reshape(-1)
    words = flat[: flat.numel() // 8 * 8].view(torch.int64)
    floor = cuda_event_timing(lambda: words.sum(), s.gpu_repeats, 3)
    rows = [make_row("gpu_epoch", floor_case, "ms", [1e3 * t for t in floor.samples],
                     detail=f"{flat.numel() / floor.median / 1e9:.0f} GB/s read; {torch.cuda.get_device_name(0)}")]
    for b, v in _bar(cases, progress, "GPU epoch"):
        case = f"logistic, {s.gpu_images:,} images, batch {b}, {v}"
        try:
            runner = GpuLogistic(images, labels, b, v, DEFAULT_NORMALIZATION)
            t = cuda_event_timing(runner.epoch, s.gpu_repeats, 2)  # warm-up epochs include compilation
        except Exception as error:  # e.g. no Triton for torch.compile: report it, time the other variants
            row = make_row("gpu_epoch", case, "ms/epoch", [], target=target(b))
            row.reason = f"failed: {type(error).__name__}: {str(error)[:300]}"
            rows.append(row)
            continue
        rows.append(make_row(
            "gpu_epoch", case, "ms/epoch", [1e3 * x for x in t.samples],
            target=target(b),
            detail=f"{t.median / floor.median:.1f}x the bandwidth floor, {flat.numel() / t.median / 1e9:.0f} GB/s of images",
            floor_ratio=[x / floor.median for x in t.samples],
        ))
        del runner
    return rows


# -- figure 5: TensorBoard overhead -------------------------------------------------------


def _trainer_run(images: np.ndarray, labels: np.ndarray, steps: int, epochs: int, logdir: Path, tensorboard: bool,
                 hist_every: int) -> float:
    """Seconds of the dog/cat trainer (torch twin, CPU, logistic, batch 128) for ``epochs``
    epochs, stopped after ``steps`` optimizer steps."""
    from nnlab.dogcat.train import ArrayData, TrainConfig, train

    config = TrainConfig(model="logistic", impl="torch", device="cpu", epochs=epochs, max_steps=steps, batch_size=128,
                         image_size=images.shape[-1], tensorboard=tensorboard, hist_every=hist_every,
                         logdir=str(logdir), progress=False)
    start = time.perf_counter()
    train(config, data=ArrayData(images, labels, "benchmark images"), log=lambda msg: None)
    return time.perf_counter() - start


def histogram_event_seconds(image_size: int, logdir: Path, repeats: int) -> Timing:
    """One histogram logging event of the trainer: weights and gradients of the logistic model."""
    import torch

    from nnlab.dogcat.models import ModelSpec, build_torch_model
    from nnlab.dogcat.tensorboard_log import TensorBoardLogger

    model = build_torch_model(ModelSpec("logistic", (3, image_size, image_size)), "float32")
    model(torch.zeros(2, 3, image_size, image_size)).sum().backward()
    logger = TensorBoardLogger(str(logdir), 1)
    step = iter(range(10**9))

    def event():
        i = next(step)
        logger.histograms([(n, p.detach()) for n, p in model.named_parameters()], i, "weights")
        logger.histograms([(n, p.grad) for n, p in model.named_parameters()], i, "grads")

    try:
        return time_repeats(event, repeats, 1)
    finally:
        logger.close()


def _spread_pct(samples: Sequence[float]) -> str:
    """Half the range of ``samples`` as a percentage of their median, e.g. ``±7%``."""
    return f"±{50 * (max(samples) - min(samples)) / statistics.median(samples):.0f}%"


def figure_tensorboard(s: BenchSettings, progress: bool = False) -> list[Row]:
    from nnlab.dogcat.train import TrainConfig

    hist_every = s.tb_hist_every or TrainConfig().hist_every
    size, batch = s.tb_image_size, 128
    epochs = -(-s.tb_steps // s.tb_steps_per_epoch)
    n = int(math.ceil(s.tb_steps_per_epoch * batch / (1 - TrainConfig().val_fraction)))
    rng = np.random.default_rng(0)
    pool = rng.integers(0, 256, (min(n, 512), 3, size, size), dtype=np.uint8)
    images = pool[np.arange(n) % len(pool)]  # contiguous, as the cache's memory map is
    labels = rng.integers(0, 2, n)
    none, scalars, full = [], [], []
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-tb-") as tmp:
        _trainer_run(images, labels, 2, 1, Path(tmp) / "warm-up", True, 1)  # imports and first-call costs
        for r in _bar(range(s.tb_repeats), progress, "TensorBoard overhead"):
            none.append(_trainer_run(images, labels, s.tb_steps, epochs, Path(tmp) / f"none{r}", False, 0))
            scalars.append(_trainer_run(images, labels, s.tb_steps, epochs, Path(tmp) / f"scalars{r}", True, 0))
            full.append(_trainer_run(images, labels, s.tb_steps, epochs, Path(tmp) / f"hist{r}", True, hist_every))
        event = histogram_event_seconds(size, Path(tmp) / "event", max(3, s.tb_repeats))
    step_seconds = statistics.median(none) / s.tb_steps
    events = s.tb_steps // hist_every
    plural = "s" if events != 1 else ""
    rows = [
        make_row("tensorboard", f"dog/cat trainer, histograms every {hist_every} steps vs none (scalars only)", "%",
                 [100 * (f / c - 1) for f, c in zip(full, scalars)], target="<= 5",
                 detail=f"{s.tb_steps} steps of the logistic model (torch, CPU), {n:,} images ({s.tb_steps_per_epoch} "
                        f"steps an epoch, as the Kaggle set's 25,000): {statistics.median(scalars):.2f} s without "
                        f"histograms, {statistics.median(full):.2f} s with {events} histogram event{plural}; "
                        f"runs interleaved; wall-clock noise between runs {_spread_pct(scalars)} dwarfs the effect, "
                        f"the direct measurement below does not",
                 seconds_no_tensorboard=none, seconds_scalars=scalars, seconds_histograms=full),
        make_row("tensorboard", f"one histogram event over {hist_every} steps' time (measured directly)", "%",
                 [100 * e / (hist_every * step_seconds) for e in event.samples], target="<= 5",
                 detail=f"an event (weights and gradients) takes {1e3 * event.median:.1f} ms, a step "
                        f"{1e3 * step_seconds:.1f} ms (run time over steps)"),
        make_row("tensorboard", "all TensorBoard logging (scalars, end-of-epoch images and PR curve, histograms) "
                 "vs TensorBoard off", "%", [100 * (f / o - 1) for f, o in zip(full, none)],
                 detail=f"{statistics.median(none):.2f} s off, {statistics.median(full):.2f} s on; fixed costs "
                        f"(event file, per-epoch images) weigh more in this short run than in a 15-epoch one"),
    ]
    if s.vanishing:
        rows += _vanishing_rows(s)
    return rows


def _vanishing_rows(s: BenchSettings) -> list[Row]:
    try:
        from nnlab.vanishing import measure_logging_overhead
    except ImportError as error:
        return [skipped_row("tensorboard", "vanishing study: histograms vs no logging", "%",
                            f"nnlab.vanishing provides no measure_logging_overhead ({error})", "<= 5")]
    rows = []
    for impl in ("torch", "scratch"):
        runs = [measure_logging_overhead(impl=impl, repeats=1) for _ in range(s.tb_repeats)]
        every = int(runs[0].get("log_every", 0))
        rows.append(make_row(
            "tensorboard", f"vanishing study ({impl}), histograms every {every} steps vs no logging", "%",
            [100 * r["total_overhead"] for r in runs], target="<= 5",
            detail=f"nnlab.vanishing.measure_logging_overhead; vs scalars only "
                   f"{100 * statistics.median(r['histogram_overhead'] for r in runs):+.1f}%",
            runs=runs,
        ))
    return rows


# -- figure 6: parity suite wall time -------------------------------------------------------


def test_paths() -> list[str]:
    """The ``testpaths`` of pyproject.toml (``parity_tests``)."""
    try:
        import tomllib

        config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
        paths = config["tool"]["pytest"]["ini_options"]["testpaths"]
        return [str(p) for p in paths]
    except (ImportError, OSError, KeyError):
        return ["parity_tests"]


def figure_parity_suite(s: BenchSettings, progress: bool = False) -> list[Row]:
    paths = test_paths()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths]
    case = f"python -m pytest -q {' '.join(paths)}, {available_cores()} cores"
    if not s.run_suite:
        return [skipped_row("parity_suite", case, "s", f"not run in --{s.mode} mode (the full run measures it)", "< 60")]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=s.suite_timeout)
    except subprocess.TimeoutExpired:
        row = make_row("parity_suite", case, "s", [], target="< 60")
        row.met, row.reason = False, f"timed out after {s.suite_timeout:.0f} s"
        return [row]
    seconds = time.perf_counter() - start
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed)", done.stdout)}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or done.stdout.strip().splitlines()[-1:]
    row = make_row("parity_suite", case, "s", [seconds], target="< 60", detail=f"{summary}; exit status {done.returncode}",
                   counts=counts, returncode=done.returncode)
    if done.returncode != 0:
        row.reason = "the suite did not pass: " + "; ".join(done.stdout.strip().splitlines()[-3:])
    return [row]


# -- figure 7: peak RSS training from a memory-mapped cache -----------------------------------


def write_synthetic_cache(folder: Path, n: int, size: int = 100, chunk: int = 500, seed: int = 0) -> tuple[Path, Path]:
    """An ``(n, 3, size, size)`` uint8 ``.npy`` and its ``.json`` in the dog/cat cache format
    (``nnlab.dogcat.cache``), written chunk by chunk so at most ``chunk`` images are in memory."""
    from nnlab.dogcat.cache import CACHE_FORMAT

    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"dogcat-synthetic-{size}px-n{n}"
    rng = np.random.default_rng(seed)
    block = rng.integers(0, 256, (min(chunk, n), 3, size, size), dtype=np.uint8)
    npy = stem.with_suffix(".npy")
    with open(npy, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (n, 3, size, size)})
        for start in range(0, n, len(block)):
            f.write(block[: min(len(block), n - start)].tobytes())
    labels = (np.arange(n) % 2).tolist()
    meta = {
        "format": CACHE_FORMAT, "key": f"synthetic-n{n}", "decoder": "synthetic", "size": size, "layout": "synthetic",
        "root": str(folder), "npy_bytes": npy.stat().st_size,
        "paths": [f"{'dog' if y else 'cat'}.{i}.jpg" for i, y in enumerate(labels)], "labels": labels, "skipped": [],
    }
    stem.with_suffix(".json").write_text(json.dumps(meta))
    return npy, stem.with_suffix(".json")


def _proc_status_kb() -> dict:
    out = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "VmPeak"):
                out[key] = int(value.split()[0])
    return out


def memory_child(request_json: str) -> None:
    """Run in a subprocess: one epoch of the trainer from the memory-mapped cache, then print
    the process's peak RSS as one JSON line (VmHWM from /proc/self/status, ru_maxrss)."""
    from nnlab.dogcat.train import ArrayData, TrainConfig, train

    request = json.loads(request_json)
    images = np.load(request["npy"], mmap_mode="r")  # how nnlab.dogcat.cache opens the cache
    labels = np.asarray(json.loads(Path(request["json"]).read_text())["labels"], dtype=np.int64)
    before = _proc_status_kb()
    peaks = {"RssAnon": 0, "RssFile": 0}
    done = threading.Event()

    def sample() -> None:  # VmHWM has no per-kind peak: poll the kinds of resident memory
        while not done.wait(0.02):
            now = _proc_status_kb()
            for key in peaks:
                peaks[key] = max(peaks[key], now.get(key, 0))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    config = TrainConfig(model="logistic", impl=request["impl"], device="cpu", epochs=1, batch_size=128,
                         image_size=images.shape[-1], tensorboard=False, logdir=request["logdir"], progress=False)
    start = time.perf_counter()
    result = train(config, data=ArrayData(images, labels, "synthetic memory-mapped cache"), log=lambda msg: None)
    done.set()
    sampler.join()
    status = _proc_status_kb()
    print(json.dumps({
        "seconds": time.perf_counter() - start, "steps": result.global_step, "status_kb": status,
        "status_before_training_kb": before, "sampled_peak_kb": peaks,
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


def figure_memory(s: BenchSettings, progress: bool = False) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-memory-") as tmp:
        npy, meta = write_synthetic_cache(Path(tmp) / "cache", s.memory_images, s.image_size)
        gb = npy.stat().st_size / 1e9
        for impl in _bar(s.memory_impls, progress, "peak RSS"):
            request = json.dumps({"npy": str(npy), "json": str(meta), "impl": impl, "logdir": str(Path(tmp) / impl)})
            code = "import sys; from nnlab.bench import memory_child; memory_child(sys.argv[1])"
            done = subprocess.run([sys.executable, "-c", code, request], cwd=REPO_ROOT, capture_output=True,
                                  text=True, timeout=1200)
            if done.returncode != 0:
                raise RuntimeError(f"memory child ({impl}) failed: {done.stderr.strip()[-2000:]}")
            report = json.loads(done.stdout.strip().splitlines()[-1])
            status = report["status_kb"]
            peak_kb = status.get("VmHWM", report["ru_maxrss_kb"])
            start_kb = report["status_before_training_kb"].get("VmRSS", 0)
            rows.append(make_row(
                "memory", f"logistic ({impl}), one epoch from a {s.memory_images:,}-image cache ({gb:.2f} GB memory-mapped)",
                "GB", [peak_kb * 1024 / 1e9], target="< 1.2",
                detail=(f"peak RSS (VmHWM); {start_kb * 1024 / 1e9:.2f} GB before training; peaks sampled every "
                        f"20 ms: {report['sampled_peak_kb']['RssAnon'] * 1024 / 1e9:.2f} GB private (anonymous), "
                        f"{report['sampled_peak_kb']['RssFile'] * 1024 / 1e9:.2f} GB file pages (the map and "
                        f"libraries); {report['steps']} steps in {report['seconds']:.1f} s"),
                **report,
            ))
    return rows


FIGURE_FUNCTIONS: dict[str, Callable[[BenchSettings, bool], list[Row]]] = {
    "train_step": figure_train_step,
    "decode": figure_decode,
    "cache_epoch": figure_cache_epoch,
    "gpu_epoch": figure_gpu_epoch,
    "tensorboard": figure_tensorboard,
    "parity_suite": figure_parity_suite,
    "memory": figure_memory,
}


# -- running, table, JSON -----------------------------------------------------------------


def run_benchmark(mode: str = "full", only: Iterable[str] | None = None, progress: bool = True,
                  settings: BenchSettings | None = None, command: str = "") -> dict:
    """Run the selected figures (all by default) and return the JSON-able result.

    Every figure appears in ``result["figures"]``: measured, skipped (with the reason) or
    failed (with the error); one failing figure does not stop the others.
    """
    from tqdm.auto import tqdm

    settings = settings or BenchSettings.for_mode(mode)
    selected = list(FIGURES) if not only else list(only)
    unknown = [f for f in selected if f not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; expected some of {list(FIGURES)}")
    started = time.time()
    result = {
        "command": command,
        "mode": settings.mode,
        "settings": asdict(settings),
        "machine": describe_machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "figures": {},
    }
    bar = tqdm(FIGURES, desc="benchmark", disable=not progress, dynamic_ncols=True)
    for name in bar:
        bar.set_postfix_str(name)
        if name not in selected:
            result["figures"][name] = {"skipped": True, "reason": "not selected (--only)", "rows": [], "seconds": 0.0}
            continue
        start = time.perf_counter()
        entry: dict = {"skipped": False, "reason": "", "rows": []}
        try:
            rows = FIGURE_FUNCTIONS[name](settings, progress)
            entry["rows"] = [asdict(r) for r in rows]
            if rows and all(r.skipped for r in rows):
                entry["skipped"], entry["reason"] = True, rows[0].reason
        except Exception as error:  # report it and go on with the other figures
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = traceback.format_exc()
        entry["seconds"] = time.perf_counter() - start
        result["figures"][name] = entry
    result["seconds"] = time.time() - started
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return result


def write_json(result: dict, path: str | os.PathLike) -> Path:
    """Write ``result`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=1, default=_json_default)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if magnitude >= 0.01 else f"{value:.2g}"


def table_rows(result: dict) -> list[list[str]]:
    """Rows of text: figure, case, median, min, max, unit, target, met, detail."""
    out = []
    for name, entry in result["figures"].items():
        if entry.get("error"):
            out.append([name, "FAILED", "-", "-", "-", "", "", "error", entry["error"]])
            continue
        if not entry["rows"]:
            out.append([name, "(not run)", "-", "-", "-", "", "", "skipped", entry.get("reason", "")])
            continue
        for r in entry["rows"]:
            met = "skipped" if r["skipped"] else ("" if r["met"] is None else ("yes" if r["met"] else "NO"))
            if not r["skipped"] and r["median"] is None and r["met"] is False:
                met = "NO"
            detail = r["reason"] if r["skipped"] else "; ".join(x for x in (r["detail"], r["reason"]) if x)
            out.append([name, r["case"], _fmt(r["median"]), _fmt(r["min"]), _fmt(r["max"]), r["unit"],
                        r["target"], met, detail])
    return out


HEADER = ["figure", "case", "median", "min", "max", "unit", "target", "met", "detail"]


def format_table(result: dict, markdown: bool = False) -> str:
    """The table as aligned text, or as a Markdown table (``markdown=True``) for the README."""
    rows = table_rows(result)
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows + [HEADER]) for i in range(len(HEADER) - 1)]
    right = {2, 3, 4}
    lines = []
    for row in [HEADER] + rows:
        cells = [row[i].rjust(widths[i]) if i in right else row[i].ljust(widths[i]) for i in range(len(HEADER) - 1)]
        lines.append("  ".join(cells) + ("  " + row[-1] if row[-1] else ""))
    lines.insert(1, "-" * min(200, len(lines[0])))
    return "\n".join(lines)


def summary_line(result: dict) -> str:
    m = result["machine"]
    blas = ", ".join(f"{t['internal_api']} {t.get('version') or ''} x{t['num_threads']}".strip() for t in m["threadpools"])
    gpu = m["gpu"]["name"] if m["gpu"] else "no GPU"
    return (f"{m['cpu_model']}, {m['cores_available']} cores, {m['memory_gb']} GB; numpy {m['numpy']} ({blas}); "
            f"torch {m['torch']} ({m['torch_blas']}, {m['torch_threads']} threads); {gpu}; load average "
            f"{m['load_average']} → {result.get('load_average_end')}; {result['seconds']:.0f} s in all")


__all__ = [
    "FIGURES", "MODES", "DEFAULT_OUT", "BenchSettings", "Row", "Timing", "make_row", "skipped_row",
    "time_repeats", "time_pairs", "cpu_threads", "describe_machine", "run_benchmark", "write_json",
    "format_table", "summary_line", "build_twin_models", "train_step_functions", "write_synthetic_cache",
    "memory_child", "DecodingDataset", "GpuLogistic",
] + [f"figure_{name}" for name in FIGURES]
