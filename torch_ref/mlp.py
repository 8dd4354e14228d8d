"""Multi-layer perceptron with torch.nn: Linear → [BatchNorm1d] → activation, repeated, then Linear.

Same layout and child indices as ``scratch.mlp.mlp``, so a scratch
state_dict loads into it unchanged. The output layer returns logits; a
Linear followed by BatchNorm has no bias (BN's mean subtraction cancels it).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "identity": nn.Identity,
}


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    batchnorm: bool = False,
    dtype: torch.dtype = torch.float32,
) -> nn.Sequential:
    """An MLP with ``len(sizes) − 2`` hidden layers, torch's default init (seed with ``torch.manual_seed``)."""
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"mlp: expected at least [in, out] sizes, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"mlp: unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(nn.Linear(fan_in, fan_out, bias=not batchnorm, dtype=dtype))
        if batchnorm:
            layers.append(nn.BatchNorm1d(fan_out, dtype=dtype))
        layers.append(ACTIVATIONS[activation]())
    layers.append(nn.Linear(sizes[-2], sizes[-1], dtype=dtype))
    return nn.Sequential(*layers)
