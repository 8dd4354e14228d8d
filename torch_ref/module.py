"""Moving weights across the twins: a scratch ``state_dict`` into a torch module.

The scratch side needs no converter: ``scratch.module.Module.load_state_dict``
takes torch tensors directly. The torch side takes tensors only, so the arrays
are wrapped first; ``torch.nn.Module.load_state_dict`` then copies each one into
the parameter or buffer of the same key, in that tensor's own dtype and on its
own device (``copy_`` semantics), exactly as it loads a torch checkpoint.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

__all__ = ["load_scratch_state"]


def load_scratch_state(module: torch.nn.Module, source: Any, strict: bool = True) -> Any:
    """Load a scratch module (or its ``state_dict()``) into ``module``; returns torch's result.

    ``source`` may be a scratch :class:`~scratch.module.Module`, or a mapping of
    NumPy arrays, array-likes or tensors keyed as torch keys them
    (``0.weight``, ``features.1.running_mean`` …).
    """
    state: Mapping[str, Any] = source.state_dict() if hasattr(source, "state_dict") else source
    tensors = {
        k: v.detach() if isinstance(v, torch.Tensor) else torch.from_numpy(np.array(v, copy=True))
        for k, v in state.items()
    }
    return module.load_state_dict(tensors, strict=strict)
