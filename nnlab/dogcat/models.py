"""The dog/cat classifiers, built twice (NumPy by hand and torch) with one state_dict.

Two models, both ending in one logit z whose sigmoid is P(dog):

- ``logistic``: z = w·x + b on the flattened image, x ∈ ℝ^(3·H·W) (30,000 inputs
  at 100x100). This is logistic regression: the Bernoulli likelihood with a
  linear log-odds, the seed model of the project.
- ``mlp``: hidden blocks ``Linear → [BatchNorm1d] → activation`` of the given
  sizes, then ``Linear(last, 1)``. A Linear followed by BatchNorm has no bias:
  BN subtracts the batch mean, so that bias would have gradient exactly 0 in
  exact arithmetic and round-off noise in floating point, noise which Adam's
  g/√v would amplify into steps of size lr (and BN's β already shifts).

Both twins name their parameters the same way, so a state_dict moves freely
between them::

    features.0.weight, features.0.bias, [features.1.weight, … running_mean …],
    classifier.weight (1, fan_in), classifier.bias (1,)

The initial weights come from one NumPy generator seeded by ``seed`` (torch's
default distribution, U(−1/√fan_in, 1/√fan_in)), and the torch twin loads
them: ``--impl torch`` and ``--impl scratch`` start from the same point.

Shapes: input (N, 3, H, W) or (N, 3·H·W), float; output logits (N,).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import torch

import scratch.layers as scratch_layers
import scratch.mlp as scratch_mlp
import torch_ref.mlp as torch_mlp
from scratch.module import Module
from torch_ref.module import load_scratch_state

MODEL_KINDS = ("logistic", "mlp")

#: Activation names accepted by ``--activation``; each twin's class comes from
#: ``scratch.mlp.ACTIVATIONS`` / ``torch_ref.mlp.ACTIVATIONS``.
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid")

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}
NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model; stored in checkpoints as a plain dict."""

    kind: str = "logistic"
    input_shape: tuple = (3, 100, 100)
    hidden: tuple = ()
    activation: str = "relu"
    batchnorm: bool = False

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"model: expected one of {MODEL_KINDS}, got {self.kind!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation: expected one of {tuple(ACTIVATIONS)}, got {self.activation!r}"
            )
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        hidden = tuple(int(h) for h in self.hidden) if self.kind == "mlp" else ()
        if self.kind == "mlp" and not hidden:
            raise ValueError("model 'mlp' needs at least one hidden size, e.g. --hidden 256")
        if any(h <= 0 for h in hidden):
            raise ValueError(f"hidden sizes must be positive, got {list(hidden)}")
        object.__setattr__(self, "hidden", hidden)
        if self.kind == "logistic":
            object.__setattr__(self, "batchnorm", False)

    @property
    def in_features(self) -> int:
        return int(np.prod(self.input_shape))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"], d["hidden"] = list(self.input_shape), list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelSpec":
        return cls(
            kind=d["kind"],
            input_shape=tuple(d["input_shape"]),
            hidden=tuple(d.get("hidden", ())),
            activation=d.get("activation", "relu"),
            batchnorm=bool(d.get("batchnorm", False)),
        )

    def describe(self) -> str:
        """Short name for run folders: ``logistic`` or ``mlp256-128-relu-bn``."""
        if self.kind == "logistic":
            return "logistic"
        name = "mlp" + "-".join(str(h) for h in self.hidden) + f"-{self.activation}"
        return name + ("-bn" if self.batchnorm else "")


# -- scratch twin -------------------------------------------------------------


