"""The learning-rate study with torch: the same linear model, data, rates and verdicts as ``scratch.learning_rate``.

torch does not warn on overflow: the loss simply becomes inf, then NaN; the
run stops at the first non-finite loss and is reported as diverged. With
``clip_norm``, ``torch.nn.utils.clip_grad_norm_`` caps the gradient's length before
every step (:func:`clipped_curve`).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import torch
from torch import nn

from nnlab.common.synthetic_data import linear_regression
from nnlab.common.learning_rate import CLIP_LABEL, DEFAULT_CLIP_NORM, DEFAULT_RATES, DEFAULT_STEPS, LossCurve


def initial_model(n_features: int = 3, seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Linear:
    """torch's default init from ``torch.manual_seed(seed)`` (pass ``model=`` to start elsewhere)."""
    torch.manual_seed(seed)
    return nn.Linear(n_features, 1, dtype=dtype)


def loss_curve(
    lr: float,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    label: str = "",
    model: nn.Linear | None = None,
    on_step: Callable[[int, float], None] | None = None,
    clip_norm: float | None = None,
) -> LossCurve:
    """Train with rate ``lr``; the loss before each step, stopping at inf/NaN; ``clip_norm`` as in scratch."""
    Xn, yn, _ = linear_regression(seed=seed)
    X, y = torch.from_numpy(Xn), torch.from_numpy(yn)
    model = model if model is not None else initial_model(X.shape[1], seed)
    loss_fn, opt = nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=lr)
    curve = LossCurve(label or f"lr={lr:g}", lr, clip_norm=clip_norm)
    for k in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        value = float(loss.detach())
        curve.losses.append(value if math.isfinite(value) else math.inf)
        if on_step is not None:
            on_step(k, curve.losses[-1])
        if not math.isfinite(value):
            break
        loss.backward()
        if clip_norm is not None:
            curve.grad_norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), clip_norm)))
        opt.step()
    return curve


def learning_rate_study(
    rates: Mapping[str, float] = DEFAULT_RATES, steps: int = DEFAULT_STEPS, seed: int = 0
) -> list[LossCurve]:
    return [loss_curve(lr, steps, seed, label) for label, lr in rates.items()]


def clipped_curve(
    lr: float = DEFAULT_RATES["too large"], clip_norm: float = DEFAULT_CLIP_NORM, steps: int = DEFAULT_STEPS,
    seed: int = 0, model: nn.Linear | None = None, on_step: Callable[[int, float], None] | None = None,
) -> LossCurve:
    """The too-large rate again, every gradient clipped to total norm ``clip_norm``: it stays finite."""
    return loss_curve(lr, steps, seed, CLIP_LABEL, model=model, on_step=on_step, clip_norm=clip_norm)
