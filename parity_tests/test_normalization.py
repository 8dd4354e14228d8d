"""Normalization: BatchNorm1d / BatchNorm2d in both modes, running buffers, state_dict, errors; LayerNorm over trailing dims."""

import inspect
import re

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import scratch.layers as sl
import scratch.normalization as sn
import torch_ref.layers as tl
import torch_ref.normalization as tn
from parity_tests.harness import DTYPES, assert_parity, compare
from torch_ref.module import load_scratch_state


def _scratch_bn(cls, c, dtype, rng, **kw):
    """A layer with non-trivial γ, β (the defaults 1 and 0 would hide a swapped γ/β bug)."""
    bn = cls(c, dtype=dtype, **kw)
    if bn.affine:
        bn.weight.data[...] = rng.uniform(0.5, 2.0, c)
        bn.bias.data[...] = rng.standard_normal(c)
    return bn


SHAPES = {
    "BatchNorm1d (N,C)": (sn.BatchNorm1d, tn.BatchNorm1d, (16, 5)),
    "BatchNorm1d (N,C,L)": (sn.BatchNorm1d, tn.BatchNorm1d, (6, 4, 7)),
    "BatchNorm2d (N,C,H,W)": (sn.BatchNorm2d, tn.BatchNorm2d, (4, 3, 5, 6)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(SHAPES))
def test_training_then_eval_parity(case, dtype):
    """Training: batch statistics, buffers updated; eval: running statistics. Forward, grads, buffers, FD."""
    scls, tcls, shape = SHAPES[case]
    rng = np.random.default_rng(len(shape))
    c = shape[1]
    s, t = _scratch_bn(scls, c, dtype, rng), tcls(c)
    # a shifted, scaled input so that μ ≠ 0 and σ ≠ 1 per channel
    loc = rng.uniform(-3, 3, (1, c) + (1,) * (len(shape) - 2))
    x = lambda: (rng.standard_normal(shape) * 2.5 + loc).astype(dtype)
    assert_parity(f"{case} train", s, t, [x()])
    for _ in range(3):  # three more training batches move the running buffers
        s.zero_grad()
        assert_parity(f"{case} train", s, t, [x()], load_state=False, check_fd=False)
    assert int(s.num_batches_tracked) == int(t.num_batches_tracked) == 4
    s.eval()
    s.zero_grad()
    assert_parity(f"{case} eval", s, t, [x()], load_state=False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_options_affine_tracking_momentum(dtype):
    rng = np.random.default_rng(7)
    x = lambda: (rng.standard_normal((10, 3)) * 2 + 1).astype(dtype)
    # no γ, β: output is x̂ itself
    s, t = sn.BatchNorm1d(3, affine=False, dtype=dtype), tn.BatchNorm1d(3, affine=False)
    assert list(s.state_dict()) == list(t.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    assert_parity("BatchNorm1d(affine=False)", s, t, [x()])
    # no buffers: batch statistics in eval mode too, and no state at all
    s, t = _scratch_bn(sn.BatchNorm1d, 3, dtype, rng, track_running_stats=False), tn.BatchNorm1d(3, track_running_stats=False)
    assert list(s.state_dict()) == list(t.state_dict()) == ["weight", "bias"]
    s.eval()
    assert_parity("BatchNorm1d(track_running_stats=False) eval", s, t, [x()])
    # momentum=None: cumulative average of every batch's statistics
    s, t = _scratch_bn(sn.BatchNorm1d, 3, dtype, rng, momentum=None), tn.BatchNorm1d(3, momentum=None)
    batches = [x() for _ in range(4)]
    for k, b in enumerate(batches):
        s.zero_grad()
        assert_parity(f"BatchNorm1d(momentum=None) batch {k}", s, t, [b], load_state=k == 0, check_fd=False)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(s.running_mean, np.mean([b.mean(0) for b in batches], axis=0), rtol=tol, atol=tol)
    np.testing.assert_allclose(s.running_var, np.mean([b.var(0, ddof=1) for b in batches], axis=0), rtol=tol, atol=tol)


def test_biased_variance_to_normalize_unbiased_for_running_var():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 2)) * np.array([1.0, 4.0]) + np.array([2.0, -1.0])
    bn = sn.BatchNorm1d(2, momentum=1.0, eps=0.0 + 1e-5, dtype=np.float64)  # momentum 1: buffers = this batch
    y = bn.forward(x)
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-13)
    np.testing.assert_allclose(bn.running_mean, x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(bn.running_var, x.var(0, ddof=1), rtol=1e-13)  # m/(m−1)·σ²
    assert bn.num_batches_tracked.dtype == np.int64 and int(bn.num_batches_tracked) == 1
    # default momentum 0.1 from the initial buffers (0, 1)
    bn = sn.BatchNorm1d(2, dtype=np.float64)
    bn.forward(x)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-13)


