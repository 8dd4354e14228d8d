"""Softmax and the losses, by hand: ``forward(input, target)`` and ``backward(dout)``.

Seed ideas:

- softmax(x − max x) = softmax(x): subtracting the row maximum changes nothing
  mathematically and keeps every exponent ≤ 0, so logits of ±1e4 never overflow;
  log_softmax = (x − max) − log Σ e^{x − max} stays finite too.
- Cross-entropy from logits has the gradient softmax(x) − onehot(t): the
  softmax and the log cancel into a difference of probabilities.
- Binary cross-entropy is −log of the Bernoulli likelihood Π q^p (1−q)^{1−p};
  summing logs instead of multiplying probabilities avoids underflow.
- Logistic regression is 2-class softmax: σ(z) = softmax([0, z])₁.

Every loss mirrors its ``torch.nn`` twin: the same class name, the ``reduction``
argument with torch's default ``'mean'``, a 0-d array for ``'mean'``/``'sum'``
and the per-sample loss for ``'none'``. ``backward(dout=1.0)`` returns the
gradient with respect to the input as a new array. Bad input (wrong shapes,
integer or complex arrays, NaN, class indices out of range, probabilities
outside [0, 1]) raises a ``ValueError``/``TypeError`` naming what was expected
and what was given; nothing is broadcast silently.

Not carried over from torch: ``weight``, ``ignore_index`` and
``label_smoothing`` of ``CrossEntropyLoss``, and K-dimensional inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch.activations import sigmoid
from scratch.module import Module, as_float_array

REDUCTIONS = ("mean", "sum", "none")
#: torch clamps both logs of the binary cross-entropy at −100 (so BCE ≤ 100 per element).
BCE_LOG_CLAMP = -100.0
#: torch's BCE backward divides by max((1 − x)·x, ε) with ε the float32 nearest 1e-12
#: (9.99999996e-13), in float64 as well.
BCE_GRAD_EPSILON = float(np.float32(1e-12))
#: the book's δ in −Σ t·log(y + δ), which keeps log(0) away.
CROSS_ENTROPY_ERROR_DELTA = 1e-7


def _book_array(x: Any) -> np.ndarray:
    """Lists and integer or boolean arrays as float64, NumPy's default float.

    The book types its examples verbatim (``softmax(np.array([1010, 1000, 990]))``,
    one-hot targets ``[0, 0, 1, 0]``), and NumPy computes ``np.exp`` of an integer
    array in float64; the book's functions accept such input the same way.
    """
    arr = np.asarray(x)
    return arr.astype(np.float64) if arr.dtype.kind in "iub" else arr


# -- softmax -----------------------------------------------------------------
def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(x)ᵢ = e^{xᵢ − m} / Σⱼ e^{xⱼ − m} with m = max x along ``axis``.

    Subtracting m leaves the value unchanged and keeps every exponent ≤ 0:
    ``softmax(np.array([1010, 1000, 990]))`` gives the book's
    [9.9995e-01, 4.5398e-05, 2.0611e-09] where e^1010 alone would overflow.
    Integer input is computed in float64, as NumPy (and the book) do.
    """
    x = as_float_array(_book_array(x), "softmax input")
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax(x) = (x − m) − log Σⱼ e^{xⱼ − m}: finite for logits of ±1e4."""
    x = as_float_array(_book_array(x), "log_softmax input")
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Module):
    """y = softmax(x) along ``dim``; backward dx = y ⊙ (dy − Σ dy ⊙ y)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._out = softmax(x, axis=self.dim)
        return self._out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        y = _cached(self._out, self)
        dout = _matching(dout, y, self)
        return y * (dout - (dout * y).sum(axis=self.dim, keepdims=True))  # ∂yᵢ/∂xⱼ = yᵢ(δᵢⱼ − yⱼ)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y = log_softmax(x) along ``dim``; backward dx = dy − softmax(x)·Σ dy."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._out = log_softmax(x, axis=self.dim)
        return self._out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        y = _cached(self._out, self)
        dout = _matching(dout, y, self)
        return dout - np.exp(y) * dout.sum(axis=self.dim, keepdims=True)  # ∂yᵢ/∂xⱼ = δᵢⱼ − softmaxⱼ

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


