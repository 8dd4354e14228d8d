"""Linear layer and Sequential container, by hand.

``Linear``: y = x Wᵀ + b with ``weight`` (out, in) and ``bias`` (out,), exactly
``torch.nn.Linear``. Seed idea: stacking linear layers without a nonlinearity
collapses into a single linear map, W = W_k … W_2 W_1 (see
``collapse_linear_stack``).

The normalization layers live in :mod:`scratch.normalization`.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from scratch.module import Module, Parameter, as_float_array, check_shape
from scratch.normalization import BatchNorm1d, BatchNorm2d  # noqa: F401  re-exported for existing imports; defined in scratch.normalization


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class Linear(Module):
    """y = x Wᵀ + b.

    Shapes: x (N, in_features) or (in_features,), weight (out, in), bias (out,).
    Initialization is torch's default: kaiming_uniform_(a=√5), i.e.
    W, b ~ U(−1/√in, 1/√in).

    Backward, for upstream dY (N, out):
        dX = dY W,   dW = dYᵀ X,   db = Σ_n dY.

    ``needs_input_grad = False`` (torch's name for the same switch) marks an
    input that is data, not a function of parameters: backward then adds dW
    and db but skips dX, an (N, out)·(out, in) product as costly as dW when
    the input is an image, and returns ``None``, as torch's autograd never
    forms the gradient of an input without ``requires_grad``.

    Dtypes follow torch's rule for every layer with parameters (Linear, Conv2d,
    BatchNorm, affine LayerNorm): the input must have the parameters' dtype, else
    a TypeError says which to cast (torch raises a RuntimeError); nothing is cast
    silently. Layers without parameters (activations, Dropout, pooling, Flatten)
    take float32 or float64 and return the dtype they were given.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(
                f"Linear: in_features and out_features must be positive, "
                f"got {in_features} and {out_features}"
            )
        self.in_features, self.out_features = int(in_features), int(out_features)
        gen = _rng(rng)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(
            gen.uniform(-bound, bound, size=(out_features, in_features)).astype(dtype)
        )
        self.bias = (
            Parameter(gen.uniform(-bound, bound, size=(out_features,)).astype(dtype))
            if bias
            else None
        )
        self.needs_input_grad = True
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, "Linear input")
        if x.ndim not in (1, 2) or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: expected input of shape (N, {self.in_features}) or "
                f"({self.in_features},), got {tuple(x.shape)}"
            )
        w = self.weight.data
        if x.dtype != w.dtype:  # torch: "mat1 and mat2 must have the same dtype"
            raise TypeError(
                f"Linear: input dtype {x.dtype} does not match the layer's {w.dtype}; cast one of them "
                f"(x.astype(np.{w.dtype}) or layer.to(np.{x.dtype}))"
            )
        self._x = x
        if x.ndim == 2 and x.shape[0] < self.out_features:
            # (W xᵀ)ᵀ = x Wᵀ with the longer side first: multithreaded OpenBLAS ran a
            # (128, 30,000) batch into 256 units 2-5x faster this way (scripts/bench.py).
            y = (self.weight.data @ x.T).T
        else:
            y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data  # y is a fresh product, so in place is safe
        return y

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._x is None:
            raise RuntimeError("Linear.backward called before forward")
        x = self._x
        dout = np.asarray(dout)
        x2, d2 = np.atleast_2d(x), np.atleast_2d(dout)
        check_shape(d2, (x2.shape[0], self.out_features), "Linear.backward dout")
        self.weight.accumulate_grad(d2.T @ x2, fresh=True)  # dW = dYᵀ X
        if self.bias is not None:
            self.bias.accumulate_grad(d2.sum(axis=0), fresh=True)  # db = Σ_n dY
        if not self.needs_input_grad:
            return None
        dx = d2 @ self.weight.data  # dX = dY W
        return dx.reshape(x.shape)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Flatten(Module):
    """(N, d1, d2, …) → (N, d1·d2·…), like ``torch.nn.Flatten()``; backward reshapes back."""

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, "Flatten input")
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.asarray(dout).reshape(self._shape)


class Sequential(Module):
    """Chain of modules; children are named ``0``, ``1``, … like ``torch.nn.Sequential``.

    Backward runs the children's backward in reverse order (the chain rule);
    a child that returns ``None`` (a Linear with ``needs_input_grad = False``)
    ends it, and backward returns ``None``.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(
                    f"Sequential: argument {i} must be a scratch Module, got {type(m).__name__}"
                )
            setattr(self, str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, idx: int) -> Module:
        return list(self._modules.values())[idx]

    def __iter__(self) -> Iterable[Module]:
        return iter(self._modules.values())

    def forward(self, x: np.ndarray) -> np.ndarray:
        for m in self._modules.values():
            x = m.forward(x)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for m in reversed(list(self._modules.values())):
            dout = m.backward(dout)
            if dout is None:
                return None
        return dout


def collapse_linear_stack(layers: Iterable[Linear]) -> tuple[np.ndarray, np.ndarray]:
    """The single linear map (W, b) equal to a stack of Linear layers with no activation.

    y = W_k(…(W_2(W_1 x + b_1) + b_2)…) + b_k = W x + b with
    W = W_k … W_1 and b folded through the same products.
    """
    W = b = None
    for layer in layers:
        if not isinstance(layer, Linear):
            raise TypeError(f"collapse_linear_stack: expected Linear, got {type(layer).__name__}")
        Wl = layer.weight.data
        bl = layer.bias.data if layer.bias is not None else np.zeros(Wl.shape[0], Wl.dtype)
        if W is None:
            W, b = Wl.copy(), bl.copy()
        else:
            W, b = Wl @ W, Wl @ b + bl
    if W is None:
        raise ValueError("collapse_linear_stack: expected at least one Linear layer, got none")
    return W, b
