"""Weight decay, taken apart: an L2 term in the loss for SGD, not for Adam; AdamW's decay is a shrink.

Loss L(θ), penalty (λ/2)‖θ‖² over every parameter, gradient of the penalty λθ.

- SGD(weight_decay=λ) adds λθ to the gradient, g ← ∇L + λθ, which *is* the gradient
  of L + (λ/2)‖θ‖²: the two runs are the same run. (With momentum too: the term
  enters before the momentum buffer, as the loss term would.)
- Adam(weight_decay=λ) does the same, g ← ∇L + λθ, so it too equals Adam on
  L + (λ/2)‖θ‖²; but Adam then divides each coordinate by √v̂ + ε, the running size of
  *that* gradient: a weight with large gradients is decayed less, and λθ also inflates
  v. The decay is no longer a uniform shrink.
- AdamW(weight_decay=λ) leaves the gradient alone and shrinks every weight directly,
  θ ← θ(1 − γλ), before the Adam step on ∇L: exactly Adam(weight_decay=0) plus that
  explicit shrink. Adam+L2 and AdamW therefore differ.

:func:`weight_decay_equivalences` trains pairs of runs from the same weights on the same
mini-batches (no dropout) and reports the largest parameter difference between them over
every step, in each twin, and between the twins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

import scratch.losses as sloss
import scratch.mlp as smlp
import scratch.optim as sopt
import torch_ref.mlp as tmlp
from nnlab.common.batches import minibatch_indices
from nnlab.overfitting.config import IMPLEMENTATIONS
from nnlab.overfitting.data import Split
from nnlab.overfitting.twins import torch_dtype
from torch_ref.module import load_scratch_state

#: recipe → (optimizer, its weight_decay is λ, the loss carries (λ/2)‖θ‖², θ ← θ(1 − γλ) before each step)
RECIPES: dict[str, tuple[str, bool, bool, bool]] = {
    "SGD(weight_decay=λ)": ("SGD", True, False, False),
    "SGD on L + (λ/2)‖θ‖²": ("SGD", False, True, False),
    "Adam(weight_decay=λ)": ("Adam", True, False, False),
    "Adam on L + (λ/2)‖θ‖²": ("Adam", False, True, False),
    "AdamW(weight_decay=λ)": ("AdamW", True, False, False),
    "Adam + θ ← θ(1 − γλ)": ("Adam", False, False, True),
    "Adam": ("Adam", False, False, False),
}
#: (run a, run b, whether they should be the same run)
COMPARISONS: tuple[tuple[str, str, bool], ...] = (
    ("SGD(weight_decay=λ)", "SGD on L + (λ/2)‖θ‖²", True),
    ("Adam(weight_decay=λ)", "Adam on L + (λ/2)‖θ‖²", True),
    ("AdamW(weight_decay=λ)", "Adam + θ ← θ(1 − γλ)", True),
    ("Adam(weight_decay=λ)", "AdamW(weight_decay=λ)", False),
)


@dataclass
class DecaySettings:
    """The runs of the comparison: ``steps`` mini-batch steps of an MLP with ``hidden`` widths (no dropout);
    SGD with ``sgd_lr`` and ``momentum``, Adam and AdamW with ``adam_lr``. The identities hold for any
    network; a narrower one than the study's keeps the fourteen runs quick."""

    steps: int = 200
    weight_decay: float = 0.03
    sgd_lr: float = 0.01
    momentum: float = 0.9
    adam_lr: float = 1e-3
    batch_size: int = 50
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    seed: int = 0
    dtype: Any = np.float64


@dataclass
class Comparison:
    """Two runs, whether they should agree, and their largest parameter difference over every step, per twin."""

    a: str
    b: str
    expected_equal: bool
    max_diff: dict[str, float] = field(default_factory=dict)


@dataclass
class DecayReport:
    comparisons: list[Comparison]
    twin_diff: dict[str, float]  # recipe → max |θ_scratch − θ_torch| over every step
    final_norm: dict[str, dict[str, float]]  # impl → recipe → ‖θ‖ after the last step
    settings: DecaySettings


class _ScratchRun:
    """One recipe in the NumPy twin: ``step(idx)`` trains on a batch, ``parameters()`` reads the weights."""

    def __init__(self, recipe: str, split: Split, s: DecaySettings) -> None:
        optimizer, decay_in_optimizer, self.l2_in_loss, self.shrink = RECIPES[recipe]
        self.split, self.weight_decay = split, s.weight_decay
        self.model = smlp.mlp([split.in_features, *s.hidden, split.n_classes], s.activation, dtype=s.dtype, rng=s.seed)
        self.params = list(self.model.parameters())
        self.lr = s.sgd_lr if optimizer == "SGD" else s.adam_lr
        wd = s.weight_decay if decay_in_optimizer else 0.0
        self.opt = (sopt.SGD(self.params, lr=self.lr, momentum=s.momentum, weight_decay=wd) if optimizer == "SGD"
                    else getattr(sopt, optimizer)(self.params, lr=self.lr, weight_decay=wd))
        self.loss = sloss.CrossEntropyLoss()

    def step(self, idx: np.ndarray) -> None:
        self.opt.zero_grad()
        self.loss.forward(self.model.forward(self.split.x_train[idx]), self.split.y_train[idx])
        self.model.backward(self.loss.backward())
        if self.l2_in_loss:
            for p in self.params:
                p.grad += self.weight_decay * p.data  # backward of (λ/2)‖θ‖²: λθ, accumulated like any gradient
        if self.shrink:  # what AdamW's step does first, written out
            for p in self.params:
                p.data *= 1 - self.lr * self.weight_decay
        self.opt.step()

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: p.data for name, p in self.model.named_parameters()}


