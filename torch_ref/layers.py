"""Linear layer and Sequential with torch.nn: the reference the scratch twin must match.

``torch.nn.Linear`` stores ``weight`` as (out, in) and initializes
W, b ~ U(−1/√in, 1/√in); autograd supplies the backward. The normalization
layers live in :mod:`torch_ref.normalization`.
"""

from __future__ import annotations

import torch
from torch.nn import Flatten, Linear, Sequential

from torch_ref.normalization import BatchNorm1d, BatchNorm2d  # noqa: F401  re-exported for existing imports; defined in torch_ref.normalization

__all__ = ["Linear", "Flatten", "Sequential", "BatchNorm1d", "BatchNorm2d", "collapse_linear_stack"]


def collapse_linear_stack(layers) -> tuple[torch.Tensor, torch.Tensor]:
    """The single (W, b) equal to a stack of ``nn.Linear`` with no activation between."""
    W = b = None
    for layer in layers:
        if not isinstance(layer, Linear):
            raise TypeError(f"collapse_linear_stack: expected nn.Linear, got {type(layer).__name__}")
        Wl = layer.weight.detach()
        bl = layer.bias.detach() if layer.bias is not None else torch.zeros(Wl.shape[0], dtype=Wl.dtype)
        W, b = (Wl.clone(), bl.clone()) if W is None else (Wl @ W, Wl @ b + bl)
    if W is None:
        raise ValueError("collapse_linear_stack: expected at least one nn.Linear layer, got none")
    return W, b
