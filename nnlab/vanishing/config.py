"""The study's settings: which deep MLPs (activation, init, BatchNorm, depth, width) and how each is trained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: activation name (as ``scratch.mlp`` / ``torch_ref.mlp`` know it) → the
#: nonlinearity whose gain torch's ``calculate_gain`` uses for it. torch knows no
#: ELU/GELU/SiLU gain; like ReLU they pass about half of a symmetric input's
#: second moment, so they take ReLU's gain √2.
ACTIVATIONS: dict[str, str] = {
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "elu": "relu",
    "gelu": "relu",
    "silu": "relu",
}
#: ``default``: torch's Linear init U(±1/√fan_in); ``xavier``: Glorot uniform;
#: ``he``: Kaiming uniform (fan_in); both with torch's gain for the activation.
INITS = ("default", "xavier", "he")
IMPLEMENTATIONS = ("scratch", "torch")


@dataclass(frozen=True)
class MLPConfig:
    """One network of the study: ``depth`` Linear layers, ``depth − 1`` of them hidden.

    Layout: Linear(in, width) → [BN] → f, then (depth − 2) × [Linear(width,
    width) → [BN] → f], then Linear(width, out). With BatchNorm the Linear
    layers before it carry no bias (BN's β replaces it).
    """

    activation: str = "sigmoid"
    init: str = "default"
    batchnorm: bool = False
    depth: int = 10
    width: int = 128

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {self.init!r}")
        if self.depth < 2 or self.width < 1:
            raise ValueError(f"depth must be ≥ 2 and width ≥ 1, got depth={self.depth}, width={self.width}")

    @property
    def name(self) -> str:
        """Run name without the implementation, e.g. ``sigmoid-d10-default`` or ``sigmoid-d10-default-bn``."""
        return f"{self.activation}-d{self.depth}-{self.init}" + ("-bn" if self.batchnorm else "")


#: The default study: sigmoid, tanh and ReLU with torch's default init and with
#: the init made for them, BatchNorm repairing sigmoid, and the ReLU variants
#: with He init.
DEFAULT_CONFIGS: tuple[tuple[str, str, bool], ...] = (
    ("sigmoid", "default", False),
    ("sigmoid", "xavier", False),
    ("sigmoid", "default", True),
    ("tanh", "default", False),
    ("tanh", "xavier", False),
    ("relu", "default", False),
    ("relu", "he", False),
    ("leaky_relu", "he", False),
    ("elu", "he", False),
    ("gelu", "he", False),
    ("silu", "he", False),
)


def default_configs(depth: int = 10, width: int = 128) -> list[MLPConfig]:
    return [MLPConfig(a, i, bn, depth, width) for a, i, bn in DEFAULT_CONFIGS]


@dataclass
class StudySettings:
    """Everything but the network: task size, optimization and logging."""

    steps: int = 50
    batch_size: int = 256
    lr: float = 0.05
    momentum: float = 0.9
    log_every: int = 20
    histograms: bool = True
    bins: int = 30
    dtype: Any = np.float64
    seed: int = 0
    n_samples: int = 2048
    in_features: int = 32
    n_classes: int = 4


__all__ = ["ACTIVATIONS", "INITS", "IMPLEMENTATIONS", "MLPConfig", "DEFAULT_CONFIGS", "default_configs",
           "StudySettings"]
