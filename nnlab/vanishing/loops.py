"""Minibatch SGD of each twin on the study's task, with statistics every ``log_every`` steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np
import torch

import scratch.layers as scratch_layers
import scratch.optim as scratch_optim
from nnlab.vanishing import stats
from nnlab.vanishing.stats import (
    LayerStats, numpy_stats_packed, scratch_loss, torch_stats_host, unpack_stats, write_stats,
)
from nnlab.vanishing.taps import layer_roles, scratch_pass, torch_pass
from nnlab.vanishing.task import Task


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
    return float(stats.to_host(loss.reshape(1))[0])


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
    depth = sum(r == "linear" for r in layer_roles(model))
    opt = scratch_optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = scratch_loss()
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
                write_stats(writer, s, step)
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
    depth = sum(r == "linear" for r in layer_roles(model))
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
                write_stats(writer, s, step)
        opt.step()
        if progress is not None:
            progress(1)
    return LoopResult(steps_logged, stats, initial, torch_train_set_loss(model, x, y, loss_fn))


__all__ = ["TwinRun", "LoopResult", "scratch_train_set_loss", "torch_train_set_loss", "logged_steps",
           "train_scratch", "train_torch"]
