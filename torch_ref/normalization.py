"""Normalization layers from torch.nn: the reference the scratch twins must match.

``BatchNorm1d`` / ``BatchNorm2d`` normalize each channel over the batch (biased
batch variance to normalize, unbiased for the running buffers, momentum 0.1,
eps 1e-5); ``LayerNorm`` normalizes each sample over its trailing
``normalized_shape`` dimensions (eps 1e-5, γ = 1, β = 0, no buffers). All three
are torch's own; autograd supplies the backward.
"""

from __future__ import annotations

from torch.nn import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]