def test_backward_is_the_compact_closed_form_and_kills_constant_gradients():
    """dx = (1/m)·γ/σ̂·(m·dy − Σdy − x̂·Σ(dy·x̂)): an all-ones dy gives dx = 0 exactly (in exact math)."""
    rng = np.random.default_rng(4)
    bn = _scratch_bn(sn.BatchNorm1d, 4, np.float64, rng)
    x = rng.standard_normal((12, 4)) * 3
    x_hat = (x - x.mean(0)) / np.sqrt(x.var(0) + bn.eps)
    bn.forward(x)
    dy = rng.standard_normal((12, 4))
    dx = bn.backward(dy)
    expected = (bn.weight.data / np.sqrt(x.var(0) + bn.eps) / 12) * (12 * dy - dy.sum(0) - x_hat * (dy * x_hat).sum(0))
    np.testing.assert_allclose(dx, expected, rtol=1e-12, atol=1e-14)
    bn.forward(x)
    assert np.abs(bn.backward(np.ones((12, 4)))).max() < 1e-14  # why harness upstreams are never all ones


@pytest.mark.parametrize("dtype", DTYPES)
def test_state_dict_keys_and_round_trip_with_torch(dtype):
    rng = np.random.default_rng(5)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    for scls, tcls, shape in SHAPES.values():
        c = shape[1]
        s, t = _scratch_bn(scls, c, dtype, rng), tcls(c).to(tdtype)
        x = rng.standard_normal(shape).astype(dtype)
        s.forward(x)
        s.forward(x * 2 + 1)
        assert list(s.state_dict()) == list(t.state_dict()) == [
            "weight", "bias", "running_mean", "running_var", "num_batches_tracked"
        ]
        load_scratch_state(t, s)
        assert t.num_batches_tracked.dtype == torch.int64 and int(t.num_batches_tracked) == 2
        s.eval(), t.eval()
        compare(f"{scls.__name__} loaded into torch", "eval output", s.forward(x), t(torch.from_numpy(x)), rtol=1e-12 if dtype == np.float64 else 1e-6, atol=1e-12 if dtype == np.float64 else 1e-6)
        back = scls(c, dtype=dtype)
        back.load_state_dict(t.state_dict())
        for k, v in s.state_dict().items():
            np.testing.assert_array_equal(back.state_dict()[k], v)
            assert back.state_dict()[k].dtype == v.dtype


def test_batch_of_one_raises_like_torch():
    msg = "Expected more than 1 value per channel when training"
    s, t = sn.BatchNorm1d(3), tn.BatchNorm1d(3)
    x = np.zeros((1, 3), np.float32)
    with pytest.raises(ValueError, match=msg):
        t(torch.from_numpy(x))
    with pytest.raises(ValueError, match=msg + r", got input size \(1, 3\)"):
        s.forward(x)
    assert int(s.num_batches_tracked) == 0  # nothing was updated
    s.eval()
    assert s.forward(x).shape == (1, 3)  # eval mode uses the running statistics: fine
    # BatchNorm2d: one image still has H·W values per channel
    s2 = sn.BatchNorm2d(2)
    assert s2.forward(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)).shape == (1, 2, 2, 2)
    with pytest.raises(ValueError, match=msg):
        s2.forward(np.zeros((1, 2, 1, 1), np.float32))
    # without running statistics, eval normalizes with the batch: one value is an error there too
    s3 = sn.BatchNorm1d(3, track_running_stats=False).eval()
    with pytest.raises(ValueError, match=msg):
        s3.forward(x)


