"""Gradient clipping from ``torch.nn.utils``: the reference the scratch twin must match.

``clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None)``
rescales every ``.grad`` by min(max_norm/(‖g‖ + 1e-6), 1) and returns the total
norm ‖g‖ (a 0-d tensor); ``clip_grad_value_(parameters, clip_value)`` clamps
each coordinate to [−clip_value, clip_value]. ``get_total_norm`` and
``clip_grads_with_norm_`` are the two halves of ``clip_grad_norm_``. All four
are torch's own.
"""

from __future__ import annotations

from torch.nn.utils import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]
