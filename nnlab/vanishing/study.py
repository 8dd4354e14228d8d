"""The study: every configuration, both twins from identical weights on the same minibatches,
TensorBoard runs ``<logdir>/<impl>/<config.name>``, each ending with the depth profile of both
twins at every logged step (:mod:`nnlab.vanishing.profile`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from nnlab.tensorboard import EventWriter
from nnlab.vanishing.config import IMPLEMENTATIONS, MLPConfig, StudySettings
from nnlab.vanishing.loops import TwinRun, train_scratch, train_torch
from nnlab.vanishing.networks import twin_mlps
from nnlab.vanishing.profile import write_depth_profiles
from nnlab.vanishing.task import Task, make_synthetic_task, minibatch_schedule


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
    writers = {impl: EventWriter(Path(logdir) / f"{impl}/{config.name}") for impl in implementations} if logdir else {}
    try:
        for impl in implementations:
            train = train_scratch if impl == "scratch" else train_torch
            model = scratch_model if impl == "scratch" else torch_model
            t0 = time.perf_counter()
            loop = train(
                model, task, schedule, lr=settings.lr, momentum=settings.momentum, log_every=settings.log_every,
                histograms=settings.histograms, writer=writers.get(impl), bins=settings.bins, progress=progress,
            )
            runs[impl] = TwinRun(impl, f"{impl}/{config.name}", loop.logged_steps, loop.stats, loop.initial_loss,
                                 loop.final_loss, time.perf_counter() - t0)
        if writers:  # once both twins have run: each image shows the two
            write_depth_profiles(writers, {impl: (r.logged_steps, r.stats) for impl, r in runs.items()}, config.name)
    finally:
        for writer in writers.values():
            writer.close()
    return ConfigResult(config, runs)


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


__all__ = ["ConfigResult", "run_config", "run_study"]
