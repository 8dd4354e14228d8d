"""The scalar graph on torch autograd: the same interface as ``scratch.graph.Value``.

Each ``Value`` wraps a 0-d float64 tensor with ``requires_grad``; operations
are torch operations, so autograd builds the graph and supplies the backward.
Interior tensors call ``retain_grad()`` so that ``.grad`` is readable on every
node, as in the scratch twin. The same expression code runs with either class::

    def neuron(V):
        w0, x0, w1, x1, w2 = map(V, (2.0, -1.0, -3.0, -2.0, -3.0))
        return (w0 * x0 + w1 * x1 + w2).sigmoid()

``.data`` and ``.grad`` are Python floats; assigning ``.data`` writes into the
leaf tensor without recording, so ``w.data -= lr * w.grad`` is an SGD step on
both twins.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

import torch


def _type_name(x: Any) -> str:
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _as_number(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(
            f"{what}: expected a real number (int or float) or a Value, "
            f"got {_type_name(x)} {x!r}"
        )
    return float(x)


class Value:
    """A scalar node backed by a 0-d float64 tensor (``.tensor``)."""

    __slots__ = ("tensor", "_prev", "_op")

    def __init__(self, data: Any, _children: Iterable["Value"] = (), _op: str = "") -> None:
        if isinstance(data, torch.Tensor):
            self.tensor = data
        else:
            self.tensor = torch.tensor(_as_number(data, "Value"), dtype=torch.float64, requires_grad=True)
        self._prev = tuple(_children)
        self._op = _op
        if self._prev:
            self.tensor.retain_grad()

    @staticmethod
    def _wrap(other: Any, op: str) -> "Value":
        if isinstance(other, Value):
            return other
        return Value(_as_number(other, f"Value {op}"))

    @property
    def data(self) -> float:
        return float(self.tensor.detach())

    @data.setter
    def data(self, value: float) -> None:
        with torch.no_grad():
            self.tensor.fill_(_as_number(value, "Value.data"))

    @property
    def grad(self) -> float:
        g = self.tensor.grad
        return 0.0 if g is None else float(g)

    @grad.setter
    def grad(self, value: float) -> None:
        self.tensor.grad = torch.tensor(_as_number(value, "Value.grad"), dtype=torch.float64)

    def __add__(self, other: Any) -> "Value":
        other = self._wrap(other, "+")
        return Value(self.tensor + other.tensor, (self, other), "+")

    def __mul__(self, other: Any) -> "Value":
        other = self._wrap(other, "*")
        return Value(self.tensor * other.tensor, (self, other), "*")

    def __pow__(self, other: Any) -> "Value":
        if isinstance(other, Value):
            return Value(self.tensor**other.tensor, (self, other), "**")
        k = _as_number(other, "Value **")
        return Value(self.tensor**k, (self,), f"**{k:g}")

    def __rpow__(self, other: Any) -> "Value":
        return self._wrap(other, "**").__pow__(self)

    def __neg__(self) -> "Value":
        return self * -1

    def __radd__(self, other: Any) -> "Value":
        return self + other

    def __sub__(self, other: Any) -> "Value":
        return self + (-self._wrap(other, "-"))

    def __rsub__(self, other: Any) -> "Value":
        return self._wrap(other, "-") + (-self)

    def __rmul__(self, other: Any) -> "Value":
        return self * other

    def __truediv__(self, other: Any) -> "Value":
        return self * self._wrap(other, "/") ** -1

    def __rtruediv__(self, other: Any) -> "Value":
        return self._wrap(other, "/") / self

    def exp(self) -> "Value":
        return Value(torch.exp(self.tensor), (self,), "exp")

    def log(self) -> "Value":
        return Value(torch.log(self.tensor), (self,), "log")

    def tanh(self) -> "Value":
        return Value(torch.tanh(self.tensor), (self,), "tanh")

    def sigmoid(self) -> "Value":
        return Value(torch.sigmoid(self.tensor), (self,), "sigmoid")

    def relu(self) -> "Value":
        return Value(torch.relu(self.tensor), (self,), "relu")

    def topological_order(self) -> list["Value"]:
        """Every node reachable from ``self``, each after all the nodes it depends on."""
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if id(child) not in visited)
        return order

    def backward(self) -> None:
        """Autograd from this node; interior grads are reset first, leaves accumulate (as scratch)."""
        for node in self.topological_order():
            if node._prev:
                node.tensor.grad = None
        self.tensor.backward(retain_graph=True)

    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r})"


__all__ = ["Value"]
