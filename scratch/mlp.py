"""Multi-layer perceptron builder: Linear → [BatchNorm1d | LayerNorm] → activation → [Dropout], repeated, then Linear.

``mlp([4, 8, 8, 3], "tanh", batchnorm=True)`` is

    Sequential(Linear(4, 8), BatchNorm1d(8), Tanh(), Linear(8, 8), BatchNorm1d(8), Tanh(), Linear(8, 3))

and ``mlp([4, 8, 3], "relu", layernorm=True, dropout=0.5)`` is

    Sequential(Linear(4, 8), LayerNorm(8), ReLU(), Dropout(0.5), Linear(8, 3))

with the same child indices, hence the same state_dict keys, as
``torch_ref.mlp.mlp`` builds with torch.nn. The output layer has no
activation: it returns logits (softmax/sigmoid belong to the loss).

A Linear followed by BatchNorm has no bias (``bias=False``, as in ResNets):
BN subtracts the batch mean, so such a bias cancels; its gradient is exactly
0 in exact arithmetic and pure round-off (~1e-18) in floating point, and
adaptive optimizers (RMSprop, Adam), which divide by the gradient's own
scale, would turn that noise into learning-rate-sized random steps. Before
LayerNorm the bias stays: LayerNorm subtracts each sample's mean over its
features, which removes only the bias's mean over the features.

All Dropout layers draw their masks from one generator, ``dropout_rng``
(default: the generator that drew the weights, after them). To train both
twins in lockstep, pass each builder its own generator seeded alike (see
``scratch.dropout``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import scratch.activations as act
from scratch.dropout import Dropout
from scratch.layers import Linear, Sequential, _rng
from scratch.normalization import BatchNorm1d, LayerNorm

ACTIVATIONS = {
    "sigmoid": act.Sigmoid,
    "tanh": act.Tanh,
    "relu": act.ReLU,
    "leaky_relu": act.LeakyReLU,
    "elu": act.ELU,
    "gelu": act.GELU,
    "silu": act.SiLU,
    "identity": act.Identity,
}


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    batchnorm: bool = False,
    dtype: Any = np.float32,
    rng: np.random.Generator | int | None = None,
    *,
    layernorm: bool = False,
    dropout: float = 0.0,
    dropout_rng: np.random.Generator | int | None = None,
) -> Sequential:
    """An MLP with ``len(sizes) − 2`` hidden layers; weights drawn with torch's default init from ``rng``.

    ``batchnorm`` or ``layernorm`` (not both) normalizes each hidden Linear's
    output; ``dropout`` > 0 adds ``Dropout(dropout)`` after each hidden activation.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"mlp: expected at least [in, out] sizes, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"mlp: unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
    if batchnorm and layernorm:
        raise ValueError("mlp: choose batchnorm or layernorm, not both")
    gen = _rng(rng)
    drop_gen = gen if dropout_rng is None else _rng(dropout_rng)
    layers = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(Linear(fan_in, fan_out, bias=not batchnorm, dtype=dtype, rng=gen))
        if batchnorm:
            layers.append(BatchNorm1d(fan_out, dtype=dtype))
        elif layernorm:
            layers.append(LayerNorm(fan_out, dtype=dtype))
        layers.append(ACTIVATIONS[activation]())
        if dropout:
            layers.append(Dropout(dropout, rng=drop_gen))
    layers.append(Linear(sizes[-2], sizes[-1], dtype=dtype, rng=gen))
    return Sequential(*layers)
