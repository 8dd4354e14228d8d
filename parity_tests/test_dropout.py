"""Dropout / Dropout2d: exact parity with torch's own masks, keep-rate statistics, eval, shared masks, errors."""

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import scratch.dropout as sd
import scratch.mlp as smlp
import torch_ref.dropout as td
import torch_ref.mlp as tmlp
from parity_tests.harness import DTYPES, assert_parity, compare

#: Output and gradient against torch's: the same products of the same numbers, so 1e-12 in both dtypes.
EXACT = dict(rtol=1e-12, atol=1e-12)
CLASSES = {"Dropout": (sd.Dropout, td.Dropout, torch.nn.Dropout), "Dropout2d": (sd.Dropout2d, td.Dropout2d, torch.nn.Dropout2d)}


def _no_zeros(rng, shape, dtype):
    """Inputs without zeros, so that torch's mask can be read off its output (out != 0)."""
    return (rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(dtype)


def _torchs_mask(layer, x, seed):
    """Run torch's own layer (torch's generator, seeded) and read its keep-mask off the output."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        kept = (layer(torch.from_numpy(x)) != 0).numpy()
    if isinstance(layer, torch.nn.Dropout2d):
        channel = kept.reshape(kept.shape[:2] + (-1,))
        assert (channel == channel[..., :1]).all(), "Dropout2d must keep or drop whole channels"
        return channel[..., :1].reshape(kept.shape[:2] + (1,) * (x.ndim - 2))
    return kept


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@given(shape=st.lists(st.integers(1, 6), min_size=4, max_size=4), seed=st.integers(0, 2**16))
def test_parity_with_torchs_own_mask(name, p, dtype, shape, seed):
    """torch's nn.Dropout draws; its mask, read off the output, given to scratch: output, input gradient, FD."""
    scls, _, tcls = CLASSES[name]
    x = _no_zeros(np.random.default_rng(seed), tuple(shape), dtype)
    t = tcls(p)
    mask = _torchs_mask(t, x, seed)

    def torchs_own(tx, _mask):  # the same seed: torch's generator draws the same mask again
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return t(tx)

    assert_parity(f"{name}(p={p}) with torch's mask", scls(p), torchs_own, [x], targets=[mask], **EXACT)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CLASSES))
def test_p_zero_and_one_and_eval_follow_torch(name, dtype):
    """p = 0 and eval mode: exactly the identity; p = 1: x·0 (zeros, and NaN stays NaN, as in torch)."""
    scls, tcls, _ = CLASSES[name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 2, 2)).astype(dtype)
    x[0, 0, 0, 0], x[1, 1, 1, 1] = np.nan, np.inf
    dy = rng.standard_normal(x.shape).astype(dtype)
    for p, training in [(0.0, True), (0.5, False), (1.0, False), (1.0, True)]:
        s, t = scls(p, rng=0).train(training), tcls(p).train(training)
        state = s.rng.bit_generator.state
        tx = torch.tensor(x, requires_grad=True)
        ty = t(tx)
        ty.backward(torch.from_numpy(dy))
        y = s.forward(x)
        np.testing.assert_array_equal(y, ty.detach().numpy())
        np.testing.assert_array_equal(s.backward(dy), tx.grad.numpy())
        if p == 0 or not training:
            np.testing.assert_array_equal(y, x)  # bit for bit, NaN and inf included
            assert y is not x  # a fresh array, as every scratch layer returns
        assert s.rng.bit_generator.state == state, "no draw unless units are dropped at random"
        assert s.last_mask is None


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_keep_rate_within_5_sigma_over_a_million_draws(p):
    """Kept fraction of 10⁶ units (or channels) within 5σ = 5√(p(1−p)/n) of 1 − p; kept values are exactly 1/(1−p)."""
    n = 10**6
    sigma = np.sqrt(p * (1 - p) / n)
    ones = np.ones((1000, 1000), np.float32)
    for label, y in [
        ("scratch Dropout", sd.Dropout(p, rng=0).forward(ones)),
        ("scratch Dropout2d", sd.Dropout2d(p, rng=0).forward(np.ones((1000, 1000, 1, 2), np.float32))[..., 0, 0]),
        ("torch Dropout", torch.nn.Dropout(p)(torch.from_numpy(ones)).numpy()),
    ]:
        assert set(np.unique(y)) <= {0.0, np.float32(1 / (1 - p))}, label
        rate = np.count_nonzero(y) / n
        assert abs(rate - (1 - p)) < 5 * sigma, f"{label}: keep rate {rate} vs {1 - p} ± 5·{sigma:.1e}"
        assert abs(y.mean(dtype=np.float64) - 1.0) < 5 * sigma / (1 - p), f"{label}: E[y] = x"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CLASSES))
