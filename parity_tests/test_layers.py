"""Linear and Sequential: scratch vs torch, and the linear-collapse claim."""

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import scratch.activations as sa
import scratch.layers as sl
import torch_ref.layers as tl
from parity_tests.harness import DTYPES, assert_parity, regime_array
from torch_ref.module import load_scratch_state


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("regime", ["ordinary", "extreme"])
@given(batch=st.integers(1, 64), fin=st.integers(1, 32), fout=st.integers(1, 32))
def test_linear_parity(dtype, regime, batch, fin, fout):
    rng = np.random.default_rng(batch * 1000 + fin * 10 + fout)
    layer = sl.Linear(fin, fout, dtype=dtype, rng=rng)
    x = regime_array(regime, (batch, fin), rng, dtype)
    assert_parity("Linear", layer, tl.Linear(fin, fout), [x])


def test_linear_single_sample_and_no_bias():
    rng = np.random.default_rng(1)
    layer = sl.Linear(5, 3, bias=False, dtype=np.float64, rng=rng)
    assert_parity("Linear(bias=False)", layer, tl.Linear(5, 3, bias=False), [rng.standard_normal((4, 5))])
    layer = sl.Linear(5, 3, dtype=np.float64, rng=rng)
    assert_parity("Linear 1-d input", layer, tl.Linear(5, 3), [rng.standard_normal(5)])


def test_sequential_names_and_parity():
    rng = np.random.default_rng(2)
    s = sl.Sequential(sl.Linear(6, 8, dtype=np.float64, rng=rng), sa.Tanh(), sl.Linear(8, 3, dtype=np.float64, rng=rng))
    t = tl.Sequential(tl.Linear(6, 8), torch.nn.Tanh(), tl.Linear(8, 3))
    assert [n for n, _ in s.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert list(s.state_dict()) == list(t.state_dict())
    assert_parity("Sequential", s, t, [rng.standard_normal((7, 6))])


def test_default_init_matches_torch_distribution():
    # torch: kaiming_uniform_(a=√5) ⇒ U(−1/√in, 1/√in) for weight and bias
    layer = sl.Linear(400, 300, rng=0)
    bound = 1 / np.sqrt(400)
    w = layer.weight.data
    assert w.dtype == np.float32 and w.shape == (300, 400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.var() - bound**2 / 3) < 0.02 * bound**2  # variance of U(−a, a) = a²/3
    t = torch.nn.Linear(400, 300)
    assert abs(t.weight.detach().numpy().var() - w.var()) < 0.03 * bound**2


def test_state_dict_round_trip_through_torch():
    rng = np.random.default_rng(3)
    s = sl.Sequential(sl.Linear(4, 5, dtype=np.float64, rng=rng), sa.ReLU(), sl.Linear(5, 2, dtype=np.float64, rng=rng))
    t = tl.Sequential(tl.Linear(4, 5), torch.nn.ReLU(), tl.Linear(5, 2)).double()
    load_scratch_state(t, s)
    x = rng.standard_normal((9, 4))
    np.testing.assert_allclose(s.forward(x), t(torch.from_numpy(x)).detach().numpy(), rtol=1e-13, atol=1e-15)
    s2 = sl.Sequential(sl.Linear(4, 5, dtype=np.float64), sa.ReLU(), sl.Linear(5, 2, dtype=np.float64))
    s2.load_state_dict(t.state_dict())
    np.testing.assert_array_equal(s2.forward(x), s.forward(x))


def test_gradients_accumulate_until_zero_grad():
    rng = np.random.default_rng(4)
    layer = sl.Linear(3, 2, dtype=np.float64, rng=rng)
    x, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    layer.forward(x)
    layer.backward(g)
    first = layer.weight.grad.copy()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * first, rtol=1e-15)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


def test_linear_collapse_and_nonlinearity_breaks_it():
    """Seed claim: linear layers without activation collapse to one linear map."""
    rng = np.random.default_rng(5)
    stack = [sl.Linear(a, b, dtype=np.float64, rng=rng) for a, b in [(10, 20), (20, 15), (15, 4)]]
    W, b = sl.collapse_linear_stack(stack)
    assert W.shape == (4, 10)
    x = rng.standard_normal((50, 10))
    deep = sl.Sequential(*stack).forward(x)
    np.testing.assert_allclose(x @ W.T + b, deep, rtol=0, atol=1e-12)
    # torch twin agrees
    t = [tl.Linear(a, b).double() for a, b in [(10, 20), (20, 15), (15, 4)]]
    for tt, ss in zip(t, stack):
        load_scratch_state(tt, ss)
    tW, tb = tl.collapse_linear_stack(t)
    np.testing.assert_allclose(tW.numpy(), W, rtol=1e-12, atol=1e-14)
    # with a nonlinearity in between, no linear map fits: least-squares residual is large
    nonlin = sl.Sequential(stack[0], sa.Tanh(), stack[1], sa.Tanh(), stack[2]).forward(x)
    X1 = np.hstack([x, np.ones((50, 1))])
    coef, *_ = np.linalg.lstsq(X1, nonlin, rcond=None)
    residual = np.abs(X1 @ coef - nonlin).max()
    assert residual > 1e-3, residual


