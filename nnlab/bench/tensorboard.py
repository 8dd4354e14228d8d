"""Figure 5: what TensorBoard logging costs the dog/cat trainer and the vanishing-gradient study."""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from nnlab.bench.settings import BenchSettings
from nnlab.bench.timing import Row, Timing, make_row, progress_bar, time_repeats


def _trainer_run(images: np.ndarray, labels: np.ndarray, steps: int, epochs: int, logdir: Path, tensorboard: bool,
                 hist_every: int) -> float:
    """Seconds of the dog/cat trainer (torch twin, CPU, logistic, batch 128) for ``epochs``
    epochs, stopped after ``steps`` optimizer steps."""
    from nnlab.dogcat.config import TrainConfig
    from nnlab.dogcat.data import ArrayData
    from nnlab.dogcat.train import train

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
    from nnlab.dogcat.config import TrainConfig
    from nnlab.dogcat.tensorboard_log import default_hist_every

    hist_every = s.tb_hist_every or default_hist_every(s.tb_steps_per_epoch)
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
        for r in progress_bar(range(s.tb_repeats), progress, "TensorBoard overhead"):
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
    from nnlab.vanishing.overhead import measure_logging_overhead

    rows = []
    for impl in ("torch", "scratch"):
        runs = [measure_logging_overhead(impl=impl, repeats=1) for _ in range(s.tb_repeats)]
        every = int(runs[0].get("log_every", 0))
        rows.append(make_row(
            "tensorboard", f"vanishing study ({impl}), histograms every {every} steps vs no logging", "%",
            [100 * r["total_overhead"] for r in runs], target="<= 5",
            detail=f"nnlab.vanishing.measure_logging_overhead; vs scalars only "
                   f"{100 * statistics.median(r['histogram_overhead'] for r in runs):+.1f}%; the depth-profile "
                   f"image {1e3 * statistics.median(r['seconds_depth_profile'] for r in runs):.1f} ms a logged step "
                   f"(half counted for each twin)",
            runs=runs,
        ))
    return rows


__all__ = ["histogram_event_seconds", "figure_tensorboard"]
