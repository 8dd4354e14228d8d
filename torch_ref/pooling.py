"""Pooling with torch.nn: the reference the scratch twins must match.

``MaxPool2d`` (first maximum of each window wins, NaN propagates),
``AvgPool2d`` (``count_include_pad``, ``divisor_override``) and
``AdaptiveAvgPool2d`` (bins [⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉)) are torch's own.
"""

from __future__ import annotations

from torch.nn import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "pool_output_size"]


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """torch's ``pooling_output_shape``: ceil_mode rounds up unless the last window would start past the input."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out
