"""Learning-rate schedulers by hand, step for step the same as ``torch.optim.lr_scheduler``.

A scheduler rewrites ``group["lr"]`` of a scratch optimizer's parameter groups;
call its ``step()`` once per update, *after* ``optimizer.step()``::

    for x, y in batches:
        optimizer.zero_grad(); model.backward(loss.backward(...)); optimizer.step()
        scheduler.step()                    # ReduceLROnPlateau: scheduler.step(metric)

Construction already takes step 0 (``last_epoch`` goes from −1 to 0) and stores
each group's starting rate as ``group["initial_lr"]`` (``base_lrs``). The
rates are computed with torch's arithmetic, operation for operation: the
*chainable* forms, which update the current rate (StepLR multiplies it by γ at
each multiple of ``step_size``; CosineAnnealingLR multiplies η − η_min by the
ratio of consecutive cosine terms), and the closed forms where torch uses them
(SequentialLR's restart of a scheduler at its milestone), so the two twins'
rates agree to the last bit, not only to a tolerance.

Schedules (t = ``last_epoch``, η₀ = base rate):

- StepLR:            η₀·γ^⌊t/step_size⌋
- MultiStepLR:       η₀·γ^(number of milestones ≤ t)
- ExponentialLR:     η₀·γᵗ
- CosineAnnealingLR: η_min + (η₀ − η_min)(1 + cos(πt/T_max))/2
- LinearLR:          η₀·(s + (e − s)·min(t, T)/T)     (s, e: start and end factors)
- OneCycleLR:        up from max_lr/div_factor to max_lr over pct_start of the
                     steps, then down to that / final_div_factor (cosine or
                     linear), momentum (SGD) or β₁ (Adam) cycled the other way
- ReduceLROnPlateau: η ← max(η·factor, min_lr) after more than ``patience``
                     steps without improvement of the metric
- SequentialLR:      one scheduler after the other at the milestones (warm-up
                     with LinearLR, then decay)

``state_dict()`` holds what torch's holds, under the same keys, less torch's
flag ``_get_lr_called_within_step``; the values are plain Python numbers,
lists and ``Counter``s, so a torch scheduler loads a scratch state_dict
directly, and a scratch scheduler a torch one. Not carried over: the deprecated
``epoch`` argument of ``step()`` and tensor-valued learning rates.
"""

from __future__ import annotations

import copy
import math
import warnings
from bisect import bisect_right
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence, SupportsFloat

from scratch.optim import Optimizer

__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
]

#: torch's bookkeeping flag in its state_dicts, with no scratch counterpart: skipped on loading.
TORCH_ONLY_STATE = ("_get_lr_called_within_step",)


def _check_optimizer(scheduler: str, optimizer: Any) -> Optimizer:
    """torch's ``"<type> is not an Optimizer"``, naming what was expected and where torch's lives."""
    if not isinstance(optimizer, Optimizer):
        hint = (
            "; a torch optimizer takes torch's schedulers (torch_ref.lr_scheduler)"
            if type(optimizer).__module__.startswith("torch")
            else ""
        )
        raise TypeError(
            f"{type(optimizer).__name__} is not an Optimizer: {scheduler} expects a "
            f"scratch.optim.Optimizer{hint}"
        )
    return optimizer


def _format_param(name: str, optimizer: Optimizer, param: Any) -> list:
    """One value per parameter group: a scalar is repeated, a list must have one per group."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(param)} values, param_groups has {len(optimizer.param_groups)}."
            )
        return list(param)
    return [param] * len(optimizer.param_groups)


class LRScheduler:
    """Base class: ``base_lrs``, ``last_epoch``, ``step()``, ``get_last_lr()``, ``state_dict()``.

    ``last_epoch = −1`` starts a schedule; another value resumes one and needs
    ``initial_lr`` in every parameter group (a loaded optimizer state has it).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        self.optimizer = _check_optimizer(type(self).__name__, optimizer)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                        "scheduler with last_epoch >= 0: load the optimizer's state first"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Step 0, taken by the constructor (``_is_initial`` tells get_lr not to move a resumed rate)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - overridden
        """The rates for ``last_epoch``, computed from the current ones (the chainable form)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one step (call it after ``optimizer.step()``) and write the new rates into the groups."""
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
                "You should call them in the opposite order: `optimizer.step()` before "
                "`lr_scheduler.step()`, or the first value of the learning rate schedule is skipped.",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        """Next step's rates; ``epoch`` jumps to that step by the closed form, where there is one."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer, as torch's; a copy, so a saved dict is a snapshot."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state saved by this class's ``state_dict()``, scratch's or torch's."""
        own = set(self.__dict__) - {"optimizer"}
        unexpected = sorted(set(state_dict) - own - set(TORCH_ONLY_STATE))
        if unexpected:
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: unexpected keys {unexpected} "
                f"(a state saved by another scheduler?); expected some of {sorted(own)}"
            )
        for k, v in state_dict.items():
            if k not in TORCH_ONLY_STATE:
                setattr(self, k, copy.deepcopy(v))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


