"""Weight initialization with ``torch.nn.init``: the reference for ``scratch.init``.

Same public names and formulas as the scratch twin (see its docstring for the
table): Glorot/Xavier Var(W) = gain² · 2/(fan_in + fan_out), He/Kaiming
Var(W) = gain²/fan, torch's default Linear W, b ~ U(−1/√fan_in, 1/√fan_in).
Randomness comes from an optional ``torch.Generator``.
"""

from __future__ import annotations

import math

import torch
from torch.nn import init as _init
from torch.nn.init import calculate_gain, kaiming_normal_, kaiming_uniform_, normal_, uniform_, xavier_normal_, xavier_uniform_, zeros_

#: Names accepted by ``init_linear_``: torch's default, Glorot/Xavier, He/Kaiming.
INIT_SCHEMES = ("default", "xavier", "xavier_normal", "he", "he_normal")

he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


def fan_in_and_fan_out(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel): torch's own computation."""
    if not isinstance(shape, torch.Tensor):
        shape = torch.empty(tuple(getattr(shape, "shape", shape)), device="meta")
    return _init._calculate_fan_in_and_fan_out(shape)


@torch.no_grad()
def torch_default_(layer: torch.nn.Linear, generator: torch.Generator | None = None) -> torch.nn.Linear:
    """``nn.Linear.reset_parameters`` with an optional generator: W, b ~ U(−1/√fan_in, 1/√fan_in)."""
    kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        fan_in, _ = fan_in_and_fan_out(layer.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


@torch.no_grad()
def init_linear_(
    layer: torch.nn.Linear,
    scheme: str = "default",
    nonlinearity: str = "relu",
    param: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.nn.Linear:
    """Initialize an ``nn.Linear`` by scheme name; Glorot and He set the bias to 0."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init_linear_: scheme must be one of {INIT_SCHEMES}, got {scheme!r}")
    if scheme == "default":
        return torch_default_(layer, generator)
    if scheme in ("xavier", "xavier_normal"):
        fill = xavier_uniform_ if scheme == "xavier" else xavier_normal_
        fill(layer.weight, gain=calculate_gain(nonlinearity, param), generator=generator)
    else:
        fill = kaiming_uniform_ if scheme == "he" else kaiming_normal_
        slope = (0.01 if param is None else param) if nonlinearity == "leaky_relu" else 0
        fill(layer.weight, a=slope, nonlinearity=nonlinearity, generator=generator)
    if layer.bias is not None:
        zeros_(layer.bias)
    return layer


__all__ = [
    "INIT_SCHEMES", "calculate_gain", "fan_in_and_fan_out", "uniform_", "normal_", "zeros_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "he_uniform_", "he_normal_", "torch_default_", "init_linear_",
]