class ScratchDogCatNet(Module):
    """The NumPy model: ``forward(x) → logits (N,)``, ``backward(dlogits)``.

    Backward stops at the first layer's parameters: the input is data, so
    dX of the first Linear (an (N, 30,000) product as costly as dW) is never
    formed, as torch's autograd skips it for inputs without ``requires_grad``.
    """

    def __init__(self, spec: ModelSpec, dtype: Any = np.float64, rng: Any = None) -> None:
        super().__init__()
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.spec = spec
        blocks: list[Module] = []
        fan_in = spec.in_features
        for width in spec.hidden:
            blocks.append(scratch_layers.Linear(fan_in, width, bias=not spec.batchnorm, dtype=dtype, rng=gen))
            if spec.batchnorm:
                blocks.append(scratch_layers.BatchNorm1d(width, dtype=dtype))
            blocks.append(scratch_mlp.ACTIVATIONS[spec.activation]())
            fan_in = width
        self.features = scratch_layers.Sequential(*blocks)
        self.classifier = scratch_layers.Linear(fan_in, 1, dtype=dtype, rng=gen)
        first = blocks[0] if blocks else self.classifier
        first.needs_input_grad = False  # its input is data: dX is never formed

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        _check_input(x, self.spec)
        h = self.features.forward(x.reshape(x.shape[0], -1))
        return self.classifier.forward(h)[:, 0]

    def backward(self, dlogits: np.ndarray) -> None:
        """Add dL/dθ into every parameter's ``.grad`` for upstream dL/dz (N,)."""
        d = np.asarray(dlogits).reshape(-1, 1)
        for layer in reversed(list(self.features) + [self.classifier]):
            d = layer.backward(d)

    def extra_repr(self) -> str:
        return self.spec.describe()


def _check_input(x: Any, spec: ModelSpec) -> None:
    shape = tuple(x.shape)
    if shape[1:] not in (spec.input_shape, (spec.in_features,)):
        want = ", ".join(str(s) for s in spec.input_shape)
        raise ValueError(
            f"{spec.describe()}: expected input of shape (N, {want}) or "
            f"(N, {spec.in_features}), got {shape}"
        )


# -- torch twin ---------------------------------------------------------------


class TorchDogCatNet(torch.nn.Module):
    """The torch model, parameter for parameter the same as :class:`ScratchDogCatNet`."""

    def __init__(self, spec: ModelSpec, dtype: torch.dtype = torch.float32, device: Any = None) -> None:
        super().__init__()
        self.spec = spec
        kw = dict(dtype=dtype, device=device)
        blocks: list[torch.nn.Module] = []
        fan_in = spec.in_features
        for width in spec.hidden:
            blocks.append(torch.nn.Linear(fan_in, width, bias=not spec.batchnorm, **kw))
            if spec.batchnorm:
                blocks.append(torch.nn.BatchNorm1d(width, **kw))
            blocks.append(torch_mlp.ACTIVATIONS[spec.activation]())
            fan_in = width
        self.features = torch.nn.Sequential(*blocks)
        self.classifier = torch.nn.Linear(fan_in, 1, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.spec)
        return self.classifier(self.features(x.flatten(1))).squeeze(1)

    def extra_repr(self) -> str:
        return self.spec.describe()


# -- building and moving weights ---------------------------------------------


def initial_state_dict(spec: ModelSpec, seed: int, dtype: str = "float64") -> dict:
    """The seeded starting weights both twins load (NumPy arrays, torch's keys)."""
    return dict(ScratchDogCatNet(spec, NUMPY_DTYPES[dtype], rng=np.random.default_rng(seed)).state_dict())


def build_scratch_model(
    spec: ModelSpec, dtype: str = "float64", state: Mapping | None = None, seed: int = 0
) -> ScratchDogCatNet:
    """A scratch model in ``dtype``: loaded from ``state`` (arrays or tensors), else seeded."""
    model = ScratchDogCatNet(spec, NUMPY_DTYPES[dtype], rng=np.random.default_rng(seed))
    if state is not None:
        model.load_state_dict(to_numpy_state(state))
    return model


def build_torch_model(
    spec: ModelSpec, dtype: str = "float32", state: Mapping | None = None, device: Any = "cpu", seed: int = 0
) -> TorchDogCatNet:
    """A torch model in ``dtype`` on ``device``: loaded from ``state``, else seeded as the scratch twin."""
    model = TorchDogCatNet(spec, TORCH_DTYPES[dtype], device=device)
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


__all__ = [
    "ACTIVATIONS", "MODEL_KINDS", "ModelSpec", "ScratchDogCatNet", "TorchDogCatNet",
    "initial_state_dict", "build_scratch_model", "build_torch_model",
    "to_numpy_state", "max_parameter_difference",
]
