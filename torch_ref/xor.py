"""XOR with three sigmoid units in torch: hand-set weights, then learned by backpropagation.

y₁ = σ(5x₁ + 5x₂ − 8), y₂ = σ(−7x₁ − 7x₂ + 3), out = σ(−11y₁ − 11y₂ + 6) give
XOR; the same 2-2-1 network trained with BCE and SGD with momentum finds such
weights itself. Same API as ``scratch.xor``.
"""

from __future__ import annotations

import torch
from torch import nn

from nnlab.common.synthetic_data import truth_table

HAND_SET_WEIGHTS = {
    "0.weight": [[5.0, 5.0], [-7.0, -7.0]],
    "0.bias": [-8.0, 3.0],
    "2.weight": [[-11.0, -11.0]],
    "2.bias": [6.0],
}


def xor_network(dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """Linear(2, 2) → Sigmoid → Linear(2, 1) → Sigmoid, torch's default init (seed with ``torch.manual_seed``)."""
    return nn.Sequential(nn.Linear(2, 2, dtype=dtype), nn.Sigmoid(), nn.Linear(2, 1, dtype=dtype), nn.Sigmoid())


def hand_set_xor_network(dtype: torch.dtype = torch.float64) -> nn.Sequential:
    net = xor_network(dtype)
    net.load_state_dict({k: torch.tensor(v, dtype=dtype) for k, v in HAND_SET_WEIGHTS.items()})
    return net


def _table(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    X, y = truth_table("xor")
    return torch.from_numpy(X).to(dtype), torch.from_numpy(y).to(dtype)


def xor_outputs(model: nn.Sequential) -> torch.Tensor:
    X, _ = _table(model[0].weight.dtype)
    with torch.no_grad():
        return model(X).reshape(-1)


def xor_accuracy(model: nn.Sequential) -> float:
    _, y = _table(torch.float64)
    return float(((xor_outputs(model) > 0.5) == (y > 0.5)).double().mean())


def train_xor(model: nn.Sequential, *, lr: float = 1.0, momentum: float = 0.9, steps: int = 300) -> list[float]:
    """Full-batch gradient descent on the four rows, binary cross-entropy; returns the loss per step."""
    X, y = _table(model[0].weight.dtype)
    y = y.reshape(-1, 1)
    loss_fn, opt = nn.BCELoss(), torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses
