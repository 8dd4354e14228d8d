"""What a dog/cat model is, as plain data: :class:`ModelSpec`, saved in every checkpoint.

A spec names the kind (``logistic``, ``mlp``, ``cnn``), the input shape and the
kind's own settings; both twins and ``scripts/predict.py`` rebuild the model
from it alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import torch

MODEL_KINDS = ("logistic", "mlp", "cnn")

#: Activation names accepted by ``--activation``; each twin's class comes from
#: ``scratch.mlp.ACTIVATIONS`` / ``torch_ref.mlp.ACTIVATIONS``.
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid")

#: Channel widths of the CNN's blocks when none are given. The fifth block, at 6x6 pixels of a 100x100 image,
#: adds 3 % of the work and about five points of validation accuracy (measured on the shared sample's seed 1
#: and 2 splits, 40 epochs: 0.896 and 0.894; four blocks 0.845 on seed 1).
DEFAULT_CHANNELS = (16, 32, 64, 128, 256)

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}
NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model; stored in checkpoints as a plain dict.

    ``hidden``: the MLP's hidden sizes; ``channels``: the CNN's block widths (each
    block halves the image with a 2x2 max-pool, so the image needs at least
    2^len(channels) pixels per side); ``batchnorm``: BatchNorm after each hidden
    Linear (mlp; always on in the CNN); ``dropout``: the probability of the Dropout
    after each hidden activation (mlp) or before the classifier (cnn).
    """

    kind: str = "logistic"
    input_shape: tuple = (3, 100, 100)
    hidden: tuple = ()
    activation: str = "relu"
    batchnorm: bool = False
    channels: tuple = ()
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"model: expected one of {MODEL_KINDS}, got {self.kind!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation: expected one of {tuple(ACTIVATIONS)}, got {self.activation!r}"
            )
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        hidden = tuple(int(h) for h in self.hidden) if self.kind == "mlp" else ()
        if self.kind == "mlp" and not hidden:
            raise ValueError("model 'mlp' needs at least one hidden size, e.g. --hidden 256")
        if any(h <= 0 for h in hidden):
            raise ValueError(f"hidden sizes must be positive, got {list(hidden)}")
        object.__setattr__(self, "hidden", hidden)
        channels = tuple(int(c) for c in self.channels) if self.kind == "cnn" else ()
        if self.kind == "cnn":
            channels = channels or DEFAULT_CHANNELS
            if any(c <= 0 for c in channels):
                raise ValueError(f"channels: expected positive widths, got {list(channels)}")
            if len(self.input_shape) != 3:
                raise ValueError(f"model 'cnn' takes (C, H, W) images, got input shape {self.input_shape}")
            smallest = 2 ** len(channels)
            if min(self.input_shape[1:]) < smallest:
                raise ValueError(
                    f"model 'cnn' with {len(channels)} blocks halves the image {len(channels)} times and needs "
                    f"images of at least {smallest}x{smallest} px, got {self.input_shape[1]}x{self.input_shape[2]}; "
                    f"give fewer --channels or a larger --image-size")
        object.__setattr__(self, "channels", channels)
        dropout = float(self.dropout) if self.kind != "logistic" else 0.0
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {self.dropout}")
        object.__setattr__(self, "dropout", dropout)
        if self.kind == "logistic":
            object.__setattr__(self, "batchnorm", False)
        if self.kind == "cnn":
            object.__setattr__(self, "batchnorm", True)

    @property
    def in_features(self) -> int:
        return int(np.prod(self.input_shape))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"], d["hidden"], d["channels"] = list(self.input_shape), list(self.hidden), list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelSpec":
        return cls(
            kind=d["kind"],
            input_shape=tuple(d["input_shape"]),
            hidden=tuple(d.get("hidden", ())),
            activation=d.get("activation", "relu"),
            batchnorm=bool(d.get("batchnorm", False)),
            channels=tuple(d.get("channels", ())),
            dropout=float(d.get("dropout", 0.0)),
        )

    def describe(self) -> str:
        """Short name for run folders: ``logistic``, ``mlp256-128-relu-bn``, ``cnn16-32-64-128-256-relu-drop0.3``."""
        if self.kind == "logistic":
            return "logistic"
        widths = self.hidden if self.kind == "mlp" else self.channels
        name = self.kind + "-".join(str(w) for w in widths) + f"-{self.activation}"
        if self.kind == "mlp" and self.batchnorm:
            name += "-bn"
        return name + (f"-drop{self.dropout:g}" if self.dropout else "")


__all__ = ["ModelSpec", "MODEL_KINDS", "ACTIVATIONS", "DEFAULT_CHANNELS", "TORCH_DTYPES", "NUMPY_DTYPES"]
