"""The network of one variant, built in both twins from the same weights, with one interface to train and measure.

Both twins are ``mlp(sizes, activation, dropout=p)`` (``scratch.mlp`` and
``torch_ref.mlp``): the scratch weights are drawn from ``seed`` and loaded into the
torch twin, so every variant and both twins start from the very same weights. Each
twin gets its *own* dropout generator, seeded alike, so they draw the same masks on
the same steps (see ``scratch.dropout``). Weight decay is SGD's ``weight_decay``: the
gradient of (λ/2)‖θ‖² over every parameter, biases included (torch's convention; the
book decays the weights only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import scratch.losses as sloss
import scratch.mlp as smlp
import scratch.optim as sopt
import torch_ref.mlp as tmlp
from nnlab.overfitting.config import IMPLEMENTATIONS, StudySettings, Variant
from torch_ref.module import load_scratch_state

#: The dropout generators' seed is [seed, DROPOUT_STREAM]: apart from the weights' and the batches'.
DROPOUT_STREAM = 1


def torch_dtype(dtype: Any) -> torch.dtype:
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


class ScratchTwin:
    """The NumPy network, its SGD and its cross-entropy loss."""

    name = "scratch"

    def __init__(self, model: Any, variant: Variant, settings: StudySettings) -> None:
        self.model = model
        self.loss = sloss.CrossEntropyLoss()
        self.optimizer = sopt.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                                  weight_decay=variant.weight_decay)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One SGD step on the batch (training mode: dropout on); returns the batch loss before the step."""
        self.model.train()
        self.optimizer.zero_grad()
        loss = self.loss.forward(self.model.forward(x), y)
        self.model.backward(self.loss.backward())
        self.optimizer.step()
        return float(loss)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) in eval mode: dropout off, the whole network."""
        self.model.eval()
        logits = self.model.forward(x)
        return float(self.loss.forward(logits, y)), float(np.mean(np.argmax(logits, axis=1) == y))

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: p.data for name, p in self.model.named_parameters()}


class TorchTwin:
    """The torch network, ``torch.optim.SGD`` and ``nn.CrossEntropyLoss``."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, variant: Variant, settings: StudySettings) -> None:
        self.model = model
        self.loss = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                                         weight_decay=variant.weight_decay)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        self.model.train()
        self.optimizer.zero_grad()
        loss = self.loss(self.model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        self.model.eval()
        with torch.no_grad():
            logits = self.model(torch.from_numpy(x))
            loss = self.loss(logits, torch.from_numpy(y))
        return float(loss), float(np.mean(logits.argmax(dim=1).numpy() == y))

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: p.detach().numpy() for name, p in self.model.named_parameters()}


def build_twins(
    variant: Variant, in_features: int, settings: StudySettings, implementations=IMPLEMENTATIONS, n_classes: int = 2
) -> dict[str, ScratchTwin | TorchTwin]:
    """``{impl: twin}`` for the asked implementations, all starting from the weights ``settings.seed`` draws."""
    unknown = [i for i in implementations if i not in IMPLEMENTATIONS]
    if unknown or not implementations:
        raise ValueError(f"implementations: expected some of {IMPLEMENTATIONS}, got {tuple(implementations)}")
    sizes = settings.sizes(in_features, n_classes)
    dropout_seed = [settings.seed, DROPOUT_STREAM]
    scratch_model = smlp.mlp(sizes, settings.activation, dtype=settings.dtype, rng=settings.seed,
                             dropout=variant.dropout, dropout_rng=np.random.default_rng(dropout_seed))
    twins: dict[str, ScratchTwin | TorchTwin] = {}
    if "scratch" in implementations:
        twins["scratch"] = ScratchTwin(scratch_model, variant, settings)
    if "torch" in implementations:
        torch_model = tmlp.mlp(sizes, settings.activation, dtype=torch_dtype(settings.dtype),
                               dropout=variant.dropout, dropout_rng=np.random.default_rng(dropout_seed))
        load_scratch_state(torch_model, scratch_model)
        twins["torch"] = TorchTwin(torch_model, variant, settings)
    return twins


def max_parameter_difference(a: ScratchTwin | TorchTwin, b: ScratchTwin | TorchTwin) -> float:
    """max over every parameter and element of |θ_a − θ_b|."""
    pa, pb = a.parameters(), b.parameters()
    return max(float(np.max(np.abs(pa[name].astype(np.float64) - pb[name]))) for name in pa)


__all__ = ["ScratchTwin", "TorchTwin", "build_twins", "max_parameter_difference", "torch_dtype"]
