"""Building either twin from a spec, and moving weights between them.

The initial weights come from one NumPy generator seeded by ``seed`` (torch's default
distribution, U(−1/√fan_in, 1/√fan_in) for Linear and Conv2d; BatchNorm starts at
γ = 1, β = 0), and the torch twin loads them: ``--impl torch`` and ``--impl scratch``
start from the same point.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from nnlab.dogcat.models.nets import ScratchDogCatNet, TorchDogCatNet
from nnlab.dogcat.models.spec import NUMPY_DTYPES, TORCH_DTYPES, ModelSpec
from torch_ref.module import load_scratch_state


def initial_state_dict(spec: ModelSpec, seed: int, dtype: str = "float64") -> dict:
    """The seeded starting weights both twins load (NumPy arrays, torch's keys)."""
    return dict(ScratchDogCatNet(spec, NUMPY_DTYPES[dtype], rng=np.random.default_rng(seed)).state_dict())


def build_scratch_model(
    spec: ModelSpec, dtype: str = "float64", state: Mapping | None = None, seed: int = 0, dropout_rng: Any = None
) -> ScratchDogCatNet:
    """A scratch model in ``dtype``: loaded from ``state`` (arrays or tensors), else seeded; its Dropout
    draws from ``dropout_rng`` (a Generator or a seed)."""
    model = ScratchDogCatNet(spec, NUMPY_DTYPES[dtype], rng=np.random.default_rng(seed), dropout_rng=dropout_rng)
    if state is not None:
        model.load_state_dict(to_numpy_state(state))
    return model


def build_torch_model(
    spec: ModelSpec, dtype: str = "float32", state: Mapping | None = None, device: Any = "cpu", seed: int = 0,
    dropout_rng: Any = None,
) -> TorchDogCatNet:
    """A torch model in ``dtype`` on ``device``: loaded from ``state``, else seeded as the scratch twin; its
    Dropout draws from ``dropout_rng`` (a NumPy Generator or a seed; None: torch's own generator)."""
    model = TorchDogCatNet(spec, TORCH_DTYPES[dtype], device=device, dropout_rng=dropout_rng)
    if state is None:
        state = initial_state_dict(spec, seed, dtype)
    load_scratch_state(model, state)  # each value takes the model's dtype and device
    return model


def to_numpy_state(state: Mapping[str, Any]) -> dict:
    """State dict with every value a NumPy array (tensors are copied to host)."""
    out = {}
    for k, v in state.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().numpy()
        out[k] = np.array(v, copy=True)
    return out


def max_parameter_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[float, str]:
    """max |a[k] − b[k]| over all floating entries, and the key where it occurs."""
    worst, where = 0.0, ""
    a_np, b_np = to_numpy_state(a), to_numpy_state(b)
    if set(a_np) != set(b_np):
        raise KeyError(f"state dicts differ in keys: {sorted(set(a_np) ^ set(b_np))}")
    for k, va in a_np.items():
        vb = b_np[k]
        if va.dtype.kind != "f":
            continue
        d = float(np.max(np.abs(va.astype(np.float64) - vb.astype(np.float64)), initial=0.0))
        if np.isnan(d) or d > worst:  # NaN counts as the worst
            worst, where = d, k
            if np.isnan(d):
                break
    return worst, where


__all__ = ["initial_state_dict", "build_scratch_model", "build_torch_model", "to_numpy_state",
           "max_parameter_difference"]