def test_bad_input():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        sn.BatchNorm1d(3).forward(np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        sn.BatchNorm2d(3).forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected 3 channels on axis 1, got input of shape \(2, 4\)"):
        sn.BatchNorm1d(3).forward(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="input dtype float64 does not match the layer's float32"):
        sn.BatchNorm1d(3).forward(np.zeros((2, 3), np.float64))
    with pytest.raises(TypeError, match="int64"):
        sn.BatchNorm1d(3).forward(np.zeros((2, 3), np.int64))
    with pytest.raises(RuntimeError, match="before forward"):
        sn.BatchNorm1d(3).backward(np.zeros((2, 3), np.float32))


def test_bias_before_batchnorm_gets_only_roundoff_gradient():
    """Why ``mlp(..., batchnorm=True)`` drops the bias of a Linear feeding BatchNorm.

    BN subtracts the batch mean, so y = BN(Wx + b) does not depend on b: dL/db = Σₙ dxₙ = 0
    exactly (the closed form's Σ of (m·dy − Σdy − x̂·Σ(dy·x̂)) vanishes since Σx̂ = 0).
    In floating point both twins get round-off of their own, ~1e-17; Adam or RMSprop
    would divide that noise by its own size and take learning-rate-sized random steps.
    """
    rng = np.random.default_rng(6)
    lin = sl.Linear(4, 5, dtype=np.float64, rng=rng)
    bn = _scratch_bn(sn.BatchNorm1d, 5, np.float64, rng)
    net = sl.Sequential(lin, bn)
    x, dy = rng.standard_normal((16, 4)), rng.standard_normal((16, 5))
    net.forward(x)
    net.backward(dy)
    assert np.abs(lin.bias.grad).max() < 1e-14 * np.abs(lin.weight.grad).max()
    t = tl.Sequential(tl.Linear(4, 5), tn.BatchNorm1d(5)).double()
    load_scratch_state(t, net)
    t(torch.from_numpy(x)).backward(torch.from_numpy(dy))
    assert t[0].bias.grad.abs().max() < 1e-14 * t[0].weight.grad.abs().max()


def test_batchnorm_is_still_importable_from_layers():
    assert sl.BatchNorm1d is sn.BatchNorm1d and sl.BatchNorm2d is sn.BatchNorm2d
    assert tl.BatchNorm1d is tn.BatchNorm1d is torch.nn.BatchNorm1d and tl.BatchNorm2d is tn.BatchNorm2d


# -- LayerNorm ------------------------------------------------------------------------------

LAYERNORM_OPTIONS = {
    "affine": dict(),
    "no bias": dict(bias=False),
    "no affine": dict(elementwise_affine=False),
}


def _scratch_ln(normalized_shape, dtype, rng, **kw):
    """A LayerNorm with random γ, β (the initial 1 and 0 would hide a swapped γ/β or a missing path)."""
    ln = sn.LayerNorm(normalized_shape, dtype=dtype, **kw)
    if ln.weight is not None:
        ln.weight.data[...] = rng.uniform(0.5, 2.0, ln.weight.shape)
    if ln.bias is not None:
        ln.bias.data[...] = rng.standard_normal(ln.bias.shape)
    return ln


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", list(LAYERNORM_OPTIONS))
@given(
    leading=st.lists(st.integers(1, 5), min_size=0, max_size=2),
    normalized=st.lists(st.integers(1, 6), min_size=1, max_size=3),
)
def test_layernorm_parity(options, dtype, leading, normalized):
    """Any number of leading and of normalized (trailing) dims: forward, input/γ/β grads, central differences."""
    kw = LAYERNORM_OPTIONS[options]
    rng = np.random.default_rng(len(leading) * 10 + sum(normalized))
    shape = tuple(leading) + tuple(normalized)
    if np.prod(normalized) == 1:
        normalized = normalized + [2]  # one value per sample normalizes to exactly 0: nothing to compare
        shape = shape + (2,)
    s = _scratch_ln(normalized, dtype, rng, **kw)
    t = tn.LayerNorm(normalized, **kw)
    # per-sample shift and scale, so that μ ≠ 0 and σ ≠ 1 for every sample
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3.0) + rng.uniform(-3, 3)).astype(dtype)
    assert_parity(f"LayerNorm{tuple(normalized)} {options}", s, t, [x])
    s.eval()
    s.zero_grad()
    assert_parity(f"LayerNorm{tuple(normalized)} {options} eval", s, t, [x], check_fd=False)  # no buffers: same function


