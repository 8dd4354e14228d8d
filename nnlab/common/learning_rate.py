"""The learning-rate study's shared parts: the three rates, the verdict on a loss curve, a text table.

Problem: least squares y ≈ Xw + b (``nnlab.common.synthetic_data.linear_regression``),
full-batch gradient descent on the mean squared error. Along an eigendirection
of the Hessian H = (2/N)[X 1]ᵀ[X 1] with eigenvalue λ the error is multiplied
by (1 − ηλ) every step, so

- η > 2/λ_max: |1 − ηλ_max| > 1, the error grows geometrically and the loss
  overflows to inf (then NaN): *diverged*, reported, not a crash;
- η ≪ 1/λ_max: (1 − ηλ)ᵗ ≈ 1 for the whole run: the loss *barely moves*;
- η ≈ 1/λ_max: every direction shrinks fast: *converged*.

For the default data λ ∈ [1.35, 2.55], so 2/λ_max ≈ 0.78.

Gradient clipping (``clip_grad_norm_`` between backward and step) rescales g to
length ``max_norm`` whenever it is longer, so no step moves θ by more than
η·max_norm. At the too-large rate η = 5 with max_norm = 0.1 every step is at most 0.5
long: the run cannot overflow, but it cannot settle either (near the minimum the
unclipped step would still overshoot); it ends bouncing across the minimum with a
finite loss. Clipping bounds the damage of a large gradient; it does not fix the rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: label → learning rate, in the order the study prints them.
DEFAULT_RATES = {"too large": 5.0, "too small": 1e-4, "sensible": 0.1}
DEFAULT_STEPS = 200
#: The clipping demonstration: the too-large rate, each gradient clipped to this total norm.
CLIP_LABEL = "clipped"
DEFAULT_CLIP_NORM = 0.1

VERDICTS = ("diverged", "grew", "barely moved", "still decreasing", "converged")


def classify(losses: list[float]) -> str:
    """The verdict on one loss curve (loss before each step; non-finite ends the run).

    - ``diverged``: the loss became inf or NaN;
    - ``grew``: finite but the last loss is above the first;
    - ``barely moved``: it fell by less than 10 %;
    - ``converged``: it fell below 10 % of the start and changed by less than
      0.1 % over the last tenth of the run;
    - ``still decreasing``: anything else.
    """
    if not losses:
        raise ValueError("classify: expected at least one loss value, got none")
    if not all(math.isfinite(v) for v in losses):
        return "diverged"
    first, last = losses[0], losses[-1]
    if last > first:
        return "grew"
    if first - last < 0.1 * first:
        return "barely moved"
    tail = losses[-max(2, len(losses) // 10):]
    if last < 0.1 * first and (max(tail) - min(tail)) <= 1e-3 * max(abs(last), 1e-12):
        return "converged"
    return "still decreasing"


@dataclass
class LossCurve:
    """One run of the study: its rate, the loss before every step, and the verdict.

    A run with ``clip_norm`` clipped every gradient to that total norm; ``grad_norms`` holds
    each step's norm before clipping, as ``clip_grad_norm_`` returns it.
    """

    label: str
    lr: float
    losses: list[float] = field(default_factory=list)
    clip_norm: float | None = None
    grad_norms: list[float] = field(default_factory=list)

    @property
    def clipped_steps(self) -> int:
        """Steps whose gradient clipping shortened: ‖g‖ + 1e-6 > max_norm, torch's condition for a factor < 1."""
        return sum(n + 1e-6 > self.clip_norm for n in self.grad_norms) if self.clip_norm is not None else 0

    @property
    def verdict(self) -> str:
        return classify(self.losses)

    @property
    def diverged_at(self) -> int | None:
        """The first step whose loss is not finite (0-based), or None."""
        for k, v in enumerate(self.losses):
            if not math.isfinite(v):
                return k
        return None

    def summary(self) -> str:
        first, last = self.losses[0], self.losses[-1]
        if self.clip_norm is not None:
            return self._clipped_summary()
        if self.verdict == "diverged":
            finite = [v for v in self.losses if math.isfinite(v)]
            return (
                f"{self.label:>10s}  lr={self.lr:<8g} diverged: loss {first:.4g} → "
                f"{max(finite):.3g} then {last} at step {self.diverged_at}"
            )
        return f"{self.label:>10s}  lr={self.lr:<8g} {self.verdict}: loss {first:.4g} → {last:.4g} after {len(self.losses)} steps"

    def _clipped_summary(self) -> str:
        clipping = (f"clip_grad_norm_(max_norm={self.clip_norm:g}) shortened {self.clipped_steps} of "
                    f"{len(self.grad_norms)} steps")
        if self.verdict == "diverged":
            unclipped = LossCurve(self.label, self.lr, self.losses).summary()
            return f"{unclipped}, although {clipping}"
        tail = self.losses[-max(2, len(self.losses) // 10):]
        return (f"{self.label:>10s}  lr={self.lr:<8g} stays finite: loss {self.losses[0]:.4g} → between "
                f"{min(tail):.4g} and {max(tail):.4g} over the last {len(tail)} steps; {clipping}")


def format_curves(curves: list[LossCurve], every: int = 20) -> str:
    """A table: one row per ``every`` steps, one column per curve (inf/nan shown as such, blank after the end)."""
    width = 18
    head = "step".rjust(6) + "".join(f"{c.label} ({c.lr:g})".rjust(width + 4) for c in curves)
    rows = [head]
    n = max(len(c.losses) for c in curves)
    steps = sorted(set(list(range(0, n, every)) + [n - 1] + [c.diverged_at for c in curves if c.diverged_at is not None]))
    for k in steps:
        cells = [(f"{c.losses[k]:.6g}" if k < len(c.losses) else "").rjust(width + 4) for c in curves]
        rows.append(str(k).rjust(6) + "".join(cells))
    return "\n".join(rows)
