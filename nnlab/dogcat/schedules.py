"""The learning-rate schedule and gradient clipping of a run, built alike for both twins.

A :class:`SchedulePlan` is plain data computed once from the settings and the number
of steps per epoch; :func:`build_scheduler` turns it into scheduler objects of either
twin's module (``scratch.lr_scheduler`` or ``torch_ref.lr_scheduler``, the same class
names and arguments), so both twins follow the same rates step for step:

- ``none``: the rate stays at ``lr``;
- ``step``: multiplied by γ every ``step_epochs`` epochs;
- ``cosine``: η_t = ½·lr·(1 + cos(π·t/T)) over the run's T steps, down to 0;
- ``onecycle``: torch's OneCycleLR with ``max_lr = lr``: from lr/25 up to lr over the first
  30 % of the steps, then down to lr/(25·10⁴), cycling momentum or Adam's β₁ inversely
  where the optimizer uses them;
- ``plateau``: multiplied by γ when the validation loss has not improved for
  ``patience`` epochs (stepped once per epoch, the others after every optimizer step).

Warm-up (``none``, ``step``, ``cosine``): the rate rises linearly from lr/10 to lr over the
first W steps (``LinearLR``), then the schedule runs over the remaining steps
(``SequentialLR``).

Clipping rescales the gradients of all parameters together to a total L2 norm of at
most ``max_norm`` (``clip_grad_norm_``), after backward and before ``optimizer.step()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

SCHEDULERS = ("none", "step", "cosine", "onecycle", "plateau")
WARMUP_START_FACTOR = 0.1


@dataclass(frozen=True)
class SchedulePlan:
    """What to build: ``kind`` of :data:`SCHEDULERS`, over ``total_steps``, after ``warmup_steps``."""

    kind: str = "none"
    total_steps: int = 1
    warmup_steps: int = 0
    step_size: int = 1  # steps between two decays of ``step``
    gamma: float = 0.1
    patience: int = 2

    @property
    def per_epoch(self) -> bool:
        """True for ReduceLROnPlateau, stepped on the validation loss at each epoch's end."""
        return self.kind == "plateau"

    @classmethod
    def from_settings(cls, kind: str, epochs: int, steps_per_epoch: int, warmup_epochs: float = 0.0,
                      step_epochs: int = 10, gamma: float = 0.1, patience: int = 2) -> "SchedulePlan":
        if kind not in SCHEDULERS:
            raise ValueError(f"scheduler: expected one of {SCHEDULERS}, got {kind!r}")
        total = max(1, int(epochs) * int(steps_per_epoch))
        warmup = int(round(float(warmup_epochs) * steps_per_epoch))
        if warmup and kind in ("onecycle", "plateau"):
            raise ValueError(f"--warmup-epochs works with --scheduler none, step or cosine; {kind} "
                             + ("warms up by itself" if kind == "onecycle" else "cannot follow a warm-up"))
        if warmup >= total and kind != "none":
            raise ValueError(f"--warmup-epochs {warmup_epochs:g} leaves no steps of the {kind} schedule "
                             f"({total} steps in {epochs} epochs)")
        return cls(kind, total, warmup, max(1, int(step_epochs) * int(steps_per_epoch)), float(gamma), int(patience))


def build_scheduler(lr_scheduler: ModuleType, optimizer: Any, plan: SchedulePlan) -> Any:
    """The plan's scheduler for ``optimizer``, from ``lr_scheduler`` (either twin's module); None for ``none``
    without warm-up."""
    main_steps = plan.total_steps - plan.warmup_steps
    if plan.kind == "onecycle":
        defaults = optimizer.defaults
        cycle = bool(defaults.get("momentum")) or "betas" in defaults  # only where momentum is in use
        lr = optimizer.param_groups[0]["lr"]
        return lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=plan.total_steps, cycle_momentum=cycle)
    if plan.kind == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=plan.gamma, patience=plan.patience)
    if plan.kind == "cosine":
        main = lr_scheduler.CosineAnnealingLR(optimizer, T_max=main_steps)
    elif plan.kind == "step":
        main = lr_scheduler.StepLR(optimizer, step_size=plan.step_size, gamma=plan.gamma)
    else:
        main = None
    if not plan.warmup_steps:
        return main
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=WARMUP_START_FACTOR, total_iters=plan.warmup_steps)
    if main is None:
        return warmup  # stays at lr once warmed up
    return lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[plan.warmup_steps])


__all__ = ["SCHEDULERS", "SchedulePlan", "build_scheduler", "WARMUP_START_FACTOR"]
