"""Optimizers from ``torch.optim``: the reference the scratch twins must match.

The classes are torch's own. The two converters move an optimizer's
``state_dict`` between the twins, so a run can be resumed on the other side:

    torch_opt.load_state_dict(state_dict_to_torch(scratch_opt.state_dict(), torch_opt))
    scratch_opt.load_state_dict(state_dict_from_torch(torch_opt.state_dict()))

(a scratch optimizer also loads a torch ``state_dict`` directly).
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import numpy as np
import torch
from torch.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "state_dict_to_torch", "state_dict_from_torch"]


def state_dict_to_torch(state: Mapping[str, Any], optimizer: Optimizer) -> dict[str, Any]:
    """A scratch optimizer ``state_dict`` as ``optimizer.load_state_dict`` expects it.

    Arrays become tensors; ``step`` becomes torch's 0-d float32 tensor. Each
    saved group is completed with the torch-only options of ``optimizer``'s
    matching group (``foreach``, ``fused``, ``capturable``, ``differentiable``)
    which the scratch side does not have.
    """
    if len(state["param_groups"]) != len(optimizer.param_groups):
        raise ValueError(
            f"state_dict_to_torch: {len(state['param_groups'])} saved parameter groups, "
            f"the torch optimizer has {len(optimizer.param_groups)}"
        )
    groups = []
    for saved, own in zip(state["param_groups"], optimizer.param_groups):
        group = {k: copy.deepcopy(v) for k, v in own.items() if k != "params"}
        group.update(copy.deepcopy(dict(saved)))
        groups.append(group)
    tensors = {}
    for index, entry in state["state"].items():
        tensors[int(index)] = {
            name: (
                torch.tensor(float(value), dtype=torch.float32)
                if name == "step"
                else torch.from_numpy(np.array(value, copy=True))
            )
            for name, value in entry.items()
        }
    return {"state": tensors, "param_groups": groups}


def state_dict_from_torch(state: Mapping[str, Any]) -> dict[str, Any]:
    """A torch optimizer ``state_dict`` with NumPy arrays and float ``step``, as scratch keeps it."""
    out_state = {}
    for index, entry in state["state"].items():
        out_state[int(index)] = {
            name: (
                float(value)
                if name == "step"
                else value.detach().cpu().numpy().copy()
            )
            for name, value in entry.items()
        }
    groups = [copy.deepcopy(dict(g)) for g in state["param_groups"]]
    return {"state": out_state, "param_groups": groups}
