"""Parameters and modules shaped like ``torch.nn``, holding NumPy arrays.

A scratch :class:`Module` keeps torch's contract so that the two twins are
interchangeable: ``parameters()``, ``named_parameters()`` with torch's dotted
names, ``state_dict()`` / ``load_state_dict()`` with the same keys and shapes,
``train()`` / ``eval()``, and gradients that *accumulate* into ``.grad`` until
``zero_grad()`` clears them.

What torch does with autograd, a scratch module does by hand: ``forward(x)``
caches what its backward needs, ``backward(dout)`` returns the gradient with
respect to the input and adds the gradients of its own parameters into their
``.grad``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator, Mapping, NamedTuple

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_float_array(x: Any, name: str = "input", dtype: Any = None) -> np.ndarray:
    """Return ``x`` as a real floating-point array, or raise a clear error.

    Integer, boolean and complex inputs are rejected rather than silently cast:
    the twins are compared in float32 and float64 only.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "f" or arr.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name}: expected a float32 or float64 array, got dtype {arr.dtype}"
        )
    if dtype is not None and arr.dtype != np.dtype(dtype):
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}, got {arr.dtype}")
    return arr


def check_shape(x: np.ndarray, expected: tuple, name: str) -> None:
    """Raise ``ValueError`` unless ``x.shape`` matches ``expected`` (``None`` = any size)."""
    ok = x.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, x.shape)
    )
    if not ok:
        shown = "(" + ", ".join("N" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name}: expected shape {shown}, got {tuple(x.shape)}")


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns, as torch's: keys the module has that the state
    lacked, and keys of the state the module does not have."""

    missing_keys: list
    unexpected_keys: list


class Parameter:
    """A trainable array: ``.data`` holds the value, ``.grad`` the accumulated gradient.

    Like ``torch.nn.Parameter``, ``grad`` is ``None`` until a backward pass
    writes it, and further backward passes add to it.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = as_float_array(data, "Parameter").copy()
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def accumulate_grad(self, g: np.ndarray, fresh: bool = False) -> None:
        """``grad += g``, allocating on first use (torch's accumulation rule).

        ``fresh=True`` promises that ``g`` was just computed for this call and
        nothing else refers to it: on first use it then becomes ``.grad``
        without a copy, as torch's AccumulateGrad steals such a buffer.
        """
        if self.grad is None:
            keep = fresh and isinstance(g, np.ndarray) and g.dtype == self.data.dtype
            self.grad = g if keep else np.array(g, dtype=self.data.dtype, copy=True)
        else:
            self.grad += g

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every scratch layer, mirroring ``torch.nn.Module``.

    Attributes that are :class:`Parameter` or :class:`Module` instances are
    registered in assignment order, so names come out as torch's
    (``0.weight``, ``layers.1.bias`` ...). Buffers (running statistics) are
    registered with :meth:`register_buffer`.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration -------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() "
                "before assigning attributes"
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if name in buffers and not isinstance(value, (Parameter, Module)):
            buffers[name] = value  # a registered buffer stays registered, in place, as in torch
        else:
            for registry in (params, modules, buffers):
                registry.pop(name, None)
            if isinstance(value, Parameter):
                params[name] = value
            elif isinstance(value, Module):
                modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: np.ndarray | None) -> None:
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    # -- traversal ----------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator["Module"]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for mod_name, mod in self.named_modules(prefix):
            for name, b in mod._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    # -- modes and gradients ------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear accumulated gradients (torch's default: set them to ``None``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    # -- state --------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of parameters and buffers, keyed and ordered as torch keys them."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in mod._parameters.items():
                out[pre + name] = p.data.copy()
            for name, b in mod._buffers.items():
                if b is not None:
                    out[pre + name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Load arrays (or torch tensors) by key; shapes must match exactly.

        Values keep this module's dtype, like torch's ``copy_`` semantics. As in
        torch, ``strict=True`` raises ``RuntimeError`` when keys differ, and the
        missing and unexpected keys are returned either way.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}: "
                f"missing keys {missing}, unexpected keys {unexpected}"
            )
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in mod._parameters.items():
                if pre + name in state:
                    value = _to_numpy(state[pre + name])
                    if value.shape != p.data.shape:
                        raise ValueError(
                            f"load_state_dict: {pre + name} expected shape "
                            f"{p.data.shape}, got {value.shape}"
                        )
                    p.data = value.astype(p.data.dtype, copy=True)
            for name, b in list(mod._buffers.items()):
                if b is not None and pre + name in state:
                    value = _to_numpy(state[pre + name])
                    if value.shape != np.shape(b):
                        raise ValueError(
                            f"load_state_dict: {pre + name} expected shape "
                            f"{np.shape(b)}, got {value.shape}"
                        )
                    mod.register_buffer(name, value.astype(np.asarray(b).dtype, copy=True))
        return IncompatibleKeys(missing, unexpected)

    def to(self, dtype: Any) -> "Module":
        """Cast every floating parameter and buffer to ``dtype`` (like ``module.to(dtype)``)."""
        dtype = np.dtype(dtype)
        for m in self.modules():
            for p in m._parameters.values():
                p.data = p.data.astype(dtype)
                p.grad = None if p.grad is None else p.grad.astype(dtype)
            for name, b in list(m._buffers.items()):
                if b is not None and np.asarray(b).dtype.kind == "f":
                    m.register_buffer(name, np.asarray(b).astype(dtype))
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    # -- computation --------------------------------------------------------
    def forward(self, *args: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dout: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def __call__(self, *args: Any) -> Any:
        return self.forward(*args)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")


def _to_numpy(value: Any) -> np.ndarray:
    """Arrays pass through; torch tensors are detached and copied to host first."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)