# -- validation helpers ------------------------------------------------------
def _cached(value: Any, owner: Module) -> Any:
    if value is None:
        raise RuntimeError(f"{type(owner).__name__}.backward called before forward")
    return value


def _matching(dout: Any, ref: np.ndarray, owner: Module) -> np.ndarray:
    dout = np.asarray(dout)
    if dout.dtype.kind not in "fiu":
        raise TypeError(f"{type(owner).__name__}.backward: expected a real dout, got dtype {dout.dtype}")
    if dout.shape != ref.shape:
        raise ValueError(
            f"{type(owner).__name__}.backward: expected dout of shape {ref.shape}, got {dout.shape}"
        )
    return dout.astype(ref.dtype, copy=False)


def _first_bad(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _finite(a: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        idx = _first_bad(bad)
        raise ValueError(
            f"{what}: expected finite values, got {a[idx].item()} at index {idx} "
            f"({int(bad.sum())} non-finite of {a.size})"
        )


def _in_unit_interval(a: np.ndarray, what: str) -> None:
    bad = ~((a >= 0) & (a <= 1))
    if bad.any():
        idx = _first_bad(bad)
        raise ValueError(
            f"{what}: expected probabilities in [0, 1], got {a[idx].item():.6g} at index {idx} "
            f"({int(bad.sum())} of {a.size} outside)"
        )


def _float_target(target: Any, x: np.ndarray, owner: str) -> np.ndarray:
    """A float target of exactly the input's shape and dtype, finite."""
    t = np.asarray(target)
    if t.dtype.kind != "f":
        raise TypeError(
            f"{owner} target: expected a float array of dtype {x.dtype} (the input's), got dtype {t.dtype}"
        )
    if t.dtype != x.dtype:
        raise TypeError(f"{owner} target: expected dtype {x.dtype} (the input's), got {t.dtype}")
    if t.shape != x.shape:
        raise ValueError(
            f"{owner}: expected target of the input's shape {x.shape}, got {t.shape} "
            "(shapes must match exactly; nothing is broadcast)"
        )
    _finite(t, f"{owner} target")
    return t


def _book_target(target: Any, y: np.ndarray, owner: str) -> np.ndarray:
    """The book's target: a one-hot or probability array of y's shape; integer one-hot
    labels (``[0, 0, 1, 0]``) are taken as values, in y's dtype."""
    t = np.asarray(target)
    if t.dtype.kind in "iub" and t.shape == y.shape:
        t = t.astype(y.dtype)
    return _float_target(t, y, owner)


def _float_input(x: Any, owner: str) -> np.ndarray:
    x = as_float_array(x, f"{owner} input")
    if x.size == 0:
        raise ValueError(f"{owner} input: expected at least one element, got shape {x.shape}")
    _finite(x, f"{owner} input")
    return x


# -- losses ------------------------------------------------------------------
class _Loss(Module):
    """Reduction and upstream-gradient plumbing shared by every loss.

    'none' returns the per-sample loss ℓ; 'sum' returns Σℓ; 'mean' returns Σℓ / |ℓ|.
    Backward scales ∂ℓ/∂input by dout (per sample for 'none', 1/|ℓ|·dout for 'mean').
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}"
            )
        self.reduction = reduction
        self._per_shape: tuple | None = None

    def _reduce(self, per: np.ndarray, dtype: np.dtype) -> np.ndarray:
        self._per_shape, self._dtype = per.shape, np.dtype(dtype)
        if self.reduction == "none":
            return per.astype(dtype, copy=False)
        total = per.sum()
        if self.reduction == "mean":
            total = total / per.size
        return np.asarray(total, dtype=dtype)

    def _upstream(self, dout: Any) -> np.ndarray:
        """dout as the per-sample weight ∂loss/∂ℓ, shaped to broadcast over ℓ."""
        shape = _cached(self._per_shape, self)
        d = np.asarray(dout)
        if d.dtype.kind not in "fiu":
            raise TypeError(f"{type(self).__name__}.backward: expected a real dout, got dtype {d.dtype}")
        expected = shape if self.reduction == "none" else ()
        if d.shape != expected:
            raise ValueError(
                f"{type(self).__name__}.backward: expected dout of shape {expected} "
                f"(reduction={self.reduction!r}), got {d.shape}"
            )
        d = d.astype(self._dtype)
        if self.reduction == "mean":
            d = d / int(np.prod(shape))
        return d

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Cross-entropy from logits, as ``torch.nn.CrossEntropyLoss``.

    input x (N, C) logits; target either class indices t (N,) of an integer
    dtype, ℓₙ = −log softmax(xₙ)[tₙ], or class probabilities T (N, C) of the
    input's float dtype, ℓₙ = −Σ_c T_nc log softmax(xₙ)_c. 'mean' divides by N.

    ∂ℓₙ/∂xₙ = softmax(xₙ) − onehot(tₙ), or softmax(xₙ)·Σ_c T_nc − Tₙ.
    """

    def forward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        name = type(self).__name__
        x = _float_input(input, name)
        if x.ndim != 2:
            raise ValueError(f"{name}: expected logits of shape (N, C), got {x.shape}")
        n, c = x.shape
        t = np.asarray(target)
        logp = log_softmax(x, axis=1)
        if t.dtype.kind in "iu":
            if t.shape != (n,):
                raise ValueError(
                    f"{name}: class-index target must have shape (N,) = ({n},) for input {x.shape}, "
                    f"got {t.shape} (probability targets must be float of shape {x.shape})"
                )
            bad = (t < 0) | (t >= c)
            if bad.any():
                i = _first_bad(bad)[0]
                raise ValueError(
                    f"{name} target: class indices must lie in [0, {c}) for {c} classes, "
                    f"got {t[i]} at position {i}"
                )
            per = -logp[np.arange(n), t]
            self._target = ("index", t.astype(np.intp))
        elif t.dtype.kind == "f":
            if t.shape != x.shape:
                raise ValueError(
                    f"{name}: a float target holds class probabilities and must have the input's "
                    f"shape {x.shape}, got {t.shape} (class indices must be an integer array of "
                    f"shape ({n},))"
                )
            t = _float_target(t, x, name)
            per = -(t * logp).sum(axis=1)
            self._target = ("probs", t)
        else:
            raise TypeError(
                f"{name} target: expected integer class indices (N,) or float probabilities "
                f"(N, C), got dtype {t.dtype}"
            )
        self._probs = np.exp(logp)
        return self._reduce(per, x.dtype)

    def backward(self, dout: Any = 1.0) -> np.ndarray:
        w = self._upstream(dout)
        p = self._probs
        kind, t = self._target
        if kind == "index":
            grad = p.copy()
            grad[np.arange(p.shape[0]), t] -= 1  # softmax − onehot(t)
        else:
            grad = p * t.sum(axis=1, keepdims=True) - t  # softmax·ΣT − T
        return grad * np.reshape(w, (-1, 1) if w.ndim else ())


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities, as ``torch.nn.BCELoss``.

    input q and target p of equal shape, both in [0, 1]:
    ℓ = −(p·max(log q, −100) + (1−p)·max(log(1−q), −100)); 'mean' divides by the element count.
    The clamp is torch's: it keeps ℓ ≤ 100 when q is exactly 0 or 1.

    Backward is torch's: ∂ℓ/∂q = (q − p) / max(q(1−q), ε), ε = float32(1e-12).
    """

    def forward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        name = type(self).__name__
        q = _float_input(input, name)
        p = _float_target(target, q, name)
        _in_unit_interval(q, f"{name} input")
        _in_unit_interval(p, f"{name} target")
        with np.errstate(divide="ignore"):  # log 0 = −inf, clamped to −100 on the next line
            log_q = np.maximum(np.log(q), BCE_LOG_CLAMP)
            log_1mq = np.maximum(np.log1p(-q), BCE_LOG_CLAMP)
        self._q, self._p = q, p
        return self._reduce(-(p * log_q + (1 - p) * log_1mq), q.dtype)

    def backward(self, dout: Any = 1.0) -> np.ndarray:
        w = self._upstream(dout)
        q, p = self._q, self._p
        return w * (q - p) / np.maximum((1 - q) * q, BCE_GRAD_EPSILON)  # (q − p)/(q(1−q))


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy from logits, as ``torch.nn.BCEWithLogitsLoss``.

    ℓ = −p·log σ(z) − (1−p)·log(1−σ(z)), computed in the stable form
    ℓ = max(z, 0) − z·p + log1p(e^{−|z|}), finite for z = ±1e4 (no exp of a
    positive number). With ``pos_weight`` w (shape () or (C,), broadcast along
    the last axis): ℓ = (1−p)·z + (1 + (w−1)·p)·softplus(−z).

    ∂ℓ/∂z = σ(z) − p, or (1 + (w−1)p)·σ(z) − w·p with pos_weight.
    """

    def __init__(self, *, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction=reduction)
        if pos_weight is not None:
            pos_weight = as_float_array(pos_weight, "BCEWithLogitsLoss pos_weight")
            if pos_weight.ndim > 1:
                raise ValueError(
                    f"BCEWithLogitsLoss pos_weight: expected shape () or (C,), got {pos_weight.shape}"
                )
            _finite(pos_weight, "BCEWithLogitsLoss pos_weight")
            pos_weight = pos_weight.copy()
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        name = type(self).__name__
        z = _float_input(input, name)
        p = _float_target(target, z, name)
        _in_unit_interval(p, f"{name} target")
        softplus_neg = np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z)))  # −log σ(z)
        if self.pos_weight is None:
            per = (1 - p) * z + softplus_neg
            self._log_weight = None
        else:
            pw = self.pos_weight.astype(z.dtype)
            if pw.ndim == 1 and (z.ndim == 0 or z.shape[-1] != pw.shape[0]):
                raise ValueError(
                    f"{name}: pos_weight of shape {pw.shape} needs input whose last axis has "
                    f"{pw.shape[0]} elements, got input {z.shape}"
                )
            self._log_weight = 1 + (pw - 1) * p
            self._pw = pw
            per = (1 - p) * z + self._log_weight * softplus_neg
        self._z, self._p = z, p
        return self._reduce(per, z.dtype)

    def backward(self, dout: Any = 1.0) -> np.ndarray:
        w = self._upstream(dout)
        z, p = self._z, self._p
        if self._log_weight is None:
            return w * (sigmoid(z) - p)  # σ(z) − p
        return w * (self._log_weight * sigmoid(z) - self._pw * p)  # (1+(w−1)p)σ(z) − w·p


