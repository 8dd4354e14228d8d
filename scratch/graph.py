"""A scalar computational graph with reverse-mode differentiation, by hand.

Every operation builds its output ``Value`` and, right beside it, a closure
``_backward`` that applies the chain rule locally: it adds
(local derivative) × ``out.grad`` into each input's ``.grad``. The ``+=`` is
the seed idea: a value used on several paths receives the *sum* of the
gradients along every path (the multivariable chain rule).

``backward()`` orders the graph topologically (every node after all nodes it
was computed from), sets the output's gradient to 1, and runs the closures in
reverse, so each node's gradient is complete before it is passed on.

Gradients of leaves accumulate across ``backward()`` calls, like torch's leaf
tensors; interior nodes are reset at the start of each call and show the
gradient of the latest pass. Where torch returns ``inf``/``nan`` (log of a
non-positive number, division by zero, ``exp(1000)``, ``inf − inf``) this class
raises instead: every value and every gradient is a finite float, so no NaN is
ever produced silently.

Example (the CS231n sigmoid neuron)::

    w0, x0, w1, x1, w2 = map(Value, (2.0, -1.0, -3.0, -2.0, -3.0))
    f = (w0 * x0 + w1 * x1 + w2).sigmoid()     # 0.731
    f.backward()                                # w0.grad = -0.197
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable


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


def _pow(base: float, exponent: float) -> float:
    try:
        return math.pow(base, exponent)
    except ValueError:
        raise ValueError(
            f"Value.__pow__: {base!r} ** {exponent!r} is not a real number "
            "(a negative base needs an integer exponent, a zero base a non-negative one)"
        ) from None
    except OverflowError:
        return math.inf


def _not_finite(value: float, children: tuple, op: str) -> None:
    """Raise for an inf/NaN value: a leaf given one, or an operation whose result overflowed."""
    if not op:
        raise ValueError(f"Value: expected a finite real number, got {value!r}")
    operands = ", ".join(repr(c.data) for c in children)
    raise OverflowError(
        f"Value {op}({operands}) = {value!r} is not a finite float (float64 ends near 1.8e308); "
        "torch would carry inf/nan on silently"
    )


class Value:
    """A scalar node: ``data`` (its value), ``grad`` (∂output/∂self after ``backward``)."""

    __slots__ = ("data", "grad", "_prev", "_op", "_backward")

    def __init__(self, data: Any, _children: Iterable["Value"] = (), _op: str = "") -> None:
        self.data = _as_number(data, "Value")
        if not math.isfinite(self.data):
            _not_finite(self.data, tuple(_children), _op)
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._backward: Callable[[], None] = lambda: None

    @staticmethod
    def _wrap(other: Any, op: str) -> "Value":
        if isinstance(other, Value):
            return other
        return Value(_as_number(other, f"Value {op}"))

    # -- arithmetic ---------------------------------------------------------
    def __add__(self, other: Any) -> "Value":
        other = self._wrap(other, "+")
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad  # ∂(a+b)/∂a = 1
            other.grad += out.grad  # ∂(a+b)/∂b = 1

        out._backward = _backward
        return out

    def __mul__(self, other: Any) -> "Value":
        other = self._wrap(other, "*")
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad  # ∂(ab)/∂a = b
            other.grad += self.data * out.grad  # ∂(ab)/∂b = a

        out._backward = _backward
        return out

    def __pow__(self, other: Any) -> "Value":
        if not isinstance(other, Value):
            k = _as_number(other, "Value **")
            out = Value(_pow(self.data, k), (self,), f"**{k:g}")

            def _backward() -> None:
                self.grad += k * _pow(self.data, k - 1) * out.grad  # ∂aᵏ/∂a = k·aᵏ⁻¹

            out._backward = _backward
            return out
        if self.data <= 0:
            raise ValueError(
                f"Value.__pow__: a Value exponent needs a positive base (∂aᵇ/∂b = aᵇ·ln a), "
                f"got base {self.data!r}"
            )
        out = Value(_pow(self.data, other.data), (self, other), "**")

        def _backward_both() -> None:
            self.grad += other.data * _pow(self.data, other.data - 1) * out.grad  # b·aᵇ⁻¹
            other.grad += out.data * math.log(self.data) * out.grad  # aᵇ·ln a

        out._backward = _backward_both
        return out

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
        other = self._wrap(other, "/")
        if other.data == 0:
            raise ZeroDivisionError(f"Value.__truediv__: division of {self.data!r} by zero")
        return self * other**-1

    def __rtruediv__(self, other: Any) -> "Value":
        return self._wrap(other, "/") / self

    # -- elementary functions ----------------------------------------------
    def exp(self) -> "Value":
        try:
            e = math.exp(self.data)
        except OverflowError:
            e = math.inf
        out = Value(e, (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad  # ∂eᵃ/∂a = eᵃ

        out._backward = _backward
        return out

    def log(self) -> "Value":
        if self.data <= 0:
            raise ValueError(f"Value.log: expected a positive input, got {self.data!r}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:
            self.grad += out.grad / self.data  # ∂ln a/∂a = 1/a

        out._backward = _backward
        return out

    def tanh(self) -> "Value":
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward() -> None:
            self.grad += (1.0 - out.data * out.data) * out.grad  # 1 − tanh²

        out._backward = _backward
        return out

    def sigmoid(self) -> "Value":
        """σ(a) = 1/(1+e⁻ᵃ) as one node, by two branches so no exp overflows."""
        a = self.data
        s = 1.0 / (1.0 + math.exp(-a)) if a >= 0 else math.exp(a) / (1.0 + math.exp(a))
        out = Value(s, (self,), "sigmoid")

        def _backward() -> None:
            self.grad += out.data * (1.0 - out.data) * out.grad  # σ(1−σ)

        out._backward = _backward
        return out

    def relu(self) -> "Value":
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad  # [a > 0], 0 at the kink as torch

        out._backward = _backward
        return out

    # -- reverse mode ------------------------------------------------------
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
        """Fill ``.grad`` of every node with ∂self/∂node (leaves accumulate)."""
        order = self.topological_order()
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            node._backward()
            if not math.isfinite(node.grad):
                raise OverflowError(
                    f"Value.backward: the gradient reaching a {node._op or 'leaf'} node "
                    f"(data {node.data!r}) is {node.grad!r}, not a finite float"
                )

    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r})"


__all__ = ["Value"]
