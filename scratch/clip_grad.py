"""Gradient clipping by hand, as ``torch.nn.utils``: by the total norm, or by value.

Call between the backward pass and ``optimizer.step()``; both functions rescale
or clamp every ``.grad`` in place, as torch's trailing underscore says.

``clip_grad_norm_``: the gradients of all parameters are one long vector g,

    ‖g‖ = ‖(‖g₁‖, ‖g₂‖, …)‖          (the norm of the per-parameter norms; p = norm_type)
    g ← g · min(max_norm / (‖g‖ + 1e-6), 1)

so the direction is kept and only the length is capped; returns ‖g‖ measured
*before* clipping (log it: it is the first sign of an exploding gradient).
norm_type 2 is Euclidean, 1 the sum of |gᵢ|, ``inf`` the largest |gᵢ|.

``clip_grad_value_``: gᵢ ← clamp(gᵢ, −clip_value, clip_value), coordinate by
coordinate (the direction changes).

Computed as torch computes them, in the gradients' own dtype: the norm of each
gradient, then the norm of those norms, then one factor for all. ``foreach``
is accepted and ignored (a device switch with no NumPy meaning). Unlike torch,
a negative ``max_norm`` or ``clip_value`` raises: torch would flip the sign of
every gradient (a negative factor) or set them all to ``clip_value``.
"""

from __future__ import annotations

import types
import warnings
from typing import Any, Iterable

import numpy as np

from scratch.module import Parameter

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _parameters(parameters: Any, caller: str) -> list[Parameter]:
    """A Parameter or an iterable of them as a list (a generator is read once, as torch does)."""
    if isinstance(parameters, Parameter):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    params = list(parameters)
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(
                f"{caller}: expected scratch Parameters (e.g. model.parameters()), got {type(p).__name__}"
            )
    if is_generator and not params:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    return params


def _vector_norm(x: np.ndarray, ord: float) -> np.ndarray:
    """torch.linalg.vector_norm: (Σ|x|^p)^(1/p); p = inf: max |x|, −inf: min |x|, 0: the number of non-zeros."""
    a = np.abs(x)
    if ord == np.inf:
        return a.max()
    if ord == -np.inf:
        return a.min()
    if ord == 0:
        return np.asarray(np.count_nonzero(x), dtype=x.dtype)
    if ord == 1:
        return a.sum()
    if ord == 2:
        return np.sqrt(np.sum(a * a))
    return np.sum(a**ord) ** (1.0 / ord)


def get_total_norm(
    tensors: Iterable[np.ndarray] | np.ndarray,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> np.ndarray:
    """‖(‖t₁‖, ‖t₂‖, …)‖ of arrays (gradients), a 0-d array; 0 (float32) when there are none."""
    arrays = [tensors] if isinstance(tensors, np.ndarray) else [np.asarray(t) for t in tensors]
    norm_type = float(norm_type)
    if not arrays:
        return np.asarray(0.0, dtype=np.float32)  # torch.tensor(0.0)
    norms = np.array([_vector_norm(a, norm_type) for a in arrays])  # promoted to the widest dtype, as torch.stack
    total = np.asarray(_vector_norm(norms, norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
            "anyway, set `error_if_nonfinite=False`"
        )
    return total


def clip_grads_with_norm_(
    parameters: Iterable[Parameter] | Parameter, max_norm: float, total_norm: Any, foreach: bool | None = None
) -> None:
    """g ← g · min(max_norm / (total_norm + 1e-6), 1) for every parameter's gradient, in place."""
    params = _parameters(parameters, "clip_grads_with_norm_")
    max_norm = _check_limit(max_norm, "max_norm", "clip_grads_with_norm_")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    total_norm = np.asarray(total_norm)
    with np.errstate(divide="ignore", invalid="ignore"):  # a non-finite norm scales by 0 or NaN, as in torch
        clip_coef = max_norm / (total_norm + 1e-6)
        clip_coef_clamped = np.minimum(clip_coef, 1.0)  # never scales up: 1 when the norm is within max_norm
        for g in grads:
            g *= clip_coef_clamped.astype(g.dtype)


def clip_grad_norm_(
    parameters: Iterable[Parameter] | Parameter,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> np.ndarray:
    """Rescale all gradients so that their total norm is at most ``max_norm``; returns the norm before."""
    params = _parameters(parameters, "clip_grad_norm_")
    _check_limit(max_norm, "max_norm", "clip_grad_norm_")
    grads = [p.grad for p in params if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_value_(
    parameters: Iterable[Parameter] | Parameter, clip_value: float, foreach: bool | None = None
) -> None:
    """gᵢ ← clamp(gᵢ, −clip_value, clip_value) for every gradient, in place."""
    params = _parameters(parameters, "clip_grad_value_")
    clip_value = _check_limit(clip_value, "clip_value", "clip_grad_value_")
    for p in params:
        if p.grad is not None:
            np.clip(p.grad, -clip_value, clip_value, out=p.grad)


def _check_limit(value: Any, name: str, caller: str) -> float:
    value = float(value)
    if not value >= 0:
        raise ValueError(
            f"{caller}: {name} must be ≥ 0, got {value} (torch accepts it: a negative {name} "
            "would flip or overwrite every gradient)"
        )
    return value