class _TorchRun:
    """One recipe in the torch twin: the penalty goes through autograd, the shrink through ``mul_``."""

    def __init__(self, recipe: str, split: Split, s: DecaySettings) -> None:
        optimizer, decay_in_optimizer, self.l2_in_loss, self.shrink = RECIPES[recipe]
        self.weight_decay = s.weight_decay
        sizes = [split.in_features, *s.hidden, split.n_classes]
        self.model = tmlp.mlp(sizes, s.activation, dtype=torch_dtype(s.dtype))
        load_scratch_state(self.model, smlp.mlp(sizes, s.activation, dtype=s.dtype, rng=s.seed))
        self.params = list(self.model.parameters())
        self.lr = s.sgd_lr if optimizer == "SGD" else s.adam_lr
        wd = s.weight_decay if decay_in_optimizer else 0.0
        self.opt = (torch.optim.SGD(self.params, lr=self.lr, momentum=s.momentum, weight_decay=wd) if optimizer == "SGD"
                    else getattr(torch.optim, optimizer)(self.params, lr=self.lr, weight_decay=wd))
        self.x, self.y = torch.from_numpy(split.x_train), torch.from_numpy(split.y_train)

    def step(self, idx: np.ndarray) -> None:
        i = torch.from_numpy(idx)
        self.opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(self.x[i]), self.y[i])
        if self.l2_in_loss:
            loss = loss + self.weight_decay / 2 * sum((p**2).sum() for p in self.params)
        loss.backward()
        if self.shrink:
            with torch.no_grad():
                for p in self.params:
                    p.mul_(1 - self.lr * self.weight_decay)
        self.opt.step()

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: p.detach().numpy() for name, p in self.model.named_parameters()}


def _max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.max(np.abs(a[n].astype(np.float64) - b[n]))) for n in a)


def _norm(params: dict[str, np.ndarray]) -> float:
    return float(np.sqrt(sum(np.sum(v.astype(np.float64) ** 2) for v in params.values())))


def weight_decay_equivalences(
    split: Split,
    settings: DecaySettings | None = None,
    implementations=IMPLEMENTATIONS,
    progress: Callable[[int], None] | None = None,
) -> DecayReport:
    """Every run of :data:`RECIPES` in each twin, in lockstep from the same weights on the same batches;
    after every step the differences :data:`COMPARISONS` name (and scratch against torch) are measured.
    ``progress(1)`` after each step of all runs."""
    s = settings or DecaySettings()
    n = len(split.y_train)
    batches: list[np.ndarray] = []
    epoch = 0
    while len(batches) < s.steps:
        batches += minibatch_indices(n, s.batch_size, seed=s.seed, epoch=epoch)
        epoch += 1
    kinds = {"scratch": _ScratchRun, "torch": _TorchRun}
    runs = {impl: {recipe: kinds[impl](recipe, split, s) for recipe in RECIPES} for impl in implementations}
    comparisons = [Comparison(a, b, same, {impl: 0.0 for impl in implementations}) for a, b, same in COMPARISONS]
    both = len(implementations) == 2
    twin_diff = {recipe: 0.0 for recipe in RECIPES} if both else {}
    for idx in batches[: s.steps]:
        params = {}
        for impl, by_recipe in runs.items():
            for run in by_recipe.values():
                run.step(idx)
            params[impl] = {recipe: run.parameters() for recipe, run in by_recipe.items()}
        for c in comparisons:
            for impl in implementations:
                c.max_diff[impl] = max(c.max_diff[impl], _max_diff(params[impl][c.a], params[impl][c.b]))
        for recipe in twin_diff:
            twin_diff[recipe] = max(twin_diff[recipe], _max_diff(params["scratch"][recipe], params["torch"][recipe]))
        if progress is not None:
            progress(1)
    final_norm = {impl: {recipe: _norm(run.parameters()) for recipe, run in by_recipe.items()}
                  for impl, by_recipe in runs.items()}
    return DecayReport(comparisons, twin_diff, final_norm, s)


__all__ = ["RECIPES", "COMPARISONS", "DecaySettings", "Comparison", "DecayReport", "weight_decay_equivalences"]
