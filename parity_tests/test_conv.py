"""Conv2d, im2col and col2im: scratch vs torch, the adjoint identity, and a CNN trained in lockstep."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import scratch.activations as sa
import scratch.conv as sc
import scratch.layers as sl
import scratch.losses as sloss
import scratch.optim as so
import scratch.pooling as sp
import torch_ref.conv as tc
import torch_ref.layers as tl
import torch_ref.losses as tloss
import torch_ref.optim as to
import torch_ref.pooling as tp
from parity_tests.harness import DTYPES, assert_parity, compare
from torch_ref.module import load_scratch_state

TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def _int_or_pair(low, high):
    """torch accepts both spellings: draw an int or an (h, w) pair."""
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


@st.composite
def conv_configs(draw, max_side=16):
    groups = draw(st.sampled_from([1, 2]))
    return dict(
        in_channels=groups * draw(st.integers(1, 6 // groups)),
        out_channels=groups * draw(st.integers(1, 6 // groups)),
        kernel_size=draw(_int_or_pair(1, 5)),
        stride=draw(_int_or_pair(1, 3)),
        padding=draw(_int_or_pair(0, 2)),
        dilation=draw(_int_or_pair(1, 2)),
        groups=groups,
        bias=draw(st.booleans()),
        shape=(draw(st.integers(1, 8)), draw(st.integers(1, max_side)), draw(st.integers(1, max_side))),
        seed=draw(st.integers(0, 2**16)),
    )


def _pair(v):
    return (v, v) if isinstance(v, int) else v


def _kernel_fits(cfg):
    """torch's rule: the dilated kernel must fit inside the padded input, per axis."""
    k, p, d = _pair(cfg["kernel_size"]), _pair(cfg["padding"]), _pair(cfg["dilation"])
    return all(size + 2 * pi >= di * (ki - 1) + 1 for size, ki, pi, di in zip(cfg["shape"][1:], k, p, d))


def _check_conv(cfg, dtype):
    """Forward, input and parameter gradients, central differences; a kernel that does not fit raises in both."""
    rng = np.random.default_rng(cfg["seed"])
    args = {k: cfg[k] for k in ("kernel_size", "stride", "padding", "dilation", "groups", "bias")}
    s = sc.Conv2d(cfg["in_channels"], cfg["out_channels"], dtype=dtype, rng=rng, **args)
    t = tc.Conv2d(cfg["in_channels"], cfg["out_channels"], **args).to(TORCH_DTYPE[dtype])
    n, h, w = cfg["shape"]
    x = rng.standard_normal((n, cfg["in_channels"], h, w)).astype(dtype)
    if not _kernel_fits(cfg):
        with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
            t(torch.from_numpy(x))
        with pytest.raises(ValueError, match=r"Calculated padded input size per channel: \(\d+ x \d+\)\. Kernel size: "):
            s.forward(x)
        return
    assert_parity(f"Conv2d {args} on {x.shape}", s, t, [x])


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=40)
@given(cfg=conv_configs())
def test_conv2d_parity(dtype, cfg):
    _check_conv(cfg, dtype)


