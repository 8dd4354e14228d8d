"""XOR with three sigmoid units: hand-set weights, then learned by backpropagation.

The 2-2-1 network  y₁ = σ(w₁·x + b₁), y₂ = σ(w₂·x + b₂), out = σ(v·y + c).
With the classic lecture weights

    y₁ = σ(5x₁ + 5x₂ − 8)     (≈ AND: only (1,1) gets above 0)
    y₂ = σ(−7x₁ − 7x₂ + 3)    (≈ NOR: only (0,0) gets above 0)
    out = σ(−11y₁ − 11y₂ + 6) (≈ NOR of the two: 1 unless AND or NOR fires)

the outputs on (0,0), (0,1), (1,0), (1,1) are ≈ 0.011, 0.995, 0.995, 0.024:
XOR = NOT(AND OR NOR). One hidden layer bends the single line a perceptron
can draw into two. The same network trained from random weights with binary
cross-entropy and SGD with momentum finds such weights itself (most seeds;
some land in a local minimum that gets 2 or 3 of the 4 points).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.common.synthetic_data import truth_table
from scratch.activations import Sigmoid
from scratch.layers import Linear, Sequential
from scratch.losses import BCELoss
from scratch.optim import SGD

#: The lecture's weights, keyed like the network's state_dict.
HAND_SET_WEIGHTS = {
    "0.weight": [[5.0, 5.0], [-7.0, -7.0]],
    "0.bias": [-8.0, 3.0],
    "2.weight": [[-11.0, -11.0]],
    "2.bias": [6.0],
}


def xor_network(dtype: Any = np.float64, rng: np.random.Generator | int | None = None) -> Sequential:
    """Linear(2, 2) → Sigmoid → Linear(2, 1) → Sigmoid, torch's default init from ``rng``."""
    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    return Sequential(Linear(2, 2, dtype=dtype, rng=gen), Sigmoid(), Linear(2, 1, dtype=dtype, rng=gen), Sigmoid())


def hand_set_xor_network(dtype: Any = np.float64) -> Sequential:
    net = xor_network(dtype)
    net.load_state_dict({k: np.array(v, dtype=dtype) for k, v in HAND_SET_WEIGHTS.items()})
    return net


def xor_outputs(model: Sequential) -> np.ndarray:
    """The network's outputs (4,) on the rows (0,0), (0,1), (1,0), (1,1)."""
    X, _ = truth_table("xor", dtype=model[0].weight.dtype)
    return model.forward(X).reshape(-1)


def xor_accuracy(model: Sequential) -> float:
    _, y = truth_table("xor")
    return float(np.mean((xor_outputs(model) > 0.5) == (y > 0.5)))


def train_xor(model: Sequential, *, lr: float = 1.0, momentum: float = 0.9, steps: int = 300) -> list[float]:
    """Full-batch gradient descent on the four rows, binary cross-entropy; returns the loss per step."""
    X, y = truth_table("xor", dtype=model[0].weight.dtype)
    y = y.reshape(-1, 1)
    loss_fn, opt = BCELoss(), SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        losses.append(float(loss_fn.forward(model.forward(X), y)))
        model.backward(loss_fn.backward())
        opt.step()
    return losses