def test_twins_seeded_alike_draw_the_same_masks(name, dtype):
    """Each twin with its own generator, seeded alike: the same masks forward after forward, in either
    dtype, and the same gradients. This is how two twins train with dropout in lockstep."""
    scls, tcls, _ = CLASSES[name]
    s, t = scls(0.4, rng=np.random.default_rng(7)), tcls(0.4, rng=np.random.default_rng(7))
    masks = []
    rng = np.random.default_rng(2)
    for shape in [(8, 3, 2, 2), (5, 6, 1, 3), (8, 3, 2, 2)]:
        x, dy = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
        tx = torch.tensor(x, requires_grad=True)
        ty = t(tx)
        ty.backward(torch.from_numpy(dy))
        compare(name, "output", s.forward(x), ty, **EXACT)
        compare(name, "grad of input", s.backward(dy), tx.grad, **EXACT)
        np.testing.assert_array_equal(s.last_mask, t.last_mask)
        masks.append(s.last_mask)
    assert not np.array_equal(masks[0], masks[2]), "a fresh mask every forward"
    other = scls(0.4, rng=np.random.default_rng(7))
    other.forward(np.ones((8, 3, 2, 2), np.float32 if dtype == np.float64 else np.float64))
    np.testing.assert_array_equal(other.last_mask, masks[0])  # the draw does not depend on the dtype


def test_explicit_mask_inplace_and_names():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))
    m = rng.random((4, 5)) < 0.5
    for layer in (sd.Dropout(0.25), td.Dropout(0.25)):
        y = layer(x if isinstance(layer, sd.Dropout) else torch.from_numpy(x), m.astype(np.float64))  # 0/1 accepted
        np.testing.assert_array_equal(np.asarray(y), x * (m / 0.75))
        np.testing.assert_array_equal(layer.last_mask, m)
    a = x.copy()
    y = sd.Dropout(0.25, inplace=True).forward(a, m)
    assert y is a and np.array_equal(a, x * (m / 0.75))  # inplace=True writes into the input, as torch's does
    ta = torch.from_numpy(x.copy())
    assert td.Dropout(0.25, inplace=True)(ta, m) is ta
    for s, t in [(sd.Dropout(0.3), torch.nn.Dropout(0.3)), (sd.Dropout2d(), torch.nn.Dropout2d())]:
        assert repr(s) == repr(t) and list(s.state_dict()) == list(t.state_dict()) == []
    for name, (scls, tcls, torch_cls) in CLASSES.items():  # torch's (p=0.5, inplace=False), then rng on both twins
        ours, twin = inspect.signature(scls).parameters, inspect.signature(tcls).parameters
        assert [(a, p.default) for a, p in ours.items()] == [(a, p.default) for a, p in twin.items()], name
        assert [(a, p.default) for a, p in inspect.signature(torch_cls).parameters.items()] == [("p", 0.5), ("inplace", False)]
        assert list(ours)[:2] == ["p", "inplace"] and ours["p"].default == 0.5 and ours["inplace"].default is False


def test_dropout2d_follows_torch_for_3d_and_other_inputs():
    """torch reads a 3-D input as (N, C, L) (one mask entry per row, with a warning), not as (C, H, W)."""
    for shape, message in [((2, 3, 4), "Received a 3D input"), ((4, 5), "Received a 2-D input")]:
        x = _no_zeros(np.random.default_rng(4), shape, np.float64)
        with pytest.warns(UserWarning, match=message):
            mask = _torchs_mask(torch.nn.Dropout2d(0.5), x, 5)
        assert mask.shape == shape[:2] + (1,) * (len(shape) - 2)
        for layer in (sd.Dropout2d(0.5), td.Dropout2d(0.5)):
            with pytest.warns(UserWarning, match=message):
                layer(x if isinstance(layer, sd.Dropout2d) else torch.from_numpy(x), mask)
            np.testing.assert_array_equal(layer.last_mask, mask)


