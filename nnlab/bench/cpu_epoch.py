"""Figure 9: an epoch on the CPU end to end, beside the bare training step of the same model.

An epoch is what the trainer does between two evaluations: a permutation of the
25,000 images of a memory-mapped uint8 cache, and for every batch of 128 its rows read
from the file, normalized to float32 and one optimizer step (the logistic model and
the MLP 30,000-256-1, Adam, each twin on its own as ``--impl scratch`` or ``--impl
torch`` runs it: :class:`~nnlab.dogcat.twins.ScratchTwin`,
:class:`~nnlab.dogcat.twins.TorchTwin` with the host :class:`~nnlab.dogcat.feeder.BatchFeeder`).
The bare step is ``train_step``'s: one fixed batch already in memory, so images/s of
the epoch over images/s of the bare step is the share of the epoch spent training.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from nnlab.bench.memory import write_synthetic_cache
from nnlab.bench.settings import BenchSettings
from nnlab.bench.timing import Row, cpu_threads, make_row, progress_bar, time_repeats
from nnlab.bench.train_step import train_step_functions
from nnlab.runtime import available_cores

#: (twin, model) → target images/s (the logistic model only), and torch's epoch over scratch's.
TARGETS = {("scratch", "logistic"): ">= 30000", ("torch", "logistic"): ">= 25000"}
TORCH_OVER_SCRATCH = "<= 1.3"


def make_twin(impl: str, kind: str, images: np.ndarray, labels: np.ndarray, hidden: int, prefetch: bool = True):
    """A twin as the trainer builds it (float32, Adam lr 1e-4, seed 0) on ``images``, with its own feeder."""
    import torch

    from nnlab.dogcat.cache import BatchReader
    from nnlab.dogcat.feeder import BatchFeeder
    from nnlab.dogcat.models import ModelSpec, initial_state_dict
    from nnlab.dogcat.normalization import DEFAULT_NORMALIZATION
    from nnlab.dogcat.twins import ScratchTwin, TorchTwin

    spec = ModelSpec(kind, tuple(images.shape[1:]), hidden=(hidden,) if kind == "mlp" else ())
    reader = BatchReader(images)
    feeder = BatchFeeder(reader, DEFAULT_NORMALIZATION, np.float32, prefetch=prefetch)
    kw = dict(dtype="float32", optimizer=("Adam", {"lr": 1e-4}), feeder=feeder)
    init = initial_state_dict(spec, 0, "float32")
    if impl == "torch":
        return TorchTwin(spec, init, reader, labels, DEFAULT_NORMALIZATION, device=torch.device("cpu"), **kw)
    return ScratchTwin(spec, init, reader, labels, DEFAULT_NORMALIZATION, **kw)


def run_epoch(twin, n: int, batch: int, seed: int) -> float:
    """One epoch of ``twin`` over a seeded permutation of ``n`` images; returns its mean training loss."""
    order = np.random.default_rng(seed).permutation(n)
    twin.set_epoch_order(order)
    twin.set_sums([0.0, 0.0, 0.0])
    for start in range(0, n, batch):
        twin.train_step(start, min(start + batch, n))
    loss_sum, _, seen = twin.read_sums()  # torch: the one sync of the epoch
    return loss_sum / seen


def figure_cpu_epoch(s: BenchSettings, progress: bool = False) -> list[Row]:
    """The logistic model at each of ``cpu_epoch_threads`` (the step's threads; the feeder's workers take every
    core), the MLP at every core."""
    cores = available_cores()
    counts = sorted({cores if t == 0 else min(t, cores) for t in s.cpu_epoch_threads})
    cases = [(kind, t) for kind in s.cpu_epoch_models for t in (counts if kind == "logistic" else [cores])]
    batch, n = s.batch, s.cpu_epoch_images
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-cpu-epoch-") as tmp:
        npy, meta = write_synthetic_cache(Path(tmp) / "cache", n, s.image_size)
        images = np.load(npy, mmap_mode="r")  # how the trainer opens its cache
        labels = (np.arange(n) % 2).astype(np.int64)
        in_features = int(np.prod(images.shape[1:]))
        for kind, threads in progress_bar(cases, progress, "CPU epoch"):
            with cpu_threads(threads):
                rows += _epochs_of(kind, threads, images, labels, in_features, s)
    return rows


def _epochs_of(kind: str, threads: int, images, labels, in_features: int, s: BenchSettings) -> list[Row]:
    """Both twins' epochs of ``kind`` alternating, their bare steps, and torch's time over scratch's."""
    batch, n = s.batch, len(images)
    twins = {impl: make_twin(impl, kind, images, labels, s.hidden) for impl in ("scratch", "torch")}
    for twin in twins.values():
        run_epoch(twin, n, batch, seed=10**6)  # warm-up: the file's pages, the buffers, the threads
    epochs: dict = {impl: [] for impl in twins}
    losses = {}
    for r in range(s.cpu_epoch_repeats):  # the twins alternate epoch by epoch: the ratios are paired
        for impl, twin in twins.items():
            start = time.perf_counter()
            losses[impl] = run_epoch(twin, n, batch, seed=r)
            epochs[impl].append(time.perf_counter() - start)
    rows = []
    label = f"{threads} thread{'s' if threads > 1 else ''}"
    for impl, twin in twins.items():
        twin.feeder.close()
        plain = make_twin(impl, kind, images, labels, s.hidden, prefetch=False)
        start = time.perf_counter()
        run_epoch(plain, n, batch, seed=0)
        unprepared = time.perf_counter() - start
        steps = train_step_functions(kind, "float32", "Adam", in_features, s.hidden, batch)
        step = time_repeats(steps[0] if impl == "scratch" else steps[1], s.repeats, s.warmup)
        samples = epochs[impl]
        rate, bare = [n / t for t in samples], batch / step.median
        shape = f"{in_features:,}→1" if kind == "logistic" else f"{in_features:,}-{s.hidden}-1"
        rows.append(make_row(
            "cpu_epoch", f"end-to-end epoch, {kind} {shape} float32 Adam b{batch}, {impl}, {label}: {n:,} images "
                         "read, normalized, trained",
            "img/s", rate, target=TARGETS.get((impl, kind), ""),
            detail=(f"{statistics.median(samples):.2f} s an epoch; bare step {bare:,.0f} img/s "
                    f"({1e3 * step.median:.2f} ms), so the epoch runs at {statistics.median(rate) / bare:.0%} of it; "
                    f"without the background batch {n / unprepared:,.0f} img/s; loss {losses[impl]:.4f}"),
            epoch_seconds=samples, bare_step_seconds=step.samples, unprepared_epoch_seconds=unprepared,
            threads=threads, load_average=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        ))
    ratios = [t / c for t, c in zip(epochs["torch"], epochs["scratch"])]
    rows.append(make_row("cpu_epoch", f"end-to-end epoch, {kind}, {label}: torch's time over scratch's", "x", ratios,
                         target=TORCH_OVER_SCRATCH if kind == "logistic" else "",
                         detail="epoch by epoch, the twins alternating"))
    return rows


__all__ = ["TARGETS", "make_twin", "run_epoch", "figure_cpu_epoch"]
