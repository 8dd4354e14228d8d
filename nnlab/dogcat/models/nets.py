"""The dog/cat networks, twice: :class:`ScratchDogCatNet` (NumPy, backward by hand) and :class:`TorchDogCatNet`.

Both are built from a :class:`~nnlab.dogcat.models.spec.ModelSpec` into the same
modules under the same names, so their state_dicts carry the same keys:

    logistic   classifier
    mlp        features = Sequential(Linear, [BatchNorm1d], activation, [Dropout], …), classifier
    cnn        features = Sequential(ConvBlock, …), pool (global average), dropout, classifier

A :class:`ScratchConvBlock` / :class:`TorchConvBlock` is ``conv`` (3x3, padding 1, no
bias: the BatchNorm after it subtracts the batch mean, which would cancel a bias) →
``bn`` (BatchNorm2d) → ``act`` → ``pool`` (2x2 max-pool, halving the image), so the CNN's
keys read by block: ``features.0.conv.weight``, ``features.0.bn.running_mean``, …,
``classifier.weight``. With ReLU the block pools first: max(relu(a), relu(b)) =
relu(max(a, b)) exactly, and the gradient is the same too (it reaches the window's
first maximum if that is positive, nothing otherwise), so this is the same function
with the activation on a quarter of the pixels. Global average pooling makes the classifier's input the mean of
each last-block channel over the image, y = W·mean_{h,w}(features(x)) + b.

Dropout draws its masks from a NumPy generator (``dropout_rng``) in both twins; two
twins given generators seeded alike drop the same units (see ``scratch.dropout``).

Shapes: input (N, 3, H, W) (logistic and mlp also take (N, 3·H·W)), float; output
logits (N,).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import scratch.layers as scratch_layers
import scratch.mlp as scratch_mlp
import torch_ref.dropout as torch_dropout
import torch_ref.mlp as torch_mlp
from scratch.conv import Conv2d
from scratch.dropout import Dropout
from scratch.module import Module
from scratch.normalization import BatchNorm2d
from scratch.pooling import AdaptiveAvgPool2d, MaxPool2d
from nnlab.dogcat.models.spec import ModelSpec


def _generator(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# -- scratch twin -------------------------------------------------------------


class ScratchConvBlock(Module):
    """conv 3x3 (padding 1, no bias) → BatchNorm2d → activation → 2x2 max-pool.

    Shapes: (N, C_in, H, W) → (N, C_out, ⌊H/2⌋, ⌊W/2⌋).
    """

    def __init__(self, in_channels: int, out_channels: int, activation: str, dtype: Any, rng: Any) -> None:
        super().__init__()
        self.conv = Conv2d(in_channels, out_channels, 3, padding=1, bias=False, dtype=dtype, rng=rng)
        self.bn = BatchNorm2d(out_channels, dtype=dtype)
        self.act = scratch_mlp.ACTIVATIONS[activation]()
        self.pool = MaxPool2d(2)
        self.pool_first = activation == "relu"  # max-pool and ReLU commute: the same function, cheaper

    def forward(self, x: np.ndarray) -> np.ndarray:
        h = self.bn.forward(self.conv.forward(x))
        if self.pool_first:
            return self.act.forward(self.pool.forward(h))
        return self.pool.forward(self.act.forward(h))

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        if self.pool_first:
            d = self.pool.backward(self.act.backward(dout))
        else:
            d = self.act.backward(self.pool.backward(dout))
        return self.conv.backward(self.bn.backward(d))


class ScratchDogCatNet(Module):
    """The NumPy model: ``forward(x) → logits (N,)``, ``backward(dlogits)``.

    Backward stops at the first layer's parameters: the input is data, so dX of the
    first Linear or Conv2d (as costly as its dW) is never formed, as torch's autograd
    skips it for inputs without ``requires_grad``.
    """

    def __init__(self, spec: ModelSpec, dtype: Any = np.float64, rng: Any = None, dropout_rng: Any = None) -> None:
        super().__init__()
        gen, drop_gen = _generator(rng), _generator(dropout_rng)
        self.spec = spec
        blocks: list[Module] = []
        if spec.kind == "cnn":
            fan_in = spec.input_shape[0]
            for width in spec.channels:
                blocks.append(ScratchConvBlock(fan_in, width, spec.activation, dtype, gen))
                fan_in = width
        else:
            fan_in = spec.in_features
            for width in spec.hidden:
                blocks.append(scratch_layers.Linear(fan_in, width, bias=not spec.batchnorm, dtype=dtype, rng=gen))
                if spec.batchnorm:
                    blocks.append(scratch_layers.BatchNorm1d(width, dtype=dtype))
                blocks.append(scratch_mlp.ACTIVATIONS[spec.activation]())
                if spec.dropout:
                    blocks.append(Dropout(spec.dropout, rng=drop_gen))
                fan_in = width
        self.features = scratch_layers.Sequential(*blocks)
        if spec.kind == "cnn":
            self.pool = AdaptiveAvgPool2d(1)
            if spec.dropout:
                self.dropout = Dropout(spec.dropout, rng=drop_gen)
        self.classifier = scratch_layers.Linear(fan_in, 1, dtype=dtype, rng=gen)
        first = blocks[0] if blocks else self.classifier
        (first.conv if spec.kind == "cnn" else first).needs_input_grad = False  # its input is data

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        _check_input(x, self.spec)
        if self.spec.kind == "cnn":
            h = self.pool.forward(self.features.forward(x))
            h = h.reshape(h.shape[0], -1)
            if self.spec.dropout:
                h = self.dropout.forward(h)
        else:
            h = self.features.forward(x.reshape(x.shape[0], -1))
        return self.classifier.forward(h)[:, 0]

    def backward(self, dlogits: np.ndarray) -> None:
        """Add dL/dθ into every parameter's ``.grad`` for upstream dL/dz (N,)."""
        d = self.classifier.backward(np.asarray(dlogits).reshape(-1, 1))
        if self.spec.kind == "cnn":
            if self.spec.dropout:
                d = self.dropout.backward(d)
            d = self.pool.backward(d.reshape(d.shape + (1, 1)))
        self.features.backward(d)

    def extra_repr(self) -> str:
        return self.spec.describe()


