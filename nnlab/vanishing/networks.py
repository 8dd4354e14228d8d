"""The study's deep MLP, built twice from identical weights: ``scratch.mlp`` and ``torch_ref.mlp``
lay it out, ``scratch.init`` initializes it, and the torch twin loads the scratch ``state_dict``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import scratch.init as scratch_init
import scratch.layers as scratch_layers
import scratch.mlp as scratch_mlp
import torch_ref.mlp as torch_mlp
from nnlab.vanishing.config import ACTIVATIONS, MLPConfig
from torch_ref.module import load_scratch_state


def _sizes(config: MLPConfig, in_features: int, out_features: int) -> list[int]:
    return [in_features] + [config.width] * (config.depth - 1) + [out_features]


def build_scratch_mlp(
    config: MLPConfig,
    in_features: int,
    out_features: int,
    dtype: Any = np.float64,
    rng: np.random.Generator | int | None = 0,
) -> scratch_layers.Sequential:
    """``scratch.mlp.mlp`` of the config's layout, then each Linear initialized by ``config.init``."""
    rng = scratch_layers._rng(rng)
    model = scratch_mlp.mlp(_sizes(config, in_features, out_features), config.activation, config.batchnorm,
                            dtype=dtype, rng=rng)
    linears = [m for m in model if isinstance(m, scratch_layers.Linear)]
    for linear in linears[:-1]:
        scratch_init.init_linear_(linear, config.init, ACTIVATIONS[config.activation], rng=rng)
    scratch_init.init_linear_(linears[-1], config.init, "linear", rng=rng)
    return model


def build_torch_mlp(config: MLPConfig, in_features: int, out_features: int) -> torch.nn.Sequential:
    """``torch_ref.mlp.mlp`` of the same layout and ``state_dict`` keys (weights still torch's random ones)."""
    return torch_mlp.mlp(_sizes(config, in_features, out_features), config.activation, config.batchnorm)


def twin_mlps(
    config: MLPConfig,
    in_features: int,
    out_features: int,
    dtype: Any = np.float64,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tuple[scratch_layers.Sequential, torch.nn.Sequential]:
    """Both twins from identical weights: build scratch, load its ``state_dict`` into torch."""
    scratch_model = build_scratch_mlp(config, in_features, out_features, dtype, np.random.default_rng(seed))
    torch_model = build_torch_mlp(config, in_features, out_features).to(_torch_dtype(dtype))
    load_scratch_state(torch_model, scratch_model)
    return scratch_model, torch_model.to(device)


def shift_hidden_biases_(model: Any, shift: float) -> Any:
    """Add ``shift`` to the bias of every hidden Linear (not the head); both twins.

    A strongly negative shift pushes every pre-activation below 0: the setup
    of the dying-ReLU experiment.
    """
    linears = [m for m in model if isinstance(m, (scratch_layers.Linear, torch.nn.Linear))][:-1]
    for layer in linears:
        if layer.bias is None:
            raise ValueError("shift_hidden_biases_: the hidden Linear layers have no bias (BatchNorm model?)")
        if isinstance(layer, torch.nn.Linear):
            with torch.no_grad():
                layer.bias.add_(shift)
        else:
            layer.bias.data = layer.bias.data + shift
    return model


def _torch_dtype(dtype: Any) -> torch.dtype:
    return {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[np.dtype(dtype)]


__all__ = ["build_scratch_mlp", "build_torch_mlp", "twin_mlps", "shift_hidden_biases_"]