class MSELoss(_Loss):
    """ℓ = (y − t)² elementwise, as ``torch.nn.MSELoss``; 'mean' divides by the element count.

    ∂ℓ/∂y = 2(y − t).
    """

    def forward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        name = type(self).__name__
        y = _float_input(input, name)
        t = _float_target(target, y, name)
        self._diff = y - t
        return self._reduce(self._diff * self._diff, y.dtype)

    def backward(self, dout: Any = 1.0) -> np.ndarray:
        return self._upstream(dout) * 2 * self._diff  # 2(y − t)


class SumSquaredError(_Loss):
    """The book's sum of squared errors E = ½ Σ (y − t)² (torch has no twin class).

    Default reduction 'sum' (the book's E); 'mean' divides by the element count,
    'none' returns ½(y − t)² elementwise. ∂E/∂y = y − t: the ½ cancels the square's 2.
    y and t of any equal shape; integer one-hot t is read as values, as in the book.
    """

    def __init__(self, *, reduction: str = "sum") -> None:
        super().__init__(reduction=reduction)

    def forward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        name = type(self).__name__
        y = _float_input(_book_array(input), name)
        t = _book_target(target, y, name)
        self._diff = y - t
        return self._reduce(0.5 * self._diff * self._diff, y.dtype)

    def backward(self, dout: Any = 1.0) -> np.ndarray:
        return self._upstream(dout) * self._diff  # y − t


