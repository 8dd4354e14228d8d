"""Linear layer and Sequential container, by hand.

``Linear``: y = x Wᵀ + b with ``weight`` (out, in) and ``bias`` (out,), exactly
``torch.nn.Linear``. Seed idea: stacking linear layers without a nonlinearity
collapses into a single linear map, W = W_k … W_2 W_1 (see
``collapse_linear_stack``).

``BatchNorm1d`` / ``BatchNorm2d``: x̂ = (x − μ_B)/√(σ²_B + ε), y = γx̂ + β per
channel, as ``torch.nn.BatchNormNd``; seed idea: re-centring and re-scaling
every layer's input keeps activations out of the saturated regions whatever
the scale of the weights before it.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from scratch.module import Module, Parameter, as_float_array, check_shape


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


class _BatchNorm(Module):
    """Batch normalization over every axis but the channel axis 1, as ``torch.nn.BatchNormNd``.

    Per channel c, over the m = N·(spatial size) values of a batch:

        μ = (1/m) Σ x,   σ² = (1/m) Σ (x − μ)²   (biased),   x̂ = (x − μ)/√(σ² + ε),
        y = γ x̂ + β                               (γ = ``weight``, β = ``bias``; affine)

    Training mode normalizes with the batch's μ, σ² and updates the buffers
    with the *unbiased* variance m/(m−1)·σ²:

        running_mean ← (1−p) running_mean + p μ,  running_var ← (1−p) running_var + p m σ²/(m−1),

    p = ``momentum`` (0.1), or 1/``num_batches_tracked`` when ``momentum=None``
    (a cumulative average). Eval mode normalizes with the running buffers;
    without ``track_running_stats`` it uses the batch statistics in both modes.

    Backward with batch statistics, the compact closed form (σ̂ = √(σ²+ε)):

        dγ = Σ dy·x̂,   dβ = Σ dy,   dx = (1/m)·γ/σ̂·(m·dy − Σ dy − x̂·Σ(dy·x̂)),

    the last two terms being the paths through μ and σ². With running
    statistics μ and σ² are constants and dx = γ·dy/√(running_var + ε).
    """

    _expected_ndim: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        if num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, got {num_features}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))  # torch: init.ones_
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))  # torch: init.zeros_
        else:
            self.weight = self.bias = None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self._cache: tuple | None = None

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, f"{type(self).__name__} input")
        if x.ndim not in self._expected_ndim:
            dims = " or ".join(f"{d}D" for d in self._expected_ndim)
            raise ValueError(f"{type(self).__name__}: expected {dims} input (got {x.ndim}D input)")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}: expected {self.num_features} channels on axis 1, "
                f"got input of shape {tuple(x.shape)}"
            )
        own = self.weight.data if self.affine else self.running_mean
        if own is not None and x.dtype != own.dtype:
            raise TypeError(
                f"{type(self).__name__}: input dtype {x.dtype} does not match the layer's "
                f"{own.dtype}; cast one of them (e.g. layer.to(np.{x.dtype}))"
            )
        return x

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, -1) + (1,) * (x.ndim - 2)  # broadcast a (C,) vector over (N, C, …)
        m = x.size // self.num_features
        use_batch_stats = self.training or not self.track_running_stats
        if use_batch_stats:
            if m == 1:
                raise ValueError(
                    f"Expected more than 1 value per channel when training, got input size {tuple(x.shape)}"
                )
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(bshape)
            var = (xc * xc).mean(axis=axes)  # biased: divides by m
            if self.training and self.track_running_stats:
                self.num_batches_tracked = self.num_batches_tracked + 1  # a registered buffer: __setattr__ keeps it one
                p = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                unbiased = var * (m / (m - 1))
                self.running_mean[...] = p * mean + (1 - p) * self.running_mean
                self.running_var[...] = p * unbiased + (1 - p) * self.running_var
        else:
            xc = x - self.running_mean.reshape(bshape)
            var = self.running_var
        invstd = 1.0 / np.sqrt(var + self.eps)
        x_hat = xc * invstd.reshape(bshape)
        self._cache = (x_hat, invstd, use_batch_stats, axes, bshape, m)
        if not self.affine:
            return x_hat
        return x_hat * self.weight.data.reshape(bshape) + self.bias.data.reshape(bshape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        x_hat, invstd, use_batch_stats, axes, bshape, m = self._cache
        dout = np.asarray(dout)
        if dout.shape != x_hat.shape:
            raise ValueError(
                f"{type(self).__name__}.backward: expected dout of shape {x_hat.shape}, got {dout.shape}"
            )
        dgamma = (dout * x_hat).sum(axis=axes)  # dL/dγ = Σ dy·x̂
        dbeta = dout.sum(axis=axes)  # dL/dβ = Σ dy
        if self.affine:
            self.weight.accumulate_grad(dgamma)
            self.bias.accumulate_grad(dbeta)
            scale = self.weight.data * invstd  # γ/σ̂
        else:
            scale = invstd
        if not use_batch_stats:
            return dout * scale.reshape(bshape)  # dx = γ dy / √(running_var + ε)
        # dx = (1/m)·γ/σ̂·(m·dy − Σdy − x̂·Σ(dy·x̂))
        return (scale / m).reshape(bshape) * (
            m * dout - dbeta.reshape(bshape) - x_hat * dgamma.reshape(bshape)
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) input, statistics per feature C (``torch.nn.BatchNorm1d``)."""

    _expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) input, statistics per channel over N·H·W (``torch.nn.BatchNorm2d``)."""

    _expected_ndim = (4,)
