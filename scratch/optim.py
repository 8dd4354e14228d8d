"""Optimizers by hand, update for update the same as ``torch.optim``.

Each optimizer holds *references* to scratch :class:`~scratch.module.Parameter`
objects and, in :meth:`Optimizer.step`, changes their ``.data`` in place from
their ``.grad``; nothing else ever writes a parameter. Constructor arguments,
defaults, the order of floating-point operations, the per-parameter state
(``step``, ``momentum_buffer``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``,
``square_avg``, ``grad_avg``, ``sum``) and the layout of ``state_dict()`` follow
torch 2.x's single-tensor (CPU, ``foreach=False``) implementations, so that a
scratch run and a torch run from the same weights and gradients agree step by
step (see ``parity_tests/test_trajectory.py``).

Notation: θ parameter, g its gradient, λ weight decay, γ learning rate, t the
step count starting at 1. The updates, exactly as written in each ``step``:

- SGD:      g ← g + λθ;  b ← μb + (1−τ)g (b₁ = g);  g ← g + μb (Nesterov) or b;
            θ ← θ − γg.
- RMSprop:  g ← g + λθ;  v ← αv + (1−α)g²;  ḡ ← lerp(ḡ, g, 1−α) (centered);
            d = √(v − ḡ²) + ε  (√v + ε uncentered);
            b ← μb + g/d,  θ ← θ − γb  (momentum)  or  θ ← θ − γ g/d.
- Adam:     g ← g + λθ (AdamW instead θ ← θ(1 − γλ));  m ← lerp(m, g, 1−β₁);
            v ← β₂v + (1−β₂)g²;  v̂max ← max(v̂max, v) (amsgrad);
            θ ← θ − (γ/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε):
            eps is added *outside* the square root, *after* bias correction.
- Adagrad:  g ← g + λθ;  γₜ = γ/(1 + (t−1)·lr_decay);  s ← s + g²;  θ ← θ − γₜ g/(√s + ε).

Not carried over from torch: ``foreach``, ``fused``, ``capturable`` and
``differentiable`` (device and autograd switches with no NumPy meaning), and
tensor-valued ``lr``/``betas``. One deliberate difference: torch's ``SGD``
accepts ``lr=nan`` (its check is ``lr < 0``); here every optimizer rejects a
NaN learning rate with torch's own message, as torch's Adam and RMSprop do.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from scipy.linalg import blas

from scratch.module import Parameter

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad"]

#: Group options torch keeps that have no NumPy meaning: a torch state_dict's values for them are not loaded.
TORCH_ONLY_OPTIONS = ("foreach", "fused", "capturable", "differentiable")


def _check_nonnegative(value: float, what: str) -> None:
    """torch's ``if not 0.0 <= value: raise ValueError(f"Invalid {what}: {value}")`` (NaN fails too)."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what}: {value}")


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float, work: np.ndarray | None = None) -> None:
    """start ← start + w·(end − start), in place, with torch's two-branch ``lerp``.

    torch evaluates ``start + w(end − start)`` for |w| < 0.5 and
    ``end − (end − start)(1 − w)`` otherwise (exact at w = 1). ``work``, an
    array shaped like ``start``, holds the difference instead of a new one.
    """
    diff = np.subtract(end, start, out=work)
    if abs(weight) < 0.5:
        diff *= weight
        start += diff
    else:
        diff *= 1 - weight
        np.subtract(end, diff, out=start)


def _axpy_(y: np.ndarray, x: np.ndarray, alpha: float) -> None:
    """y ← y + α·x in place, in one pass over y where BLAS can (``saxpy``/``daxpy`` on the flattened arrays,
    rounded once where the BLAS kernel fuses the multiply-add, as torch's vectorised ``y.add_(x, alpha=α)``
    does: the same bits); otherwise α·x first, then the sum."""
    axpy = _AXPY.get(y.dtype)
    if axpy is not None and y.size and x.dtype == y.dtype and y.flags.c_contiguous and x.flags.c_contiguous:
        flat, src = y.reshape(-1), x.reshape(-1)
        # Up to _AXPY_SMALL elements, pieces of _AXPY_PIECE: a BLAS runs a call that small on the calling thread.
        # A threaded call must wake the BLAS's own worker, which on a busy core (NumPy's BLAS threads spin for
        # a while after a product) waits for a time slice: 4 ms for 30,000 weights on 2 cores, 40x the work.
        piece = _AXPY_PIECE if flat.size <= _AXPY_SMALL else flat.size
        for a in range(0, flat.size, piece):
            part = flat[a:a + piece]
            if axpy(src[a:a + piece], part, a=alpha) is not part:  # f2py returns the array it wrote
                raise RuntimeError("BLAS axpy did not update its output in place")  # pragma: no cover
        return
    y += np.multiply(x, alpha)


