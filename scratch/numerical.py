"""Numerical gradients by central differences.

∂f/∂xᵢ ≈ (f(x + h eᵢ) − f(x − h eᵢ)) / 2h, error O(h²). The step is scaled to
the element, h = eps·max(1, |xᵢ|), so that inputs of 1e4 are perturbed by a
step that float64 can still resolve. With eps = 1e-6 truncation and round-off
balance near 1e-9 relative: the parity harness uses this to check every
hand-written backward.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def numerical_gradient(
    f: Callable[[], float],
    x: np.ndarray,
    eps: float = 1e-6,
    indices: Sequence[tuple] | None = None,
) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``.

    ``x`` is perturbed in place (and always restored), so ``f`` may read it
    through any reference: a parameter's ``.data`` or a captured input array.
    With ``indices``, only those elements are computed (others are left 0),
    which keeps checks on large tensors cheap.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(
            f"numerical_gradient: expected a float ndarray, got {type(x).__name__}"
            + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
        )
    grad = np.zeros_like(x, dtype=np.float64)
    it = indices if indices is not None else list(np.ndindex(*x.shape))
    for idx in it:
        orig = x[idx].copy()
        h = eps * max(1.0, abs(float(orig)))
        try:
            x[idx] = orig + h
            x_plus = float(x[idx])  # the step as stored, after rounding
            f_plus = float(f())
            x[idx] = orig - h
            x_minus = float(x[idx])
            f_minus = float(f())
        finally:
            x[idx] = orig
        grad[idx] = (f_plus - f_minus) / (x_plus - x_minus)
    return grad


def sample_indices(shape: tuple, max_count: int, rng: np.random.Generator) -> list[tuple]:
    """Up to ``max_count`` distinct multi-indices of an array of ``shape``."""
    size = int(np.prod(shape)) if len(shape) else 1
    if size <= max_count:
        return list(np.ndindex(*shape))
    flat = rng.choice(size, size=max_count, replace=False)
    return [tuple(int(i) for i in np.unravel_index(f, shape)) for f in sorted(flat)]
