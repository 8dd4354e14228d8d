"""The one parity helper: a scratch implementation against its torch twin.

``assert_parity`` runs both on the same inputs and parameters and compares,
tensor by tensor:

1. the forward output,
2. the gradient with respect to every differentiable input,
3. the gradient with respect to every parameter (matched by torch's names),
4. buffers after the forward pass (running statistics),

using a random upstream gradient (never all ones: that hides softmax and
batch-norm bugs, whose true gradient is then zero). In float64 it also checks
the scratch backward against central differences. A mismatch names the
concept, the tensor, the worst element, and its absolute and relative error.

Typical use, one line per concept::

    assert_parity("Sigmoid", scratch.activations.Sigmoid(),
                  torch.nn.Sigmoid(), [x])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from scratch.numerical import numerical_gradient, sample_indices
from torch_ref.module import load_scratch_state

#: Default tolerances against torch: float64 is the proof, float32 the practice.
TOLERANCES = {
    np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12),
    np.dtype(np.float32): dict(rtol=1e-5, atol=1e-5),
}
REGIMES = ("ordinary", "extreme", "kinks")
DTYPES = (np.float64, np.float32)


@dataclass
class ParityReport:
    """Worst absolute error per compared tensor, for printing or further checks."""

    concept: str
    worst_abs: dict

    def __str__(self) -> str:
        rows = ", ".join(f"{k}: {v:.2e}" for k, v in self.worst_abs.items())
        return f"{self.concept}: {rows}"


def compare(
    concept: str,
    tensor: str,
    actual: Any,
    expected: Any,
    rtol: float,
    atol: float,
    actual_name: str = "scratch",
    expected_name: str = "torch",
) -> float:
    """Assert ``|actual − expected| ≤ atol·scale + rtol·|expected|`` elementwise.

    ``scale = max(1, max|expected|)``: the absolute tolerance is measured in
    units of the tensor's largest element, since a sum of large terms that
    cancels to a small one carries the round-off of the large terms.
    Returns the worst absolute error. On failure the message names the concept,
    the tensor, the worst element (by tolerance excess) and both errors.
    """
    a = _np(actual)
    e = _np(expected)
    if a.shape != e.shape:
        raise AssertionError(
            f"[{concept}] {tensor}: shape mismatch, {actual_name} {a.shape} vs "
            f"{expected_name} {e.shape}"
        )
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    nan_a, nan_e = np.isnan(a64), np.isnan(e64)
    if (nan_a != nan_e).any():
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(nan_a != nan_e), a.shape)) if a.ndim else ()
        raise AssertionError(
            f"[{concept}] {tensor}: NaN mismatch at {idx}: {actual_name}={float(a64[idx])!r}, "
            f"{expected_name}={float(e64[idx])!r}"
        )
    same_inf = np.isinf(e64) & (a64 == e64)
    with np.errstate(invalid="ignore"):  # inf − inf is NaN here; those elements are set just below
        diff = np.where(nan_a | same_inf, 0.0, np.abs(a64 - e64))
    diff = np.where(np.isnan(diff), np.inf, diff)
    finite = np.where(np.isfinite(e64), e64, 0.0)
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    allowed = atol * scale + rtol * np.abs(finite)
    excess = diff - allowed
    if a.size and (excess > 0).any():
        flat = int(np.argmax(excess))
        idx = np.unravel_index(flat, a.shape) if a.ndim else ()
        with np.errstate(invalid="ignore"):  # inf / inf: an infinite error has no relative size
            rel = diff[idx] / max(abs(e64[idx]), np.finfo(np.float64).tiny)
        raise AssertionError(
            f"[{concept}] {tensor}: worst element {tuple(int(i) for i in idx)}: "
            f"{actual_name}={float(a64[idx])!r}, {expected_name}={float(e64[idx])!r}, "
            f"abs err={diff[idx]:.3e}, rel err={rel:.3e} "
            f"(allowed rtol={rtol:g}, atol={atol:g}×{scale:.3g}; "
            f"{int((excess > 0).sum())} of {a.size} elements out of tolerance)"
        )
    return float(diff.max()) if diff.size else 0.0


def assert_parity(
    concept: str,
    scratch: Any,
    torch_fn: Callable[..., torch.Tensor],
    inputs: Sequence[np.ndarray],
    *,
    targets: Sequence[Any] = (),
    rtol: float | None = None,
    atol: float | None = None,
    check_fd: bool | None = None,
    fd_eps: float = 1e-6,
    fd_rtol: float = 1e-5,
    fd_atol: float = 1e-7,
    fd_max_elements: int = 24,
    seed: int = 0,
    load_state: bool = True,
) -> ParityReport:
    """Compare a scratch ``forward``/``backward`` object with its torch twin.

    Parameters
    ----------
    scratch:
        Has ``forward(*inputs, *targets)`` and ``backward(dout)``; backward
        returns the gradient for the single input, or a tuple with one per
        input. A scratch ``Module`` also exposes ``named_parameters()``.
    torch_fn:
        ``torch.nn.Module`` or callable taking tensors. A Module receives the
        scratch ``state_dict()`` (when ``load_state``), the scratch training
        mode and the inputs' dtype, so both start from identical weights.
    inputs:
        Differentiable inputs; their dtype (float32 or float64) selects the
        default tolerances.
    targets:
        Non-differentiable arguments passed after the inputs (class indices,
        probabilities); arrays become tensors of the same dtype.
    check_fd:
        Central-difference check of the scratch backward; default on in
        float64, off in float32 (where differences are dominated by
        round-off). Switch off at kinks, where the derivative is a convention.
    """
    inputs = [np.array(x, copy=True) for x in inputs]
    if not inputs:
        raise ValueError(f"[{concept}] assert_parity: expected at least one input, got none")
    dtype = inputs[0].dtype
    if dtype not in TOLERANCES:
        raise TypeError(f"[{concept}] inputs must be float32 or float64, got {dtype}")
    tol = dict(TOLERANCES[dtype])
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    if check_fd is None:
        check_fd = dtype == np.float64
    rng = np.random.default_rng(seed)
    worst: dict[str, float] = {}

    # -- torch side --------------------------------------------------------
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    if isinstance(torch_fn, torch.nn.Module):
        torch_fn.to(tdtype)
        if load_state and hasattr(scratch, "state_dict"):
            load_scratch_state(torch_fn, scratch)
        torch_fn.train(getattr(scratch, "training", True))
        torch_fn.zero_grad(set_to_none=True)
    t_inputs = [torch.tensor(x, requires_grad=True) for x in inputs]
    t_targets = [torch.from_numpy(np.array(t)) if isinstance(t, np.ndarray) else t for t in targets]
    t_out = torch_fn(*t_inputs, *t_targets)

    # -- scratch side ------------------------------------------------------
    inputs_before = [x.copy() for x in inputs]
    out = scratch.forward(*inputs, *targets)
    for i, (x, x0) in enumerate(zip(inputs, inputs_before)):
        if not np.array_equal(x, x0, equal_nan=True):
            raise AssertionError(f"[{concept}] forward mutated input[{i}]")
    worst["output"] = compare(concept, "forward output", out, t_out, **tol)
    if isinstance(torch_fn, torch.nn.Module) and hasattr(scratch, "named_buffers"):
        t_bufs = dict(torch_fn.named_buffers())
        for name, buf in scratch.named_buffers():
            worst[f"buffer {name}"] = compare(concept, f"buffer {name}", buf, t_bufs[name], **tol)

    out_shape = np.shape(out)
    upstream = np.asarray(rng.standard_normal(out_shape) + 0.5, dtype=dtype)
    t_out.backward(torch.from_numpy(upstream.copy()))
    upstream_before = upstream.copy()
    grads = scratch.backward(upstream)
    if not np.array_equal(upstream, upstream_before):
        raise AssertionError(f"[{concept}] backward mutated its upstream gradient dout")
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(inputs):
        raise AssertionError(
            f"[{concept}] backward returned {len(grads)} gradients for {len(inputs)} inputs"
        )
    for i, (g, t) in enumerate(zip(grads, t_inputs)):
        worst[f"grad input[{i}]"] = compare(concept, f"grad of input[{i}]", g, t.grad, **tol)

    s_params = dict(scratch.named_parameters()) if hasattr(scratch, "named_parameters") else {}
    if isinstance(torch_fn, torch.nn.Module):
        t_params = dict(torch_fn.named_parameters())
        if set(s_params) != set(t_params):
            raise AssertionError(
                f"[{concept}] parameter names differ: scratch {sorted(s_params)} "
                f"vs torch {sorted(t_params)}"
            )
        for name, p in s_params.items():
            if p.grad is None:
                raise AssertionError(f"[{concept}] scratch parameter {name} has no .grad")
            worst[f"grad {name}"] = compare(concept, f"grad of {name}", p.grad, t_params[name].grad, **tol)

    # -- finite differences of the scratch backward ------------------------
    if check_fd:
        state = scratch.state_dict() if hasattr(scratch, "state_dict") else None

        def loss() -> float:
            return float(np.sum(np.asarray(scratch.forward(*inputs, *targets)) * upstream))

        checks = [(f"input[{i}]", x, g) for i, (x, g) in enumerate(zip(inputs, grads))]
        checks += [(name, p.data, p.grad) for name, p in s_params.items()]
        for name, arr, analytic in checks:
            idx = sample_indices(arr.shape, fd_max_elements, rng)
            numeric = numerical_gradient(loss, arr, eps=fd_eps, indices=idx)
            sel = tuple(np.array(i) for i in zip(*idx)) if arr.ndim else ()
            worst[f"fd {name}"] = compare(
                concept,
                f"grad of {name} vs central differences",
                np.asarray(analytic)[sel],
                numeric[sel],
                rtol=fd_rtol,
                atol=fd_atol,
                expected_name="numerical",
            )
        if state is not None:
            scratch.load_state_dict(state)
    return ParityReport(concept, worst)


def regime_array(regime: str, shape: tuple, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """Inputs for one of the three regimes.

    - ``ordinary``: standard normal.
    - ``extreme``: magnitudes log-uniform in [1e2, 1e4], random signs.
    - ``kinks``: exactly 0 (the ReLU family's kink, the step's jump), mixed
      with ±1 so that both sides of the kink appear in one batch.
    """
    if regime == "ordinary":
        x = rng.standard_normal(shape)
    elif regime == "extreme":
        x = 10.0 ** rng.uniform(2, 4, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    elif regime == "kinks":
        x = rng.choice([0.0, 0.0, -1.0, 1.0], size=shape)
    else:
        raise ValueError(f"regime: expected one of {REGIMES}, got {regime!r}")
    return np.asarray(x, dtype=dtype)


def _np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