def test_linear_bad_input():
    layer = sl.Linear(3, 2)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\).*got \(4, 5\)"):
        layer.forward(np.zeros((4, 5), np.float32))
    with pytest.raises(TypeError, match="expected a float32 or float64 array, got dtype int64"):
        layer.forward(np.zeros((4, 3), np.int64))
    with pytest.raises(TypeError, match="complex"):
        layer.forward(np.zeros((4, 3), np.complex128))
    with pytest.raises(ValueError, match="positive"):
        sl.Linear(0, 2)


def test_assigning_a_registered_buffer_keeps_it_registered():
    # torch: module.running_mean = tensor updates the buffer; it stays in state_dict
    bn = sl.BatchNorm1d(3, dtype=np.float64)
    bn.running_mean = np.full(3, 2.0)
    assert "running_mean" in bn.state_dict()
    np.testing.assert_array_equal(bn.state_dict()["running_mean"], np.full(3, 2.0))
    assert [k for k in bn.state_dict()] == list(torch.nn.BatchNorm1d(3).state_dict())



def _dtype_rule_cases():
    """(name, scratch float32 layer, torch float32 layer, float64 input) for every scratch layer."""
    import scratch.conv as sc
    import scratch.dropout as sd
    import scratch.normalization as sn
    import scratch.pooling as sp

    x2, x4 = np.linspace(-2, 2, 24).reshape(4, 6), np.linspace(-2, 2, 4 * 3 * 4 * 4).reshape(4, 3, 4, 4)
    with_parameters = [
        ("Linear", sl.Linear(6, 2), torch.nn.Linear(6, 2), x2),
        ("Conv2d", sc.Conv2d(3, 2, 3), torch.nn.Conv2d(3, 2, 3), x4),
        ("BatchNorm1d", sn.BatchNorm1d(6), torch.nn.BatchNorm1d(6), x2),
        ("BatchNorm2d", sn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), x4),
        ("BatchNorm1d(affine=False)", sn.BatchNorm1d(6, affine=False), torch.nn.BatchNorm1d(6, affine=False), x2),
        ("LayerNorm", sn.LayerNorm(6), torch.nn.LayerNorm(6), x2),
    ]
    without = [
        ("ReLU", sa.ReLU(), torch.nn.ReLU(), x2), ("Sigmoid", sa.Sigmoid(), torch.nn.Sigmoid(), x2),
        ("GELU", sa.GELU(), torch.nn.GELU(), x2),
        ("Dropout", sd.Dropout(0.5, rng=0), torch.nn.Dropout(0.5), x2),
        ("MaxPool2d", sp.MaxPool2d(2), torch.nn.MaxPool2d(2), x4),
        ("AvgPool2d", sp.AvgPool2d(2), torch.nn.AvgPool2d(2), x4),
        ("Flatten", sl.Flatten(), torch.nn.Flatten(), x4),
        ("LayerNorm(elementwise_affine=False)", sn.LayerNorm(6, elementwise_affine=False),
         torch.nn.LayerNorm(6, elementwise_affine=False), x2),
        ("BatchNorm1d(affine=False, track_running_stats=False)",
         sn.BatchNorm1d(6, affine=False, track_running_stats=False),
         torch.nn.BatchNorm1d(6, affine=False, track_running_stats=False), x2),
    ]
    return with_parameters, without


def test_one_dtype_rule_for_every_layer_as_torch():
    """A float32 layer given float64: torch refuses wherever the layer holds float32 parameters or
    buffers, and so does scratch (TypeError naming both dtypes); layers holding nothing return float64."""
    with_parameters, without = _dtype_rule_cases()
    for name, scratch_layer, torch_layer, x in with_parameters:
        with pytest.raises(RuntimeError):
            torch_layer(torch.from_numpy(x))
        with pytest.raises(TypeError, match="float64 does not match the layer's float32|float64 and weight type "
                                            "float32 should be the same"):
            scratch_layer.forward(x)
        y = scratch_layer.forward(x.astype(np.float32))  # the matching dtype passes
        assert y.dtype == np.float32, name
    for name, scratch_layer, torch_layer, x in without:
        assert torch_layer(torch.from_numpy(x)).dtype == torch.float64, name
        y = scratch_layer.forward(x)
        assert y.dtype == np.float64 and scratch_layer.backward(np.ones_like(y)).dtype == np.float64, name