@settings(max_examples=20)
@given(cfg=conv_configs(max_side=4))
def test_conv2d_parity_on_tiny_inputs(cfg):
    """Inputs of 1-4 pixels a side, where the kernel often does not fit: torch and scratch both refuse those."""
    _check_conv(cfg, np.float64)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_options(dtype):
    """padding='same' (odd and even kernels, dilated), 'valid', no bias, unbatched input, groups = channels."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 9, 7)).astype(dtype)
    cases = [
        ((6, 4, 3), dict(padding="same")),
        ((6, 4, (4, 2)), dict(padding="same", dilation=(1, 2))),  # even: the odd pixel goes bottom/right
        ((6, 4, (2, 3)), dict(padding="valid", stride=(2, 1))),
        ((6, 6, 3), dict(groups=6, bias=False, padding=(0, 2))),  # depthwise
        ((6, 3, (5, 1)), dict(groups=3, dilation=2)),
    ]
    for (cin, cout, k), kw in cases:
        s = sc.Conv2d(cin, cout, k, dtype=dtype, rng=rng, **kw)
        t = tc.Conv2d(cin, cout, k, **kw)
        assert [(n, p.shape) for n, p in s.named_parameters()] == [(n, tuple(p.shape)) for n, p in t.named_parameters()]
        assert list(s.state_dict()) == list(t.state_dict())
        assert repr(s) == repr(t), (repr(s), repr(t))
        for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode"):
            assert getattr(s, name) == getattr(t, name), name
        assert_parity(f"Conv2d({cin}, {cout}, {k}, {kw})", s, t, [x])
        s.zero_grad()
        assert_parity(f"Conv2d({cin}, {cout}, {k}, {kw}) unbatched", s, t, [x[1]])
        if kw.get("padding") == "same":
            assert s.forward(x).shape[2:] == x.shape[2:]


def test_default_init_matches_torch_distribution():
    # torch: kaiming_uniform_(a=√5) ⇒ U(−1/√fan_in, 1/√fan_in), fan_in = in/groups·kh·kw, bias likewise
    s = sc.Conv2d(32, 64, (3, 5), groups=2, rng=0)
    bound = 1 / np.sqrt(16 * 3 * 5)
    w, b = s.weight.data, s.bias.data
    assert w.dtype == np.float32 and w.shape == (64, 16, 3, 5) and b.shape == (64,)
    assert bound >= np.abs(w).max() > 0.99 * bound and np.abs(b).max() <= bound
    assert abs(w.var() - bound**2 / 3) < 0.03 * bound**2  # variance of U(−a, a) = a²/3
    t = tc.Conv2d(32, 64, (3, 5), groups=2)
    assert abs(t.weight.detach().numpy().var() - w.var()) < 0.05 * bound**2
    assert np.abs(t.weight.detach().numpy()).max() <= bound


CONFIGS = [  # (kernel, stride, padding, dilation) for im2col/col2im
    (3, 1, 1, 1),
    ((2, 3), (2, 1), (1, 0), 1),
    ((3, 2), 3, (2, 1), (2, 1)),
    (1, 2, 0, 1),
    ((4, 4), (1, 2), 2, 2),
]


@pytest.mark.parametrize("kernel, stride, padding, dilation", CONFIGS)
def test_im2col_is_unfold_and_col2im_is_fold(kernel, stride, padding, dilation):
    """The column layout is torch's: scratch im2col = F.unfold, scratch col2im = F.fold, to the last bit."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9, 8))
    cols = sc.im2col(x, kernel, stride, padding, dilation)
    np.testing.assert_array_equal(cols, tc.im2col(torch.from_numpy(x), kernel, stride, padding, dilation).numpy())
    c = rng.standard_normal(cols.shape)
    compare("col2im", "image", sc.col2im(c, x.shape, kernel, stride, padding, dilation),
            tc.col2im(torch.from_numpy(c), x.shape, kernel, stride, padding, dilation), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("kernel, stride, padding, dilation", CONFIGS + [(3, 2, ((0, 2), (1, 0)), 1)])
def test_col2im_is_the_adjoint_of_im2col(kernel, stride, padding, dilation):
    """⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for random x and c: col2im is im2col's transpose, hence its backward."""
    rng = np.random.default_rng(3)
    for shape in [(2, 3, 9, 8), (1, 2, 6, 11)]:
        x = rng.standard_normal(shape)
        cols = sc.im2col(x, kernel, stride, padding, dilation)
        c = rng.standard_normal(cols.shape)
        back = sc.col2im(c, shape, kernel, stride, padding, dilation)
        lhs, rhs = float(np.sum(cols * c)), float(np.sum(x * back))
        scale = float(np.sum(np.abs(cols * c)))
        assert abs(lhs - rhs) <= 1e-12 * scale, (lhs, rhs, scale)
        # the identity is not vacuous: a col2im that drops one kernel offset breaks it
        c_dropped = c.reshape(shape[0], shape[1], -1, c.shape[-1]).copy()
        c_dropped[:, :, -1] = 0
        wrong = float(np.sum(x * sc.col2im(c_dropped.reshape(c.shape), shape, kernel, stride, padding, dilation)))
        assert abs(lhs - wrong) > 1e-6 * scale


def test_conv_is_im2col_then_one_matrix_product():
    """Y = W_col · X_col per sample (the docstring's formula), and dW = Σ_n dY_n · X_col,nᵀ."""
    rng = np.random.default_rng(4)
    s = sc.Conv2d(3, 5, (3, 2), stride=(1, 2), padding=1, dtype=np.float64, rng=rng)
    x = rng.standard_normal((4, 3, 7, 8))
    y = s.forward(x)
    cols = sc.im2col(x, (3, 2), (1, 2), 1)
    w_col = s.weight.data.reshape(5, -1)
    np.testing.assert_allclose(y.reshape(4, 5, -1), w_col @ cols + s.bias.data[:, None], rtol=1e-13, atol=1e-14)
    dy = rng.standard_normal(y.shape)
    dx = s.backward(dy)
    dy_col = dy.reshape(4, 5, -1)
    np.testing.assert_allclose(s.weight.grad.reshape(5, -1), sum(dy_col[n] @ cols[n].T for n in range(4)), rtol=1e-12)
    np.testing.assert_allclose(dx, sc.col2im(w_col.T @ dy_col, x.shape, (3, 2), (1, 2), 1), rtol=1e-12, atol=1e-14)


def test_needs_input_grad_false_skips_dx_and_keeps_parameter_grads():
    rng = np.random.default_rng(5)
    x, dy = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 4, 6, 6))
    full = sc.Conv2d(3, 4, 3, padding=1, dtype=np.float64, rng=1)
    first = sc.Conv2d(3, 4, 3, padding=1, dtype=np.float64, rng=1)
    first.needs_input_grad = False
    full.forward(x), first.forward(x)
    assert full.backward(dy) is not None
    assert first.backward(dy) is None
    np.testing.assert_array_equal(first.weight.grad, full.weight.grad)
    np.testing.assert_array_equal(first.bias.grad, full.bias.grad)