def _check_input(x: Any, spec: ModelSpec) -> None:
    shape = tuple(x.shape)
    flat_ok = spec.kind != "cnn"
    if shape[1:] != spec.input_shape and not (flat_ok and shape[1:] == (spec.in_features,)):
        want = ", ".join(str(s) for s in spec.input_shape)
        also = f" or (N, {spec.in_features})" if flat_ok else ""
        raise ValueError(f"{spec.describe()}: expected input of shape (N, {want}){also}, got {shape}")


# -- torch twin ---------------------------------------------------------------


class TorchConvBlock(torch.nn.Module):
    """The torch twin of :class:`ScratchConvBlock`: ``conv``, ``bn``, ``act``, ``pool``."""

    def __init__(self, in_channels: int, out_channels: int, activation: str, **kw: Any) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False, **kw)
        self.bn = torch.nn.BatchNorm2d(out_channels, **kw)
        self.act = torch_mlp.ACTIVATIONS[activation]()
        self.pool = torch.nn.MaxPool2d(2)
        self.pool_first = activation == "relu"  # max-pool and ReLU commute: the same function, cheaper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn(self.conv(x))
        return self.act(self.pool(h)) if self.pool_first else self.pool(self.act(h))


class TorchDogCatNet(torch.nn.Module):
    """The torch model, parameter for parameter the same as :class:`ScratchDogCatNet`."""

    def __init__(self, spec: ModelSpec, dtype: torch.dtype = torch.float32, device: Any = None,
                 dropout_rng: Any = None) -> None:
        super().__init__()
        self.spec = spec
        kw = dict(dtype=dtype, device=device)
        blocks: list[torch.nn.Module] = []
        if spec.kind == "cnn":
            fan_in = spec.input_shape[0]
            for width in spec.channels:
                blocks.append(TorchConvBlock(fan_in, width, spec.activation, **kw))
                fan_in = width
        else:
            fan_in = spec.in_features
            for width in spec.hidden:
                blocks.append(torch.nn.Linear(fan_in, width, bias=not spec.batchnorm, **kw))
                if spec.batchnorm:
                    blocks.append(torch.nn.BatchNorm1d(width, **kw))
                blocks.append(torch_mlp.ACTIVATIONS[spec.activation]())
                if spec.dropout:
                    blocks.append(torch_dropout.Dropout(spec.dropout, rng=dropout_rng))
                fan_in = width
        self.features = torch.nn.Sequential(*blocks)
        if spec.kind == "cnn":
            self.pool = torch.nn.AdaptiveAvgPool2d(1)
            if spec.dropout:
                self.dropout = torch_dropout.Dropout(spec.dropout, rng=dropout_rng)
        self.classifier = torch.nn.Linear(fan_in, 1, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.spec)
        if self.spec.kind == "cnn":
            h = self.pool(self.features(x)).flatten(1)
            if self.spec.dropout:
                h = self.dropout(h)
        else:
            h = self.features(x.flatten(1))
        return self.classifier(h).squeeze(1)

    def extra_repr(self) -> str:
        return self.spec.describe()


__all__ = ["ScratchDogCatNet", "TorchDogCatNet", "ScratchConvBlock", "TorchConvBlock"]
