"""Small data sets generated in code, shared by both twins (NumPy arrays; torch side wraps them).

Every generator is deterministic given ``seed``, so a scratch run and a torch
run see the very same numbers.

- ``truth_table``: the four inputs of a two-input logic gate and its outputs.
  AND, OR, NAND are linearly separable; XOR is not (no line splits
  {(0,1),(1,0)} from {(0,0),(1,1)}), which is why a single perceptron fails on it.
- ``spiral``: the CS231n three-arm spiral, not linearly separable.
- ``blobs``: Gaussian clusters around well-separated centres.
- ``linear_regression``: y = X w* + b* + noise, the quadratic bowl of the learning-rate study.
"""

from __future__ import annotations

from typing import Any

import numpy as np

GATES = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "nor": (1, 0, 0, 0),
    "xor": (0, 1, 1, 0),
}


def truth_table(gate: str, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """X (4, 2) = rows (0,0), (0,1), (1,0), (1,1); y (4,) the gate's output, both of ``dtype``."""
    key = gate.lower()
    if key not in GATES:
        raise ValueError(f"truth_table: unknown gate {gate!r}; expected one of {sorted(GATES)}")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    return X, np.array(GATES[key], dtype=dtype)


def spiral(
    n_per_class: int = 100,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int = 0,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """K interleaved spiral arms in the plane: X (K·n, 2) of ``dtype``, labels y (K·n,) int64.

    Arm k: radius r = t, angle θ = 4(k + t) + noise·ε for t evenly in [0, 1],
    point (r sin θ, r cos θ).
    """
    if n_per_class < 1 or n_classes < 2:
        raise ValueError(
            f"spiral: need n_per_class ≥ 1 and n_classes ≥ 2, got {n_per_class} and {n_classes}"
        )
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n_per_class)
    X, y = [], []
    for k in range(n_classes):
        theta = np.linspace(4.0 * k, 4.0 * (k + 1), n_per_class) + noise * rng.standard_normal(n_per_class)
        X.append(np.stack([t * np.sin(theta), t * np.cos(theta)], axis=1))
        y.append(np.full(n_per_class, k, dtype=np.int64))
    return np.concatenate(X).astype(dtype), np.concatenate(y)


def blobs(
    n_per_class: int = 100,
    n_classes: int = 3,
    n_features: int = 2,
    spread: float = 1.0,
    seed: int = 0,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters: centres 4 apart on a circle (first two features), N(centre, spread²·I).

    Returns X (K·n, n_features) of ``dtype`` and labels y (K·n,) int64.
    """
    if n_per_class < 1 or n_classes < 2 or n_features < 2:
        raise ValueError(
            "blobs: need n_per_class ≥ 1, n_classes ≥ 2, n_features ≥ 2, got "
            f"{n_per_class}, {n_classes}, {n_features}"
        )
    rng = np.random.default_rng(seed)
    radius = 2.0 / np.sin(np.pi / n_classes)  # neighbouring centres 4 apart
    X, y = [], []
    for k in range(n_classes):
        centre = np.zeros(n_features)
        angle = 2 * np.pi * k / n_classes
        centre[:2] = radius * np.cos(angle), radius * np.sin(angle)
        X.append(centre + spread * rng.standard_normal((n_per_class, n_features)))
        y.append(np.full(n_per_class, k, dtype=np.int64))
    return np.concatenate(X).astype(dtype), np.concatenate(y)


def linear_regression(
    n_samples: int = 64,
    n_features: int = 3,
    noise: float = 0.1,
    seed: int = 0,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (n, d) ~ N(0, 1), y (n, 1) = X w* + 0.5 + noise·ε; returns X, y and w* (d,).

    For the mean squared error the curvature along direction v is
    2·vᵀ(XᵀX/n)v, close to 2 here: gradient descent is stable for a
    learning rate below about 2/λ_max ≈ 1 and diverges above it.
    """
    if n_samples < 1 or n_features < 1:
        raise ValueError(f"linear_regression: need n_samples, n_features ≥ 1, got {n_samples}, {n_features}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    w = rng.uniform(-2.0, 2.0, n_features)
    y = X @ w + 0.5 + noise * rng.standard_normal(n_samples)
    return X.astype(dtype), y.reshape(-1, 1).astype(dtype), w
