"""Activations: scratch vs torch in both dtypes and three regimes, kinks, overflow safety, bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import scratch.activations as sa
import torch_ref.activations as ta
from parity_tests.harness import DTYPES, REGIMES, TOLERANCES, assert_parity, compare, regime_array


# name → (scratch factory, torch factory, differentiable at 0)
ACTIVATIONS = {
    "Step": (sa.Step, ta.Step, False),
    "Identity": (sa.Identity, ta.Identity, True),
    "Sigmoid": (sa.Sigmoid, ta.Sigmoid, True),
    "Tanh": (sa.Tanh, ta.Tanh, True),
    "ReLU": (sa.ReLU, ta.ReLU, False),
    "LeakyReLU": (sa.LeakyReLU, ta.LeakyReLU, False),
    "LeakyReLU(0.2)": (lambda: sa.LeakyReLU(0.2), lambda: ta.LeakyReLU(0.2), False),
    "ELU": (sa.ELU, ta.ELU, True),  # α = 1: both one-sided slopes are 1
    "ELU(0.5)": (lambda: sa.ELU(0.5), lambda: ta.ELU(0.5), False),
    "GELU": (sa.GELU, ta.GELU, True),
    "GELU(tanh)": (lambda: sa.GELU("tanh"), lambda: ta.GELU("tanh"), True),
    "SiLU": (sa.SiLU, ta.SiLU, True),
    "Softplus": (sa.Softplus, ta.Softplus, True),
    "Softplus(β=2, threshold=5)": (lambda: sa.Softplus(2.0, 5.0), lambda: ta.Softplus(2.0, 5.0), True),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@given(batch=st.integers(1, 64), features=st.integers(1, 32))
def test_activation_parity(name, batch, features):
    """Every dtype and regime for one drawn shape. Central differences run in float64, also
    where the function saturates (its slope there is 0 to the last bit), except at the kink
    of a function not differentiable at 0, where the derivative is a convention."""
    make_scratch, make_torch, smooth_at_zero = ACTIVATIONS[name]
    rng = np.random.default_rng(batch * 100 + features)
    for dtype in DTYPES:
        for regime in REGIMES:
            x = regime_array(regime, (batch, features), rng, dtype)
            check_fd = None if smooth_at_zero or regime != "kinks" else False
            assert_parity(
                f"{name} {np.dtype(dtype).name} {regime}", make_scratch(), make_torch(), [x],
                check_fd=check_fd, fd_max_elements=12,
            )


@pytest.mark.parametrize(
    "name, expected_slope_at_zero",
    [("Step", 0.0), ("ReLU", 0.0), ("LeakyReLU", 0.01), ("LeakyReLU(0.2)", 0.2), ("ELU", 1.0), ("ELU(0.5)", 0.5)],
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_derivative_at_the_kink_is_torchs_exactly(name, expected_slope_at_zero, dtype):
    make_scratch, make_torch, _ = ACTIVATIONS[name]
    x = np.array([0.0, -0.0, 0.0, 1.0, -1.0], dtype=dtype)
    dout = np.array([0.7, -1.3, 2.0, 0.5, 0.25], dtype=dtype)
    act = make_scratch()
    act.forward(x)
    grad = act.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    make_torch()(tx).backward(torch.from_numpy(dout))
    np.testing.assert_array_equal(grad[:3], tx.grad.numpy()[:3])
    np.testing.assert_array_equal(grad[:3], (expected_slope_at_zero * dout[:3]).astype(dtype))
    compare(name, "grad beside the kink", grad, tx.grad, **TOLERANCES[np.dtype(dtype)])


EDGES = [0.0, 1e-3, 1.0, 5.0, 20.0, 21.0, 88.0, 89.0, 700.0, 710.0, 1e4]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_no_overflow_or_nan_up_to_1e4(name, dtype):
    """e^{89} overflows float32 and e^{710} float64: no activation may compute one."""
    make_scratch, make_torch, _ = ACTIVATIONS[name]
    x = np.array(EDGES + [-e for e in EDGES], dtype=dtype)
    dout = np.linspace(-1.0, 2.0, x.size).astype(dtype)
    act = make_scratch()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = act.forward(x)
        grad = act.backward(dout)
    assert np.isfinite(out).all() and np.isfinite(grad).all()
    assert out.dtype == dtype and grad.dtype == dtype
    tx = torch.tensor(x, requires_grad=True)
    t_out = make_torch()(tx)
    t_out.backward(torch.from_numpy(dout))
    compare(name, "forward up to 1e4", out, t_out, **TOLERANCES[np.dtype(dtype)])
    compare(name, "grad up to 1e4", grad, tx.grad, **TOLERANCES[np.dtype(dtype)])


def test_saturated_values():
    x = np.array([-1e4, 1e4])
    np.testing.assert_array_equal(sa.Sigmoid().forward(x), [0.0, 1.0])
    np.testing.assert_array_equal(sa.Softplus().forward(x), [0.0, 1e4])
    np.testing.assert_array_equal(sa.Tanh().forward(x), [-1.0, 1.0])
    np.testing.assert_array_equal(sa.SiLU().forward(x), [0.0, 1e4])
    sig = sa.Sigmoid()
    sig.forward(np.array([0.0, 10.0]))
    # σ'(0) = ¼ is the largest slope a sigmoid passes back; at 10 it is σ(10)σ(-10) ≈ 4.5e-5
    np.testing.assert_allclose(sig.backward(np.ones(2)), [0.25, np.exp(-10.0) / (1 + np.exp(-10.0)) ** 2], rtol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backward_returns_a_new_array_and_leaves_dout_alone(name, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5)).astype(dtype)
    dout = rng.standard_normal((4, 5)).astype(dtype)
    before = dout.copy()
    act = ACTIVATIONS[name][0]()
    out = act.forward(x)
    grad = act.backward(dout)
    np.testing.assert_array_equal(dout, before)
    assert not np.shares_memory(grad, dout) and not np.shares_memory(out, x)
    grad[...] = 123.0
    np.testing.assert_array_equal(dout, before)


@pytest.mark.parametrize("bad_dtype", [np.int64, np.int32, np.bool_, np.complex128, np.float16])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_bad_dtypes_raise(name, bad_dtype):
    act = ACTIVATIONS[name][0]()
    with pytest.raises(TypeError, match=f"input: expected a float32 or float64 array, got dtype {np.dtype(bad_dtype)}"):
        act.forward(np.zeros((2, 3), dtype=bad_dtype))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backward_misuse_raises(name):
    act = ACTIVATIONS[name][0]()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        act.backward(np.ones(3))
    act.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"expected dout of shape \(2, 3\), got \(3, 2\)"):
        act.backward(np.ones((3, 2)))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        sa.GELU("erf")


def test_relu_follows_torch_on_nan_infinity_and_non_finite_upstream():
    x = np.array([0.0, np.nan, -1.0, 2.0, np.inf, -np.inf, -0.0], dtype=np.float32)
    dout = np.array([1.0, 2.0, np.nan, 4.0, 5.0, np.inf, 7.0], dtype=np.float32)
    s = sa.ReLU()
    y = s.forward(x)
    t = torch.tensor(x, requires_grad=True)
    ty = torch.relu(t)
    ty.backward(torch.from_numpy(dout))
    np.testing.assert_array_equal(y, ty.detach().numpy())  # NaN in the same place
    np.testing.assert_array_equal(s.backward(dout), t.grad.numpy())  # NaN·[x ≤ 0] is 0, as in torch
    assert y.dtype == np.float32 and s.backward(dout[::-1].copy()).dtype == np.float32
