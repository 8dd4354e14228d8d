"""Activations with torch.nn; the unit step as a custom autograd function.

torch has ``torch.heaviside`` but no step module with a defined gradient, so
``Step`` is a ``torch.autograd.Function`` whose backward returns zeros:
d step/dx = 0 wherever it exists.
"""

from __future__ import annotations

import torch
from torch.nn import ELU, GELU, Identity, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus, Tanh


class _StepFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        return torch.zeros_like(grad_out)


class Step(torch.nn.Module):
    """Unit step 1[x > 0] with zero gradient (the perceptron's activation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _StepFunction.apply(x)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)


def softplus(x: torch.Tensor, beta: float = 1.0, threshold: float = 20.0) -> torch.Tensor:
    return torch.nn.functional.softplus(x, beta=beta, threshold=threshold)


__all__ = [
    "Step", "Identity", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "GELU",
    "SiLU", "Softplus", "sigmoid", "softplus",
]