def test_gradients_accumulate_and_buffers_never_leak_between_calls():
    """Reused work buffers stay invisible: outputs of earlier calls keep their values, gradients
    accumulate until zero_grad, smaller and larger batches work in any order, and a second
    backward after one forward (whose columns now hold dX_col) raises as torch does."""
    rng = np.random.default_rng(6)
    s = sc.Conv2d(2, 3, 3, padding=1, dtype=np.float64, rng=rng)
    t = tc.Conv2d(2, 3, 3, padding=1).double()
    load_scratch_state(t, s)
    xs = [rng.standard_normal((n, 2, 5, 4)) for n in (4, 2, 6, 4)]
    outs = [s.forward(x) for x in xs]
    for x, y in zip(xs, outs):
        compare("Conv2d reused buffers", "earlier output", y, t(torch.from_numpy(x)), rtol=1e-13, atol=1e-14)
    g = rng.standard_normal((4, 3, 5, 4))
    s.forward(xs[0])
    s.backward(g)
    first = s.weight.grad.copy()
    with pytest.raises(RuntimeError, match="backward called a second time"):
        s.backward(g)
    s.forward(xs[1])  # a smaller batch in between
    s.forward(xs[0])
    s.backward(g)
    np.testing.assert_allclose(s.weight.grad, 2 * first, rtol=1e-15)
    s.zero_grad()
    assert s.weight.grad is None and s.bias.grad is None