class CrossEntropyError(_Loss):
    """The book's cross-entropy error on probabilities: E = −(1/N) Σₙ Σ_c t_nc log(y_nc + δ), δ = 1e-7.

    input y (N, C) probabilities (a softmax output), or one sample (C,) as the
    book's first version takes it; target of y's shape, one-hot (integer or
    float) or probabilities, or class indices (N,) (a scalar index for one
    sample) as in the book's second version. An integer target is read as
    class indices only when it has one dimension fewer than y, so a one-hot
    ``t[None]`` beside ``y[None]`` stays one-hot. The δ keeps log(0) finite
    (E ≤ −log δ ≈ 16.1 per sample). 'mean' is the book's batch mean (divides
    by N), 'none' gives (N,) ((1,) for one sample).

    ∂E/∂y_nc = −t_nc / (y_nc + δ).
    """

    def forward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        name = type(self).__name__
        y = _float_input(_book_array(input), name)
        t = np.asarray(target)
        self._input_shape = y.shape
        if y.ndim == 1:  # the book's single sample: y.reshape(1, y.size), t likewise
            y, t = y[None], (t[None] if t.ndim == 1 else t.reshape(1))
        if y.ndim != 2:
            raise ValueError(
                f"{name}: expected probabilities of shape (N, C) or one sample (C,), got {y.shape}"
            )
        _in_unit_interval(y, f"{name} input")
        n, c = y.shape
        if t.dtype.kind in "iu" and t.ndim == 1:
            if t.shape != (n,):
                raise ValueError(
                    f"{name}: class-index target must have shape (N,) = ({n},) for input {y.shape}, "
                    f"got {t.shape} (a one-hot target has the input's shape)"
                )
            bad = (t < 0) | (t >= c)
            if bad.any():
                i = _first_bad(bad)[0]
                raise ValueError(
                    f"{name} target: class indices must lie in [0, {c}), got {t[i]} at position {i}"
                )
            t = np.eye(c, dtype=y.dtype)[t]
        else:
            t = _book_target(t, y, name)
        self._y, self._t = y, t
        per = -(t * np.log(y + CROSS_ENTROPY_ERROR_DELTA)).sum(axis=1)
        return self._reduce(per, y.dtype)

    def backward(self, dout: Any = 1.0) -> np.ndarray:
        w = self._upstream(dout)
        y, t = self._y, self._t
        grad = -t / (y + CROSS_ENTROPY_ERROR_DELTA)  # −t/(y + δ)
        return (grad * np.reshape(w, (-1, 1) if w.ndim else ())).reshape(self._input_shape)