class _LayerNormWithoutVariancePath(sn.LayerNorm):
    """A plausible bug: dx = (1/σ̂)(g − mean g), forgetting the −x̂·Σ(g·x̂)/M term (the path through σ²)."""

    def backward(self, dout):
        x_hat, invstd, axes = self._cache
        super().backward(dout)  # parameter gradients are right
        g = dout * self.weight.data
        return invstd * (g - g.mean(axis=axes, keepdims=True))


def test_all_ones_upstream_hides_a_wrong_layernorm_input_gradient():
    """With γ = 1 (the initial value) an all-ones dy makes the true dx exactly 0, and the wrong
    backward also returns 0: it passes. A random dy (what ``assert_parity`` always uses) catches it."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 5)) * 2 + 1
    t_x = torch.tensor(x, requires_grad=True)
    tn.LayerNorm(5).double()(t_x).backward(torch.ones(6, 5, dtype=torch.float64))
    for layer in (sn.LayerNorm(5, dtype=np.float64), _LayerNormWithoutVariancePath(5, dtype=np.float64)):
        layer.forward(x)
        compare("LayerNorm, all-ones upstream", "grad of input", layer.backward(np.ones((6, 5))), t_x.grad, rtol=1e-10, atol=1e-12)
    assert np.abs(t_x.grad.numpy()).max() < 1e-14  # the true gradient: zero up to round-off
    assert_parity("LayerNorm", sn.LayerNorm(5, dtype=np.float64), tn.LayerNorm(5), [x])
    with pytest.raises(AssertionError, match=r"\[LayerNorm, wrong backward\] grad of input\[0\]"):
        assert_parity("LayerNorm, wrong backward", _LayerNormWithoutVariancePath(5, dtype=np.float64), tn.LayerNorm(5), [x])


@pytest.mark.parametrize("dtype", DTYPES)
def test_layernorm_state_dict_keys_round_trip_and_batch_of_one(dtype):
    rng = np.random.default_rng(9)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    for options, kw in LAYERNORM_OPTIONS.items():
        s, t = _scratch_ln((3, 4), dtype, rng, **kw), tn.LayerNorm((3, 4), **kw).to(tdtype)
        assert list(s.state_dict()) == list(t.state_dict()), options
        assert repr(s) == repr(t), options
        load_scratch_state(t, s)
        x = rng.standard_normal((1, 3, 4)).astype(dtype)  # a batch of one: per-sample statistics need no batch
        compare(f"LayerNorm {options} loaded into torch", "output", s.forward(x), t(torch.from_numpy(x)), **tol)
        back = sn.LayerNorm((3, 4), dtype=dtype, **kw)
        back.load_state_dict(t.state_dict())
        for k, v in s.state_dict().items():
            np.testing.assert_array_equal(back.state_dict()[k], v)
    assert not list(sn.LayerNorm(3).named_buffers())
    ours, theirs = inspect.signature(sn.LayerNorm).parameters, inspect.signature(tn.LayerNorm).parameters
    assert [(a, p.default) for a, p in ours.items()][:4] == [(a, p.default) for a, p in theirs.items()][:4]


def test_layernorm_bad_input():
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 3, 4\], but got input of size\[2, 4, 3\]"):
        tn.LayerNorm((3, 4))(torch.zeros(2, 4, 3))
    with pytest.raises(ValueError, match=r"normalized_shape=\[3, 4\], expected input with shape \(\*, 3, 4\), but got input of shape \(2, 4, 3\)"):
        sn.LayerNorm((3, 4)).forward(np.zeros((2, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected input with shape \(\*, 5\), but got input of shape \(\)"):
        sn.LayerNorm(5).forward(np.float32(1.0))
    with pytest.raises(TypeError, match="input dtype float64 does not match the layer's float32"):
        sn.LayerNorm(3).forward(np.zeros((2, 3), np.float64))
    with pytest.raises(TypeError, match="int64"):
        sn.LayerNorm(3).forward(np.zeros((2, 3), np.int64))
    for bad in (0, (), (3, -1)):
        with pytest.raises(ValueError, match=r"normalized_shape must be a positive int .*, got " + re.escape(repr(bad))):
            sn.LayerNorm(bad)
    with pytest.raises(TypeError, match="normalized_shape must be a positive int .*, got 2.5"):
        sn.LayerNorm(2.5)
    with pytest.raises(RuntimeError, match="before forward"):
        sn.LayerNorm(3).backward(np.zeros((2, 3), np.float32))
    ln = sn.LayerNorm(3)
    ln.forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected dout of shape \(2, 3\), got \(3, 2\)"):
        ln.backward(np.zeros((3, 2), np.float32))


@pytest.mark.parametrize("eps", [-1.0, 0.0])
def test_batchnorm_eps_raises_where_torch_does_and_where_it_would_give_nan(eps):
    x = np.random.default_rng(0).standard_normal((8, 3))
    for training, track in ((True, True), (False, False), (False, True)):
        s, t = sn.BatchNorm1d(3, eps=eps, track_running_stats=track), torch.nn.BatchNorm1d(3, eps=eps,
                                                                                       track_running_stats=track)
        s.train(training), t.train(training)
        try:
            t(torch.from_numpy(x.astype(np.float32)))
        except ValueError as torch_error:
            with pytest.raises(ValueError, match=re.escape(str(torch_error))):
                s.forward(x.astype(np.float32))
            continue
        assert eps == 0.0 and not training and track  # torch accepts eps=0 with running statistics
        np.testing.assert_allclose(s.forward(x.astype(np.float32)), t(torch.from_numpy(x.astype(np.float32)))
                                   .detach().numpy(), rtol=1e-6)
    s = sn.BatchNorm1d(3, eps=0.0)
    s.running_var[...] = 0.0  # where torch would return inf/NaN
    s.eval()
    with pytest.raises(ValueError, match="running_var is 0 in a channel and eps=0"):
        s.forward(x.astype(np.float32))


def test_layernorm_eps_raises_only_where_the_result_would_be_nan():
    constant, varied = np.ones((2, 4)), np.random.default_rng(0).standard_normal((2, 4))
    assert np.isnan(torch.nn.LayerNorm(4, eps=0.0).double()(torch.from_numpy(constant)).detach().numpy()).all()
    with pytest.raises(ValueError, match=r"σ² \+ eps ≤ 0 for a sample \(smallest σ² 0, eps=0.0\)"):
        sn.LayerNorm(4, eps=0.0, dtype=np.float64).forward(constant)
    with pytest.raises(ValueError, match="use eps > 0"):
        sn.LayerNorm(4, eps=-10.0, dtype=np.float64).forward(varied)
    for eps in (0.0, -1e-3):  # finite where torch is finite, and equal to it
        s, t = sn.LayerNorm(4, eps=eps, dtype=np.float64), torch.nn.LayerNorm(4, eps=eps).double()
        np.testing.assert_allclose(s.forward(varied), t(torch.from_numpy(varied)).detach().numpy(), rtol=1e-12)