def _conv_cases():
    """(what, torch call, scratch call, torch's exception, scratch's exception, scratch message)."""
    x = lambda *shape, dtype=np.float32: np.zeros(shape, dtype)
    run_t = lambda args, kw, arr: lambda: tc.Conv2d(*args, **kw)(torch.from_numpy(arr))
    run_s = lambda args, kw, arr: lambda: sc.Conv2d(*args, **kw).forward(arr)
    cases = [
        ("wrong channel count", (3, 8, 3), {}, x(2, 4, 8, 8), RuntimeError, ValueError,
         r"weight of size \(8, 3, 3, 3\), expected input of shape \(2, 4, 8, 8\) to have 3 channels, but got 4 channels instead"),
        ("5-D input", (3, 8, 3), {}, x(1, 2, 3, 8, 8), RuntimeError, ValueError,
         r"Expected 3D \(unbatched\) or 4D \(batched\) input to Conv2d, but got input of shape \(1, 2, 3, 8, 8\)"),
        ("2-D input", (3, 8, 3), {}, x(2, 3), RuntimeError, ValueError, r"Expected 3D \(unbatched\) or 4D .* \(2, 3\)"),
        ("kernel larger than padded input", (3, 8, 5), dict(padding=1), x(2, 3, 2, 9), RuntimeError, ValueError,
         r"padded input size per channel: \(4 x 11\)\. Kernel size: \(5 x 5\)\. Kernel size can't be greater"),
        ("dilated kernel larger than input", (3, 8, 3), dict(dilation=(3, 1)), x(2, 3, 6, 9), RuntimeError, ValueError,
         r"\(6 x 9\)\. Kernel size: \(7 x 3\)"),
        ("stride 0", (3, 8, 3), dict(stride=0), x(2, 3, 8, 8), RuntimeError, ValueError,
         r"non-positive stride is not supported, got stride=\(0, 0\)"),
        ("negative padding", (3, 8, 3), dict(padding=(1, -1)), x(2, 3, 8, 8), RuntimeError, ValueError,
         r"negative padding is not supported, got padding=\(1, -1\)"),
        ("dilation 0", (3, 8, 3), dict(dilation=0), x(2, 3, 8, 8), RuntimeError, ValueError, "non-positive dilation"),
        ("float64 input, float32 layer", (3, 8, 3), {}, x(2, 3, 8, 8, dtype=np.float64), RuntimeError, TypeError,
         r"input type float64 and weight type float32 should be the same; cast one of them"),
        ("unbatched float64 input", (3, 8, 3), {}, x(3, 8, 8, dtype=np.float64), RuntimeError, TypeError, "should be the same"),
        ("integer input", (3, 8, 3), {}, x(2, 3, 8, 8, dtype=np.int64), RuntimeError, TypeError,
         "expected a float32 or float64 array, got dtype int64"),
        ("kernel size 0", (3, 8, 0), {}, x(2, 3, 8, 8), RuntimeError, ValueError, r"kernel_size must be positive, got \(0, 0\)"),
        ("groups do not divide in_channels", (3, 8, 3), dict(groups=2), x(2, 3, 8, 8), ValueError, ValueError,
         "in_channels must be divisible by groups, got in_channels=3, groups=2"),
        ("groups do not divide out_channels", (4, 6, 3), dict(groups=4), x(2, 4, 8, 8), ValueError, ValueError,
         "out_channels must be divisible by groups, got out_channels=6, groups=4"),
        ("groups 0", (4, 8, 3), dict(groups=0), x(2, 4, 8, 8), ValueError, ValueError, "groups must be a positive integer, got 0"),
        ("unknown padding string", (4, 8, 3), dict(padding="full"), x(2, 4, 8, 8), ValueError, ValueError,
         r"Invalid padding string 'full', should be one of \{'same', 'valid'\}"),
        ("'same' with stride", (4, 8, 3), dict(padding="same", stride=2), x(2, 4, 8, 8), ValueError, ValueError,
         "padding='same' is not supported for strided convolutions"),
    ]
    return [pytest.param(run_t(a, kw, arr), run_s(a, kw, arr), te, se, msg, id=what) for what, a, kw, arr, te, se, msg in cases]


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
@pytest.mark.parametrize("torch_call, scratch_call, torch_error, scratch_error, message", _conv_cases())
def test_conv_bad_input_raises_like_torch(torch_call, scratch_call, torch_error, scratch_error, message):
    """torch refuses it, and scratch refuses it with a message naming what was expected and what was given."""
    with pytest.raises(torch_error):
        torch_call()
    with pytest.raises(scratch_error, match=message):
        scratch_call()


