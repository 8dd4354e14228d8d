"""2-D convolution with torch.nn: the reference the scratch twin must match.

``torch.nn.Conv2d`` stores ``weight`` as (out, in/groups, kh, kw) and
initializes W, b ~ U(−1/√fan_in, 1/√fan_in), fan_in = in/groups·kh·kw;
oneDNN runs it on the CPU and autograd supplies the backward. ``im2col`` and
``col2im`` are ``torch.nn.functional.unfold`` and ``fold`` under the scratch
names and signatures: the same (N, C·kh·kw, OH·OW) column layout.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.nn import Conv2d

__all__ = ["Conv2d", "im2col", "col2im", "conv_output_size"]


def conv_output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """⌊(size + pad_total − dilation·(kernel − 1) − 1)/stride⌋ + 1, torch's formula."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def im2col(x: torch.Tensor, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1) -> torch.Tensor:
    """(N, C, H, W) → (N, C·kh·kw, OH·OW): ``F.unfold`` (symmetric padding only)."""
    return F.unfold(x, kernel_size, dilation=dilation, padding=padding, stride=stride)


def col2im(
    cols: torch.Tensor, input_shape: tuple, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1
) -> torch.Tensor:
    """(N, C·kh·kw, OH·OW) summed back onto (N, C, H, W): ``F.fold``, the adjoint of ``unfold``."""
    return F.fold(cols, tuple(input_shape[-2:]), kernel_size, dilation=dilation, padding=padding, stride=stride)
