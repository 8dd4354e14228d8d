"""Multi-layer perceptron with torch.nn: Linear → [BatchNorm1d | LayerNorm] → activation → [Dropout], repeated, then Linear.

Same layout and child indices as ``scratch.mlp.mlp``, so a scratch
state_dict loads into it unchanged. The output layer returns logits; a
Linear followed by BatchNorm has no bias (BN's mean subtraction cancels it).
Dropout is ``torch_ref.dropout.Dropout``: torch's own, drawing from torch's
generator, unless ``dropout_rng`` is given; then every Dropout layer draws
its masks from that NumPy generator exactly as the scratch twin's do, so the
twins, each given its own generator seeded alike, train in lockstep.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from torch_ref.dropout import Dropout

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
    *,
    layernorm: bool = False,
    dropout: float = 0.0,
    dropout_rng: np.random.Generator | int | None = None,
) -> nn.Sequential:
    """An MLP with ``len(sizes) − 2`` hidden layers, torch's default init (seed with ``torch.manual_seed``)."""
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"mlp: expected at least [in, out] sizes, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"mlp: unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
    if batchnorm and layernorm:
        raise ValueError("mlp: choose batchnorm or layernorm, not both")
    if dropout_rng is not None and not isinstance(dropout_rng, np.random.Generator):
        dropout_rng = np.random.default_rng(dropout_rng)
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(nn.Linear(fan_in, fan_out, bias=not batchnorm, dtype=dtype))
        if batchnorm:
            layers.append(nn.BatchNorm1d(fan_out, dtype=dtype))
        elif layernorm:
            layers.append(nn.LayerNorm(fan_out, dtype=dtype))
        layers.append(ACTIVATIONS[activation]())
        if dropout:
            layers.append(Dropout(dropout, rng=dropout_rng))
    layers.append(nn.Linear(sizes[-2], sizes[-1], dtype=dtype))
    return nn.Sequential(*layers)
