"""One forward/backward of either twin, keeping what the statistics need: every activation's input
(the pre-activation z) and output, and the gradient dL/dz flowing back into it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import torch

import scratch.layers as scratch_layers


@dataclass
class Taps:
    """What one pass exposes, in the twin's own array type (ndarray or device tensor)."""

    loss: Any
    weight_grads: list
    bias_grads: list
    preacts: list
    acts: list
    preact_grads: list


def layer_roles(model: Iterable) -> list[str]:
    roles = []
    for m in model:
        if isinstance(m, (scratch_layers.Linear, torch.nn.Linear)):
            roles.append("linear")
        elif isinstance(m, (scratch_layers.BatchNorm1d, torch.nn.BatchNorm1d)):
            roles.append("norm")
        else:
            roles.append("act")
    return roles


def scratch_pass(model: scratch_layers.Sequential, x: np.ndarray, y: np.ndarray, loss_fn: Any, record: bool = True) -> Taps:
    """Forward, loss and backward of the scratch twin, keeping each activation's input and output.

    Gradients accumulate into the parameters' ``.grad`` (call ``zero_grad`` first).
    """
    mods = list(model)
    roles = layer_roles(mods)
    preacts, acts, dzs = [], [], []
    h = x
    for m, role in zip(mods, roles):
        if record and role == "act":
            preacts.append(h)
        h = m.forward(h)
        if record and role == "act":
            acts.append(h)
    loss = loss_fn.forward(h, y)
    d = loss_fn.backward()
    for m, role in zip(reversed(mods), reversed(roles)):
        d = m.backward(d)
        if record and role == "act":
            dzs.append(d)
    linears = [m for m, r in zip(mods, roles) if r == "linear"]
    return Taps(
        loss,
        [m.weight.grad for m in linears],
        [None if m.bias is None else m.bias.grad for m in linears],
        preacts,
        acts,
        dzs[::-1],
    )


def torch_pass(model: torch.nn.Sequential, x: torch.Tensor, y: torch.Tensor, loss_fn: Any, record: bool = True) -> Taps:
    """Forward, loss and ``loss.backward()`` of the torch twin; activation inputs keep their ``.grad``."""
    mods = list(model)
    roles = layer_roles(mods)
    preacts, acts = [], []
    h = x
    for m, role in zip(mods, roles):
        if record and role == "act":
            h.retain_grad()
            preacts.append(h)
        h = m(h)
        if record and role == "act":
            acts.append(h)
    loss = loss_fn(h, y)
    loss.backward()
    linears = [m for m, r in zip(mods, roles) if r == "linear"]
    return Taps(
        loss.detach(),
        [m.weight.grad for m in linears],
        [None if m.bias is None else m.bias.grad for m in linears],
        [p.detach() for p in preacts],
        [a.detach() for a in acts],
        [p.grad for p in preacts],
    )


__all__ = ["Taps", "layer_roles", "scratch_pass", "torch_pass"]
