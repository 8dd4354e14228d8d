"""Softmax and the losses with torch: the reference for ``scratch.losses``.

The four torch losses are ``torch.nn``'s own classes and functions. The book's
two losses that torch lacks, ``SumSquaredError`` (½ Σ (y − t)²) and
``CrossEntropyError`` (−(1/N) Σ t·log(y + 1e-7) on probabilities), are written
with torch operations so that autograd supplies their reference gradients.
``softmax``/``log_softmax`` take ``axis`` like the scratch twin (torch's ``dim``).
"""

from __future__ import annotations

import torch
from torch.nn import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from torch.nn.functional import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)

CROSS_ENTROPY_ERROR_DELTA = 1e-7


def softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    return torch.softmax(x, dim=axis)


def log_softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    return torch.log_softmax(x, dim=axis)


class Softmax(torch.nn.Softmax):
    """``torch.nn.Softmax`` with the scratch twin's default ``dim=-1``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__(dim=dim)


class LogSoftmax(torch.nn.LogSoftmax):
    """``torch.nn.LogSoftmax`` with the scratch twin's default ``dim=-1``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__(dim=dim)


def _reduce(per: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    if reduction == "mean":
        return per.mean()
    raise ValueError(f"reduction must be one of ('mean', 'sum', 'none'), got {reduction!r}")


def sum_squared_error(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "sum") -> torch.Tensor:
    """½ (y − t)² elementwise, reduced ('sum' by default: the book's E)."""
    return _reduce(0.5 * (input - target) ** 2, reduction)


def cross_entropy_error(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """−Σ_c t_nc log(y_nc + 1e-7) per sample, reduced ('mean' = the book's batch mean).

    ``target`` is one-hot/probabilities of the input's shape (integer one-hot too)
    or class indices (N,); a single sample (C,) is taken as a batch of one.
    """
    if input.dim() == 1:
        input, target = input[None], (target[None] if target.dim() == 1 else target.reshape(1))
    if not torch.is_floating_point(target):
        if target.shape == input.shape:
            target = target.to(input.dtype)
        else:
            target = torch.nn.functional.one_hot(target.long(), input.shape[1]).to(input.dtype)
    per = -(target * torch.log(input + CROSS_ENTROPY_ERROR_DELTA)).sum(dim=1)
    return _reduce(per, reduction)


class SumSquaredError(torch.nn.Module):
    def __init__(self, *, reduction: str = "sum") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum_squared_error(input, target, reduction=self.reduction)


class CrossEntropyError(torch.nn.Module):
    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cross_entropy_error(input, target, reduction=self.reduction)


__all__ = [
    "softmax", "log_softmax", "Softmax", "LogSoftmax",
    "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss",
    "SumSquaredError", "CrossEntropyError",
    "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
    "sum_squared_error", "cross_entropy_error",
]
