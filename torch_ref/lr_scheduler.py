"""Learning-rate schedulers from ``torch.optim.lr_scheduler``: the reference the scratch twins must match.

The classes are torch's own; call ``step()`` after ``optimizer.step()``
(``ReduceLROnPlateau.step(metric)`` after an evaluation). Their state_dicts
hold plain Python values under the same keys as the scratch twins', so each
side loads the other's directly, no converter needed::

    torch_scheduler.load_state_dict(scratch_scheduler.state_dict())
    scratch_scheduler.load_state_dict(torch_scheduler.state_dict())

To resume (either side, or across): build the optimizer and the scheduler as
at the start, then load the optimizer's state, then the scheduler's.
"""

from __future__ import annotations

from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
]