def test_bad_input():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, but got {p}") as torch_error:
            torch.nn.Dropout(p)
        for cls in (sd.Dropout, sd.Dropout2d):
            with pytest.raises(ValueError) as ours:
                cls(p)
            assert str(ours.value) == str(torch_error.value)
    torch.nn.Dropout(float("nan"))  # torch's check lets NaN through; here it is rejected
    with pytest.raises(ValueError, match="between 0 and 1, but got nan"):
        sd.Dropout(float("nan"))
    with pytest.raises(TypeError, match="dropout probability must be a real number, got str"):
        sd.Dropout("0.5")
    x = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"Dropout: expected a keep-mask of shape \(4, 5\), got \(5, 4\)"):
        sd.Dropout().forward(x, np.ones((5, 4), bool))
    with pytest.raises(ValueError, match=r"Dropout2d: expected a keep-mask of shape \(4, 5, 1, 1\), got \(4, 5\)"):
        sd.Dropout2d().forward(np.ones((4, 5, 2, 2), np.float32), np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="booleans or 0/1"):
        sd.Dropout().forward(x, np.full((4, 5), 2.0))
    with pytest.raises(ValueError, match=r"Dropout: expected a keep-mask of shape \(4, 5\), got \(5, 4\)"):
        td.Dropout()(torch.from_numpy(x), np.ones((5, 4), bool))
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"), pytest.warns(UserWarning):
        torch.nn.Dropout2d()(torch.ones(5))
    with pytest.raises(ValueError, match=r"requires at least 2 dimensions \(N, C, …\) in the input, got shape \(5,\)"):
        sd.Dropout2d().forward(np.ones(5, np.float32))
    with pytest.raises(TypeError, match="int64"):
        sd.Dropout().forward(np.ones((2, 2), np.int64))
    with pytest.raises(RuntimeError, match="before forward"):
        sd.Dropout().backward(x)
    layer = sd.Dropout()
    layer.forward(x)
    with pytest.raises(ValueError, match=r"expected dout of shape \(4, 5\), got \(4,\)"):
        layer.backward(np.ones(4, np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_with_layernorm_and_dropout_is_the_same_network_in_both_twins(dtype):
    """``mlp(..., layernorm=True, dropout=p, dropout_rng=…)``: same layers, same state_dict keys, and with
    generators seeded alike the same forward and gradients (a fresh mask each forward: no central differences)."""
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    s = smlp.mlp([5, 8, 6, 3], "relu", dtype=dtype, rng=0, layernorm=True, dropout=0.3, dropout_rng=np.random.default_rng(1))
    t = tmlp.mlp([5, 8, 6, 3], "relu", dtype=tdtype, layernorm=True, dropout=0.3, dropout_rng=np.random.default_rng(1))
    assert [type(m).__name__ for m in s] == [type(m).__name__ for m in t] == [
        "Linear", "LayerNorm", "ReLU", "Dropout", "Linear", "LayerNorm", "ReLU", "Dropout", "Linear"]
    assert list(s.state_dict()) == list(t.state_dict())
    x = np.random.default_rng(2).standard_normal((7, 5)).astype(dtype)
    assert_parity("mlp + LayerNorm + Dropout", s, t, [x], check_fd=False)
    np.testing.assert_array_equal(s[3].last_mask, t[3].last_mask)
    s.eval(), t.eval()
    s.zero_grad()
    assert_parity("mlp + LayerNorm + Dropout, eval", s, t, [x])  # eval: deterministic, so central differences too
    for build in (smlp.mlp, tmlp.mlp):
        with pytest.raises(ValueError, match="choose batchnorm or layernorm, not both"):
            build([4, 3, 2], "relu", True, layernorm=True)
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
            build([4, 3, 2], dropout=1.5)
