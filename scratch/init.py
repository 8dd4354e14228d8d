"""Weight initialization by hand, with torch's names, formulas and gain conventions.

Seed idea: keep the variance of the signal constant from layer to layer. For
y = W x with ``fan_in`` independent inputs, Var(y) = fan_in · Var(W) · E[x²],
so Var(W) = gain² / fan_in keeps the forward scale (He/Kaiming), and
Var(W) = gain² · 2 / (fan_in + fan_out) compromises between the forward and
the backward pass (Glorot/Xavier). The *gain* corrects for what the
nonlinearity does to the scale (``calculate_gain``: ReLU halves E[x²], so
gain = √2). A uniform U(−a, a) has variance a²/3, so a = √3 · std.

================  ==========================================================
scheme            distribution of W (fan_in, fan_out from the weight's shape)
================  ==========================================================
xavier_uniform_   U(−a, a),  a = gain · √(6 / (fan_in + fan_out))
xavier_normal_    N(0, std²), std = gain · √(2 / (fan_in + fan_out))
kaiming_uniform_  U(−a, a),  a = gain · √(3 / fan),  gain = calculate_gain(nonlinearity, a)
kaiming_normal_   N(0, std²), std = gain / √fan
torch_default_    Linear's reset: kaiming_uniform_(a=√5) ⇒ W ~ U(−1/√fan_in, 1/√fan_in),
                  b ~ U(−1/√fan_in, 1/√fan_in)
================  ==========================================================

Every sampler takes a ``numpy.random.Generator`` (or a seed) where torch takes
a ``torch.Generator``: same distributions, different random streams. The
trailing underscore follows torch (the parameter is overwritten); for a
:class:`~scratch.module.Parameter` a fresh array replaces ``.data``, a plain
array is filled in place.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from scratch.layers import _rng
from scratch.module import Parameter

_LINEAR_FNS = (
    "linear", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
)
#: Names accepted by ``init_linear_``: torch's default, Glorot/Xavier, He/Kaiming.
INIT_SCHEMES = ("default", "xavier", "xavier_normal", "he", "he_normal")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch's recommended gain: the factor that restores E[x²] after the nonlinearity.

    linear/conv*/sigmoid: 1;  tanh: 5/3;  relu: √2;
    leaky_relu(slope): √(2 / (1 + slope²)) (slope 0.01 when ``param`` is None);  selu: 3/4.
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope must be a number, got {param!r}")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{_LINEAR_FNS + ('sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu')}"
    )


def fan_in_and_fan_out(shape: Sequence[int] | Any) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel), as torch computes them.

    fan_in = in · prod(kernel),  fan_out = out · prod(kernel). Accepts a shape,
    an array or a :class:`Parameter`.
    """
    shape = tuple(getattr(shape, "shape", shape))
    if len(shape) < 2:
        raise ValueError(
            f"fan_in_and_fan_out: expected a weight with at least 2 dimensions "
            f"(out, in, *kernel), got shape {shape}"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape: tuple, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode: expected 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def _write(target: Parameter | np.ndarray, values: np.ndarray) -> Parameter | np.ndarray:
    if isinstance(target, Parameter):
        target.data = values.astype(target.data.dtype)
    elif isinstance(target, np.ndarray) and target.dtype.kind == "f":
        target[...] = values
    else:
        raise TypeError(
            f"init: expected a scratch Parameter or a float ndarray, got {type(target).__name__}"
        )
    return target


def uniform_(param, a: float = 0.0, b: float = 1.0, rng=None):
    """Fill with U(a, b)."""
    return _write(param, _rng(rng).uniform(a, b, size=param.shape))


def normal_(param, mean: float = 0.0, std: float = 1.0, rng=None):
    """Fill with N(mean, std²)."""
    return _write(param, _rng(rng).normal(mean, std, size=param.shape))


def zeros_(param):
    """Fill with 0 (the usual bias for Xavier and He schemes)."""
    return _write(param, np.zeros(param.shape))


def xavier_uniform_(param, gain: float = 1.0, rng=None):
    """Glorot uniform: U(−a, a) with a = gain · √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(param.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(param, -bound, bound, rng)


def xavier_normal_(param, gain: float = 1.0, rng=None):
    """Glorot normal: N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(param.shape)
    return normal_(param, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def kaiming_uniform_(param, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", rng=None):
    """He uniform: U(−b, b) with b = √3 · gain / √fan, gain = calculate_gain(nonlinearity, a).

    ``a`` is the negative slope of a leaky ReLU (0: plain ReLU gain √2);
    ``a = √5`` gives torch's default Linear weight, b = 1/√fan_in.
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(param.shape, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(param, -bound, bound, rng)


def kaiming_normal_(param, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", rng=None):
    """He normal: N(0, std²) with std = gain / √fan, gain = calculate_gain(nonlinearity, a)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(param.shape, mode))
    return normal_(param, 0.0, std, rng)


he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


def torch_default_(layer, rng=None):
    """Reset a Linear as ``torch.nn.Linear.reset_parameters`` does.

    W: kaiming_uniform_(a=√5) = U(−1/√fan_in, 1/√fan_in), since
    gain = √(2/(1+5)) = √(1/3) and √3 · gain / √fan_in = 1/√fan_in;
    b: U(−1/√fan_in, 1/√fan_in). Var(W) = 1/(3·fan_in): for sigmoid layers
    that shrinks the backward signal by about (1/4)·√(1/3) ≈ 0.14 per layer.
    """
    rng = _rng(rng)
    kaiming_uniform_(layer.weight, a=math.sqrt(5), rng=rng)
    if layer.bias is not None:
        fan_in, _ = fan_in_and_fan_out(layer.weight.shape)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(layer.bias, -bound, bound, rng)
    return layer


def init_linear_(layer, scheme: str = "default", nonlinearity: str = "relu", param: float | None = None, rng=None):
    """Initialize a Linear by scheme name, with torch's gain for the following nonlinearity.

    ``default``: :func:`torch_default_`;  ``xavier`` / ``xavier_normal``:
    Glorot with gain = calculate_gain(nonlinearity, param);  ``he`` /
    ``he_normal``: Kaiming (fan_in) for that nonlinearity. Glorot and He set
    the bias to 0.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init_linear_: scheme must be one of {INIT_SCHEMES}, got {scheme!r}")
    rng = _rng(rng)
    if scheme == "default":
        return torch_default_(layer, rng)
    if scheme in ("xavier", "xavier_normal"):
        fill = xavier_uniform_ if scheme == "xavier" else xavier_normal_
        fill(layer.weight, gain=calculate_gain(nonlinearity, param), rng=rng)
    else:
        fill = kaiming_uniform_ if scheme == "he" else kaiming_normal_
        slope = (0.01 if param is None else param) if nonlinearity == "leaky_relu" else 0
        fill(layer.weight, a=slope, nonlinearity=nonlinearity, rng=rng)
    if layer.bias is not None:
        zeros_(layer.bias)
    return layer


__all__ = [
    "INIT_SCHEMES", "calculate_gain", "fan_in_and_fan_out", "uniform_", "normal_", "zeros_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "he_uniform_", "he_normal_", "torch_default_", "init_linear_",
]