def test_conv_backward_misuse():
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        sc.Conv2d(2, 3, 3, padding_mode="mirror")
    with pytest.raises(NotImplementedError, match="padding_mode='reflect' is not implemented here, only 'zeros'"):
        sc.Conv2d(2, 3, 3, padding_mode="reflect")
    s = sc.Conv2d(2, 3, 3)
    with pytest.raises(RuntimeError, match="before forward"):
        s.backward(np.zeros((1, 3, 2, 2), np.float32))
    s.forward(np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected dout of shape \(1, 3, 2, 2\), got \(1, 3, 4, 4\)"):
        s.backward(np.zeros((1, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"im2col: expected input of shape \(N, C, H, W\), got \(4, 4\)"):
        sc.im2col(np.zeros((4, 4)), 3)
    with pytest.raises(ValueError, match=r"col2im: expected columns of shape \(1, 18, 4\)"):
        sc.col2im(np.zeros((1, 18, 5)), (1, 2, 4, 4), 3)


# -- a small CNN trained in lockstep -------------------------------------------------------
STEPS, BATCH = 200, 8


def _images(n=64, seed=0):
    """16x16 RGB noise; class 1 carries a brighter square in the red channel."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 3, 16, 16))
    x[y == 1, 0, 4:12, 4:12] += 1.0
    return x, y[:, None].astype(np.float64)


def _cnn_twins(rng):
    """Conv-BN-ReLU-MaxPool ×2 → global average pool → Flatten → Linear, in both twins, same weights.

    A convolution feeding BatchNorm has no bias (BN subtracts the batch mean, so its gradient is
    round-off that Adam would amplify into random steps; see ``scratch.mlp``)."""
    f64 = np.float64
    s = sl.Sequential(
        sc.Conv2d(3, 8, 3, padding=1, bias=False, dtype=f64, rng=rng), sl.BatchNorm2d(8, dtype=f64), sa.ReLU(), sp.MaxPool2d(2),
        sc.Conv2d(8, 16, 3, padding=1, bias=False, dtype=f64, rng=rng), sl.BatchNorm2d(16, dtype=f64), sa.ReLU(), sp.MaxPool2d(2),
        sp.AdaptiveAvgPool2d(1), sl.Flatten(), sl.Linear(16, 1, dtype=f64, rng=rng),
    )
    s[0].needs_input_grad = False  # its input is data
    t = tl.Sequential(
        tc.Conv2d(3, 8, 3, padding=1, bias=False), tl.BatchNorm2d(8), torch.nn.ReLU(), tp.MaxPool2d(2),
        tc.Conv2d(8, 16, 3, padding=1, bias=False), tl.BatchNorm2d(16), torch.nn.ReLU(), tp.MaxPool2d(2),
        tp.AdaptiveAvgPool2d(1), tl.Flatten(), tl.Linear(16, 1),
    ).double()
    load_scratch_state(t, s)
    return s, t


@pytest.mark.parametrize(
    "optimizer, kwargs", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.01))], ids=["SGD momentum", "Adam"]
)
def test_cnn_200_steps_agree_after_every_step(optimizer, kwargs):
    """Every parameter and running buffer agrees after every one of 200 steps (float64, rtol 1e-9)."""
    s, t = _cnn_twins(np.random.default_rng(7))
    sopt, topt = getattr(so, optimizer)(s.parameters(), **kwargs), getattr(to, optimizer)(t.parameters(), **kwargs)
    s_loss, t_loss = sloss.BCEWithLogitsLoss(), tloss.BCEWithLogitsLoss()
    X, Y = _images()
    losses, worst = [], 0.0
    batches = [
        idx for epoch in range(STEPS * BATCH // len(X)) for idx in np.random.default_rng(epoch).permutation(len(X)).reshape(-1, BATCH)
    ]
    for step, idx in enumerate(batches, 1):
        xb, yb = X[idx], Y[idx]
        sopt.zero_grad()
        loss = s_loss.forward(s.forward(xb), yb)
        s.backward(s_loss.backward())
        sopt.step()
        topt.zero_grad()
        tl_ = t_loss(t(torch.from_numpy(xb)), torch.from_numpy(yb))
        tl_.backward()
        topt.step()
        losses.append(float(loss))
        compare(f"CNN {optimizer} step {step}", "loss", np.float64(loss), tl_.detach(), rtol=1e-9, atol=1e-12)
        t_state = {n: v.detach() for n, v in t.state_dict().items() if v.is_floating_point()}
        for name, value in s.state_dict().items():
            if name in t_state:
                expected = t_state[name].numpy()
                compare(f"CNN {optimizer} step {step}", name, value, expected, rtol=1e-9, atol=1e-12)
                worst = max(worst, float(np.abs(value - expected).max() / max(1.0, np.abs(expected).max())))
    print(f"\nCNN, {optimizer}, float64: drift over {STEPS} steps: max |Δθ|/max(1, max|θ|) = {worst:.2e}")
    assert len(losses) == STEPS
    assert np.mean(losses[-BATCH:]) < 0.7 * np.mean(losses[:BATCH]), (losses[:BATCH], losses[-BATCH:])