class StepLR(LRScheduler):
    """η ← η·γ every ``step_size`` steps: η₀·γ^⌊t/step_size⌋ (torch.optim.lr_scheduler.StepLR)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """η ← η·γ at each milestone: η₀·γ^(number of milestones ≤ t) (torch.optim.lr_scheduler.MultiStepLR).

    A milestone listed twice decays twice, as in torch. torch documents that
    milestones must be increasing but does not check; here a decreasing
    sequence raises.
    """

    def __init__(
        self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        milestones = list(milestones)
        if any(b < a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"MultiStepLR: milestones must be increasing, got {milestones}")
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """η ← η·γ every step: η₀·γᵗ (torch.optim.lr_scheduler.ExponentialLR)."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:  # a resumed schedule keeps its rate at construction
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing to η_min over ``T_max`` steps, without restarts (torch.optim.lr_scheduler.CosineAnnealingLR).

    Closed form η_t = η_min + (η₀ − η_min)(1 + cos(πt/T_max))/2; torch, and so
    this twin, steps by the recursion

        η_t = η_min + (η_{t−1} − η_min)·(1 + cos(πt/T_max)) / (1 + cos(π(t−1)/T_max)),

    which also follows a rate changed from outside. Past T_max the cosine
    climbs again (period 2·T_max); at t = T_max + 1 (mod 2·T_max), where the
    ratio would divide by 1 + cos(π) = 0, torch adds (η₀ − η_min)(1 − cos(π/T_max))/2.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and self.last_epoch > 0:  # resumed: the closed form, in torch's order
            return [
                self.eta_min + (base_lr - self.eta_min) * (1 + math.cos((self.last_epoch) * math.pi / self.T_max)) / 2
                for base_lr in self.base_lrs
            ]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [
                group["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                for base_lr, group in zip(self.base_lrs, groups, strict=True)
            ]
        return [
            (1 + math.cos(math.pi * self.last_epoch / self.T_max))
            / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
            * (group["lr"] - self.eta_min)
            + self.eta_min
            for group in groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """Factor from ``start_factor`` to ``end_factor`` linearly over ``total_iters`` steps (torch.optim.lr_scheduler.LinearLR).

    η_t = η₀·(s + (e − s)·min(t, T)/T); torch steps by the ratio of consecutive
    factors, η_t = η_{t−1}·(1 + (e − s)/(T·s + (t − 1)(e − s))). The warm-up of
    a SequentialLR: ``LinearLR(opt, start_factor=0.1, total_iters=k)``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return [group["lr"] for group in groups]
        return [
            group["lr"]
            * (
                1.0
                + (self.end_factor - self.start_factor)
                / (self.total_iters * self.start_factor + (self.last_epoch - 1) * (self.end_factor - self.start_factor))
            )
            for group in groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr
            * (
                self.start_factor
                + (self.end_factor - self.start_factor) * min(self.total_iters, self.last_epoch) / self.total_iters
            )
            for base_lr in self.base_lrs
        ]


class OneCycleLR(LRScheduler):
    """The 1cycle policy, one ``step()`` per batch (torch.optim.lr_scheduler.OneCycleLR).

    Per group: initial_lr = max_lr/div_factor, min_lr = initial_lr/final_div_factor.
    Two phases (default): initial_lr → max_lr over the first pct_start·total_steps
    steps, then max_lr → min_lr; ``three_phase`` goes back down to initial_lr
    symmetrically first, then to min_lr. Each phase anneals by

        cos:    end + (start − end)/2·(1 + cos(π·pct)),    linear: (end − start)·pct + start,

    pct the fraction of the phase done. With ``cycle_momentum`` the momentum
    (SGD, RMSprop) or β₁ (Adam) moves the other way, max_momentum → base_momentum
    → max_momentum: a large step size gets less momentum. Stepping past
    ``total_steps`` raises, as in torch.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        self.optimizer = _check_optimizer("OneCycleLR", optimizer)
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")

        if three_phase:
            self._schedule_phases = [
                {"end_step": float(pct_start * self.total_steps) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * self.total_steps) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": float(pct_start * self.total_steps) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]

        if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy

        max_lrs = _format_param("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for max_lr_, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = max_lr_ / div_factor
                group["max_lr"] = max_lr_
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"optimizer must support momentum or beta1 with `cycle_momentum` option enabled; "
                    f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _format_param("max_momentum", optimizer, max_momentum)
            base_momentums = _format_param("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m_momentum, b_momentum, group in zip(max_momentums, base_momentums, optimizer.param_groups, strict=True):
                    if self.use_beta1:
                        group["betas"] = (m_momentum, *group["betas"][1:])
                    else:
                        group["momentum"] = m_momentum
                    group["max_momentum"] = m_momentum
                    group["base_momentum"] = b_momentum
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"Tried to step {step_num} times. The specified number of total steps is {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    computed_lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        computed_momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(computed_lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (computed_momentum, *group["betas"][1:])
                else:
                    group["momentum"] = computed_momentum
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """η ← max(η·factor, min_lr) once the metric has not improved for more than ``patience`` steps.

    torch.optim.lr_scheduler.ReduceLROnPlateau: ``step(metric)`` after each
    evaluation. "Improved" means below best·(1 − threshold) in mode ``min`` with
    threshold_mode ``rel`` (above best·(1 + threshold) in ``max``; ± threshold
    in ``abs``). After a reduction, ``cooldown`` steps pass without counting; a
    reduction smaller than ``eps`` is skipped.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        self.factor = factor
        self.optimizer = _check_optimizer("ReduceLROnPlateau", optimizer)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: SupportsFloat) -> None:  # type: ignore[override]
        """One evaluation of the monitored metric (a loss, an accuracy …)."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The number of param groups in the `optimizer` ({len(self.optimizer.param_groups)}) "
                    f"differs from when `ReduceLROnPlateau` was initialized ({len(self.min_lrs)}); "
                    "set `min_lrs` to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for i, group in enumerate(self.optimizer.param_groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in {"min", "max"}:
            raise ValueError("mode " + mode + " is unknown!")
        if threshold_mode not in {"rel", "abs"}:
            raise ValueError("threshold mode " + threshold_mode + " is unknown!")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode)

    def __repr__(self) -> str:
        return f"ReduceLROnPlateau(last_epoch={self.last_epoch}, last_lr={self._last_lr}, best={self.best})"


class SequentialLR(LRScheduler):
    """Schedulers one after the other, switching at ``milestones`` (torch.optim.lr_scheduler.SequentialLR).

    ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=k), CosineAnnealingLR(opt, T_max=n − k)], milestones=[k])``
    warms up linearly for k steps, then anneals. At a milestone the next
    scheduler restarts from step 0 by its closed form (from ``base_lrs``, not
    from the current rate). Milestones must increase strictly (torch does not
    check; an unordered list would pick schedulers out of order).
    """

    def __init__(
        self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1
    ) -> None:
        _check_optimizer("SequentialLR", optimizer)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler.")
        for i, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise TypeError(f"SequentialLR at index {i} should have `optimizer` as its attribute.")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    "SequentialLR does not support `ReduceLROnPlateau` scheduler as it requires additional "
                    f"kwargs to be specified when calling `step`, but got one at index {i} in the given "
                    "schedulers sequence."
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    "SequentialLR expects all schedulers to belong to the same optimizer, but got scheduler "
                    f"{type(scheduler).__name__} at index {i} with another optimizer ({type(scheduler.optimizer).__name__} "
                    f"from {type(scheduler.optimizer).__module__})."
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more than the number "
                f"of milestone points, but got number of schedulers {len(schedulers)} and the number of "
                f"milestones to be equal to {len(milestones)}"
            )
        if any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"SequentialLR: milestones must be strictly increasing, got {list(milestones)}")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # back to the initial rates ...
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:  # ... and undo the step each scheduler took at construction
            scheduler.last_epoch -= 1
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)  # a restart, by the closed form
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """Own state plus each scheduler's, under ``_schedulers``, as torch's."""
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("_schedulers")
        if len(saved) != len(self._schedulers):
            raise ValueError(f"SequentialLR.load_state_dict: {len(saved)} saved schedulers, this one has {len(self._schedulers)}")
        for k, v in state.items():
            setattr(self, k, copy.deepcopy(v))
        for scheduler, s in zip(self._schedulers, saved):
            scheduler.load_state_dict(s)