_AXPY = {np.dtype(np.float32): blas.saxpy, np.dtype(np.float64): blas.daxpy}
_AXPY_PIECE = 8192
_AXPY_SMALL = 1 << 20


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad`` and ``state_dict``.

    ``params`` is an iterable of :class:`Parameter` (e.g. ``model.parameters()``)
    or of dicts ``{"params": [...], "lr": ...}`` (torch's parameter groups,
    each key overriding the default for its group).
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of "
                f"Parameters or dicts, but got {type(params).__name__}"
            )
        self.defaults = dict(defaults)
        self.state: dict[Parameter, dict[str, Any]] = {}
        self._work_arrays: dict[int, list[np.ndarray]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Append a group; missing hyper-parameters take the optimizer's defaults."""
        if not isinstance(param_group, Mapping):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of parameters in sets will change between runs. Please use a list instead."
            )
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"optimizer can only optimize scratch Parameters, but one of the params is {type(p).__name__}"
                )
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: unknown option(s) {sorted(unknown)} in parameter group; "
                f"expected some of {sorted(self.defaults)}"
            )
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._validate(group)
        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "each would be updated once per occurrence",
                stacklevel=3,
            )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def _validate(self, group: Mapping[str, Any]) -> None:  # pragma: no cover - overridden
        pass

    def _params_with_grad(self, group: Mapping[str, Any]) -> Iterable[Parameter]:
        """Parameters that received a gradient; like torch, the others are skipped entirely."""
        for p in group["params"]:
            if p.grad is not None:
                if p.grad.shape != p.data.shape:
                    raise ValueError(
                        f"{type(self).__name__}.step: gradient shape {p.grad.shape} does not "
                        f"match parameter shape {p.data.shape}"
                    )
                yield p

    def _work(self, p: Parameter, count: int) -> list[np.ndarray]:
        """``count`` scratch arrays shaped like ``p``, kept between steps (not state).

        Updates write their intermediates into these with ``out=``, so a step
        on a 7.7M-weight layer allocates (and page-faults in) no new memory.
        """
        arrays = self._work_arrays.get(id(p))
        if arrays is None or len(arrays) < count or arrays[0].shape != p.data.shape or arrays[0].dtype != p.data.dtype:
            arrays = self._work_arrays[id(p)] = [np.empty_like(p.data) for _ in range(count)]
        return arrays

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every gradient: ``None`` (torch's default) or zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = closure() if closure is not None else None
        self._opt_called = True  # read by the learning-rate schedulers, as torch's wrapper of step records it
        for group in self.param_groups:
            for p in self._params_with_grad(group):
                grad = -p.grad if group.get("maximize", False) else p.grad
                state = self.state.get(p, {})
                self._update(p, grad, state, group)
                if state:  # like torch, plain SGD keeps no state at all
                    self.state[p] = state
        return loss

    def _update(self, p: Parameter, grad: np.ndarray, state: dict, group: Mapping[str, Any]) -> None:
        raise NotImplementedError  # pragma: no cover

    # -- state -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``, as torch.

        Parameters are numbered in group order starting at 0; ``state`` holds
        copies (torch returns references), so a saved dict is a snapshot.
        ``step`` is a Python float, torch's a 0-d float32 tensor.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for p, s in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyper-parameters and per-parameter state saved by :meth:`state_dict`.

        Also accepts a torch optimizer's ``state_dict()`` (tensors are copied to
        NumPy); arrays are cast to their parameter's dtype, ``step`` to float.
        Every saved group option is restored, as torch restores them, including
        those a learning-rate scheduler keeps there (``initial_lr``, ``max_lr`` …),
        except torch's device switches (:data:`TORCH_ONLY_OPTIONS`).
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        for own, saved in zip(self.param_groups, saved_groups):
            if len(own["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match "
                    f"the size of optimizer's group: {len(saved['params'])} vs {len(own['params'])}"
                )
        by_index: dict[int, Parameter] = {}
        for own, saved in zip(self.param_groups, saved_groups):
            by_index.update(zip(saved["params"], own["params"]))
        new_state: dict[Parameter, dict[str, Any]] = {}
        for key, values in state_dict["state"].items():
            p = by_index[int(key)]
            entry = {}
            for name, value in values.items():
                if name == "step":
                    entry[name] = float(_numpy(value))
                else:
                    arr = _numpy(value)
                    if arr.shape != p.data.shape:
                        raise ValueError(
                            f"load_state_dict: state {name!r} of parameter {key} has shape "
                            f"{arr.shape}, expected {p.data.shape}"
                        )
                    entry[name] = arr.astype(p.data.dtype, copy=True)
            new_state[p] = entry
        for own, saved in zip(self.param_groups, saved_groups):
            for name, value in saved.items():  # hyper-parameters, and what schedulers added (initial_lr …)
                if name != "params" and name not in TORCH_ONLY_OPTIONS:
                    own[name] = copy.deepcopy(_plain(value))
        self.state = new_state

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _plain(value: Any) -> Any:
    """torch keeps ``betas`` as a tuple of floats; 0-d tensors become floats."""
    if hasattr(value, "item") and not isinstance(value, (float, int, bool)):
        return value.item()
    if isinstance(value, list):
        return tuple(value)
    return value


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

    torch.optim.SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False, *, maximize=False):

        g ← g + λθ                                  (weight_decay λ ≠ 0)
        b ← g at the first step, else μb + (1−τ)g   (momentum μ ≠ 0, dampening τ)
        g ← g + μb  (nesterov)   or   g ← b
        θ ← θ − γg

    State per parameter: ``momentum_buffer`` (only when μ ≠ 0).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening,
            weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        _check_nonnegative(group["lr"], "learning rate")
        _check_nonnegative(group["momentum"], "momentum value")
        _check_nonnegative(group["weight_decay"], "weight_decay value")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, p, grad, state, group):
        lr, wd, mu = group["lr"], group["weight_decay"], group["momentum"]
        if wd != 0:
            grad = grad + wd * p.data
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= mu
                buf += np.multiply(grad, 1 - group["dampening"], out=self._work(p, 1)[0])
            grad = grad + mu * buf if group["nesterov"] else buf
        _axpy_(p.data, grad, -lr)  # θ ← θ − γg: one pass over θ, no temporary


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square of its recent values.

    torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
    momentum=0, centered=False, *, maximize=False):

        g ← g + λθ
        v ← αv + (1−α)g²                       (square_avg)
        ḡ ← ḡ + (1−α)(g − ḡ)                   (grad_avg, centered only)
        d ← √(v − ḡ²) + ε  centered,  √v + ε  otherwise   (eps outside the root)
        b ← μb + g/d,  θ ← θ − γb              (momentum μ > 0)
        θ ← θ − γ g/d                          (otherwise)

    State: ``step``, ``square_avg``, ``momentum_buffer`` (μ > 0), ``grad_avg`` (centered).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
            weight_decay=weight_decay, maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        _check_nonnegative(group["lr"], "learning rate")
        _check_nonnegative(group["eps"], "epsilon value")
        _check_nonnegative(group["momentum"], "momentum value")
        _check_nonnegative(group["weight_decay"], "weight_decay value")
        _check_nonnegative(group["alpha"], "alpha value")

    def _update(self, p, grad, state, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        mu, wd = group["momentum"], group["weight_decay"]
        if not state:
            state["step"] = 0.0
            state["square_avg"] = np.zeros_like(p.data)
            if mu > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        if wd != 0:
            grad = grad + wd * p.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad  # v ← αv + (1−α)g²
        if group["centered"]:
            grad_avg = state["grad_avg"]
            _lerp_(grad_avg, grad, 1 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)  # √(E[g²] − E[g]²)
        else:
            avg = np.sqrt(square_avg)
        avg += eps
        if mu > 0:
            buf = state["momentum_buffer"]
            buf *= mu
            buf += grad / avg
            p.data += -lr * buf
        else:
            p.data += -lr * grad / avg


class Adam(Optimizer):
    """Adam: bias-corrected running moments of the gradient and its square.

    torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, amsgrad=False, *, maximize=False, decoupled_weight_decay=False):

        t ← t + 1
        g ← g + λθ     (L2, coupled)   or   θ ← θ(1 − γλ)   (decoupled, AdamW)
        m ← m + (1−β₁)(g − m)                 (exp_avg)
        v ← β₂v + (1−β₂)g²                    (exp_avg_sq)
        v_max ← max(v_max, v)                 (max_exp_avg_sq, amsgrad; then v := v_max below)
        θ ← θ − γ/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)

    ε is added outside the square root and after the bias correction of v,
    exactly where torch adds it. State: ``step``, ``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq`` (amsgrad).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
            maximize=maximize, decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        _check_nonnegative(group["lr"], "learning rate")
        _check_nonnegative(group["eps"], "epsilon value")
        betas = tuple(group["betas"])
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        _check_nonnegative(group["weight_decay"], "weight_decay value")
        group["betas"] = tuple(float(b) for b in betas)

    def _update(self, p, grad, state, group):
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.data *= 1 - lr * wd  # θ ← θ(1 − γλ), outside the moments
            else:
                grad = grad + wd * p.data
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        work, update = self._work(p, 2)  # same operations, in place: no temporaries
        _lerp_(exp_avg, grad, 1 - beta1, work)
        exp_avg_sq *= beta2
        np.multiply(grad, 1 - beta2, out=work)
        work *= grad
        exp_avg_sq += work  # v ← β₂v + (1−β₂)g²
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if group["amsgrad"]:
            max_sq = state["max_exp_avg_sq"]
            np.maximum(max_sq, exp_avg_sq, out=max_sq)
            denom = np.sqrt(max_sq, out=work)
        else:
            denom = np.sqrt(exp_avg_sq, out=work)
        denom /= bias_correction2_sqrt
        denom += eps  # √v/√(1−β₂ᵗ) + ε
        np.multiply(exp_avg, -step_size, out=update)
        update /= denom
        p.data += update


class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← θ(1 − γλ) before the Adam step.

    torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=1e-2, amsgrad=False, *, maximize=False). The decay never
    enters m or v, unlike Adam's L2 term g + λθ.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad,
            maximize=maximize, decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


class Adagrad(Optimizer):
    """Adagrad: per-coordinate step sizes that shrink with the sum of all past squared gradients.

    torch.optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10, *, maximize=False):

        t ← t + 1
        g ← g + λθ                               (weight_decay λ ≠ 0)
        γₜ = γ / (1 + (t − 1)·lr_decay)
        s ← s + g²                               (sum)
        θ ← θ − γₜ · g / (√s + ε)                (eps outside the root)

    State, created for every parameter at construction as torch does (so a
    parameter that never gets a gradient still has it): ``step`` = 0 and
    ``sum`` = ``initial_accumulator_value`` (the constructor's value, also for
    groups that set their own, as in torch).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, maximize=maximize,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0.0, "sum": np.full_like(p.data, initial_accumulator_value)}

    def _validate(self, group):
        _check_nonnegative(group["lr"], "learning rate")
        _check_nonnegative(group["lr_decay"], "lr_decay value")
        _check_nonnegative(group["weight_decay"], "weight_decay value")
        _check_nonnegative(group["initial_accumulator_value"], "initial_accumulator_value value")
        _check_nonnegative(group["eps"], "epsilon value")

    def _update(self, p, grad, state, group):
        if not state:  # a group added after construction
            state["step"] = 0.0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        wd = group["weight_decay"]
        if wd != 0:
            grad = grad + wd * p.data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state_sum = state["sum"]
        work = self._work(p, 1)[0]
        state_sum += np.multiply(grad, grad, out=work)  # s ← s + g²
        std = np.sqrt(state_sum, out=work)
        std += group["eps"]  # √s + ε
        p.data += -clr * grad / std  # torch's addcdiv: θ + (−γₜ·g)/std