# -- functional forms (values only) ------------------------------------------
def cross_entropy(input: np.ndarray, target: np.ndarray, *, reduction: str = "mean") -> np.ndarray:
    """Value of :class:`CrossEntropyLoss` (logits; class indices or probabilities)."""
    return CrossEntropyLoss(reduction=reduction).forward(input, target)


def binary_cross_entropy(input: np.ndarray, target: np.ndarray, *, reduction: str = "mean") -> np.ndarray:
    """Value of :class:`BCELoss` (probabilities)."""
    return BCELoss(reduction=reduction).forward(input, target)


def binary_cross_entropy_with_logits(
    input: np.ndarray, target: np.ndarray, *, reduction: str = "mean", pos_weight: Any = None
) -> np.ndarray:
    """Value of :class:`BCEWithLogitsLoss` (logits)."""
    return BCEWithLogitsLoss(reduction=reduction, pos_weight=pos_weight).forward(input, target)


def mse_loss(input: np.ndarray, target: np.ndarray, *, reduction: str = "mean") -> np.ndarray:
    """Value of :class:`MSELoss`."""
    return MSELoss(reduction=reduction).forward(input, target)


def sum_squared_error(input: np.ndarray, target: np.ndarray, *, reduction: str = "sum") -> np.ndarray:
    """Value of :class:`SumSquaredError`: ½ Σ (y − t)²."""
    return SumSquaredError(reduction=reduction).forward(input, target)


def cross_entropy_error(input: np.ndarray, target: np.ndarray, *, reduction: str = "mean") -> np.ndarray:
    """Value of :class:`CrossEntropyError`: −(1/N) Σ t log(y + 1e-7)."""
    return CrossEntropyError(reduction=reduction).forward(input, target)


__all__ = [
    "softmax", "log_softmax", "Softmax", "LogSoftmax",
    "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss",
    "SumSquaredError", "CrossEntropyError",
    "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
    "sum_squared_error", "cross_entropy_error",
]
