"""The learning-rate study by hand: one linear model, three rates, three fates.

Full-batch gradient descent (``SGD``) on the mean squared error of a linear
regression (``nnlab.common.learning_rate`` explains the 2/λ_max threshold). A rate
far above it makes the loss overflow; that is *detected* — the run stops at
the first non-finite loss and is reported as diverged — and never raises or
warns (NumPy's overflow warnings are silenced just for the training loop).
With ``clip_norm``, ``clip_grad_norm_`` caps the gradient's length before every
step (:func:`clipped_curve`: the too-large rate, kept finite).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np

from nnlab.common.synthetic_data import linear_regression
from nnlab.common.learning_rate import CLIP_LABEL, DEFAULT_CLIP_NORM, DEFAULT_RATES, DEFAULT_STEPS, LossCurve
from scratch.clip_grad import clip_grad_norm_
from scratch.layers import Linear
from scratch.losses import MSELoss
from scratch.optim import SGD


def initial_model(n_features: int = 3, seed: int = 0, dtype=np.float64) -> Linear:
    return Linear(n_features, 1, dtype=dtype, rng=seed)


def loss_curve(
    lr: float,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    label: str = "",
    model: Linear | None = None,
    on_step: Callable[[int, float], None] | None = None,
    clip_norm: float | None = None,
) -> LossCurve:
    """Train from the seeded start with rate ``lr``; the loss before each step, stopping at inf/NaN.

    ``clip_norm``: ``clip_grad_norm_(parameters, clip_norm)`` between backward and step;
    the norms it returns (before clipping) go to ``curve.grad_norms``.
    """
    X, y, _ = linear_regression(seed=seed)
    model = model if model is not None else initial_model(X.shape[1], seed)
    loss_fn, opt = MSELoss(), SGD(model.parameters(), lr=lr)
    curve = LossCurve(label or f"lr={lr:g}", lr, clip_norm=clip_norm)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps):
            opt.zero_grad()
            pred = model.forward(X)
            # the loss rejects non-finite input; an overflowed prediction means the run has diverged
            loss = float(loss_fn.forward(pred, y)) if np.isfinite(pred).all() else math.inf
            curve.losses.append(loss)
            if on_step is not None:
                on_step(k, loss)
            if not math.isfinite(loss):
                break
            model.backward(loss_fn.backward())
            if clip_norm is not None:
                curve.grad_norms.append(float(clip_grad_norm_(model.parameters(), clip_norm)))
            opt.step()
    return curve


def learning_rate_study(
    rates: Mapping[str, float] = DEFAULT_RATES, steps: int = DEFAULT_STEPS, seed: int = 0
) -> list[LossCurve]:
    """One curve per (label, rate), all from the same start."""
    return [loss_curve(lr, steps, seed, label) for label, lr in rates.items()]


def clipped_curve(
    lr: float = DEFAULT_RATES["too large"], clip_norm: float = DEFAULT_CLIP_NORM, steps: int = DEFAULT_STEPS,
    seed: int = 0, model: Linear | None = None, on_step: Callable[[int, float], None] | None = None,
) -> LossCurve:
    """The too-large rate again, every gradient clipped to total norm ``clip_norm``: it stays finite."""
    return loss_curve(lr, steps, seed, CLIP_LABEL, model=model, on_step=on_step, clip_norm=clip_norm)
