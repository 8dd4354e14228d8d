"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d: scratch vs torch, ties, NaN, bin edges, errors."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import scratch.pooling as sp
import torch_ref.pooling as tp
from parity_tests.harness import DTYPES, assert_parity, compare

TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def _int_or_pair(low, high):
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@st.composite
def pool_configs(draw, with_dilation):
    cfg = dict(
        kernel_size=draw(_int_or_pair(1, 5)),
        stride=draw(st.one_of(st.none(), _int_or_pair(1, 3))),
        padding=draw(_int_or_pair(0, 2)),
        ceil_mode=draw(st.booleans()),
    )
    if with_dilation:
        cfg["dilation"] = draw(_int_or_pair(1, 2))
    shape = (draw(st.integers(1, 8)), draw(st.integers(1, 6)), draw(st.integers(1, 16)), draw(st.integers(1, 16)))
    return cfg, shape, draw(st.integers(0, 2**16))


def _torch_refusal(cfg, shape):
    """The error torch's pool2d_shape_check raises for this configuration, as (torch's words, scratch's words), or None."""
    k, p = _pair(cfg["kernel_size"]), _pair(cfg["padding"])
    s, d = _pair(cfg["stride"] or cfg["kernel_size"]), _pair(cfg.get("dilation", 1))
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        return "pad should be .*half of .*kernel size", "pad should be at most half of kernel size"
    for size, ki, si, pi, di in zip(shape[2:], k, s, p, d):
        out = (size + 2 * pi - di * (ki - 1) - 1 + (si - 1 if cfg["ceil_mode"] else 0)) // si + 1
        if cfg["ceil_mode"] and (out - 1) * si >= size + pi:
            out -= 1
        if out < 1:
            return "Output size is too small", r"calculated output size \(\d+x-?\d+x-?\d+\)\. Output size is too small"
    return None


def _check_pool(name, scratch_cls, torch_cls, cfg, shape, seed, dtype):
    """Parity for a valid configuration; for an invalid one, torch raises and so does scratch, with a clear message."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    refusal = _torch_refusal(cfg, shape)
    if refusal is not None:
        with pytest.raises(RuntimeError, match=refusal[0]):
            torch_cls(**cfg)(torch.from_numpy(x))
        with pytest.raises(ValueError, match=refusal[1]):
            scratch_cls(**cfg).forward(x)
        return
    s, t = scratch_cls(**cfg), torch_cls(**cfg)
    y_torch = t(torch.from_numpy(x))
    if torch.isinf(y_torch).any():
        # A window that holds only padding (dilation 2 across a 1-pixel side): torch outputs −∞ there
        # and its backward writes that window's gradient outside the input, so compare the forward
        # and check that scratch routes every other window's gradient to exactly one input pixel.
        y = s.forward(x)
        np.testing.assert_array_equal(y, y_torch.numpy(), err_msg=f"{name} {cfg} on {shape}: forward output")
        dy = rng.standard_normal(y.shape).astype(dtype)
        np.testing.assert_allclose(s.backward(dy).sum(), dy[np.isfinite(y)].sum(), rtol=1e-6)
        return
    assert_parity(f"{name} {cfg} on {shape}", s, t, [x])


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=40)
@given(case=pool_configs(with_dilation=True))
def test_maxpool2d_parity(dtype, case):
    _check_pool("MaxPool2d", sp.MaxPool2d, tp.MaxPool2d, *case, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=60)
@given(case=pool_configs(with_dilation=False), count_include_pad=st.booleans(), divisor=st.sampled_from([None, 1, 3, 7]))
def test_avgpool2d_parity(dtype, case, count_include_pad, divisor):
    cfg, shape, seed = case
    cfg = dict(cfg, count_include_pad=count_include_pad, divisor_override=divisor)
    _check_pool("AvgPool2d", sp.AvgPool2d, tp.AvgPool2d, cfg, shape, seed, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=30)
@given(
    out=st.one_of(st.integers(1, 8), st.tuples(st.one_of(st.none(), st.integers(1, 8)), st.one_of(st.none(), st.integers(1, 8)))),
    shape=st.tuples(st.integers(1, 8), st.integers(1, 6), st.integers(1, 16), st.integers(1, 16)),
    unbatched=st.booleans(),
)
def test_adaptive_avgpool2d_parity(dtype, out, shape, unbatched):
    """Any output size, smaller or larger than the input, None keeping the input's size."""
    x = np.random.default_rng(sum(shape)).standard_normal(shape[1:] if unbatched else shape).astype(dtype)
    assert_parity(f"AdaptiveAvgPool2d({out}) on {x.shape}", sp.AdaptiveAvgPool2d(out), tp.AdaptiveAvgPool2d(out), [x])


TIE_CASES = [  # windows that overlap, stick out (padding, ceil_mode), skip pixels (dilation)
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", TIE_CASES, ids=str)
def test_maxpool2d_tied_maxima_send_the_gradient_where_torch_does(cfg, dtype):
    """Integer-valued inputs and constant regions: the first maximum in row-major window order wins."""
    rng = np.random.default_rng(8)
    few_values = rng.integers(0, 3, (2, 3, 9, 8)).astype(dtype)
    constant = np.zeros((2, 3, 9, 8), dtype)
    constant[:, :, 4:, 3:] = 1.0  # two flat plateaus meeting inside some windows
    for x in (few_values, constant):
        # a gradient sent to another pixel of its window would be off by a whole upstream value
        assert_parity(f"MaxPool2d{cfg} ties", sp.MaxPool2d(**cfg), tp.MaxPool2d(**cfg), [x], check_fd=False)


def test_maxpool2d_nan_and_infinity_follow_torch():
    """NaN wins its window (torch keeps the last NaN), −∞ inputs and −∞ padding never steal a real maximum."""
    rng = np.random.default_rng(9)
    x = rng.integers(0, 4, (2, 2, 7, 7)).astype(np.float64)
    x[x == 0], x[x == 1] = np.nan, -np.inf
    only_minus_inf = np.full((1, 1, 4, 4), -np.inf)  # every window's winner is its first input pixel
    with np.errstate(invalid="ignore"):  # the comparison subtracts inf from inf where both twins agree
        for cfg in TIE_CASES:
            assert_parity(f"MaxPool2d{cfg} NaN/inf", sp.MaxPool2d(**cfg), tp.MaxPool2d(**cfg), [x], check_fd=False)
        assert_parity("MaxPool2d all −∞", sp.MaxPool2d(3, 1, 1), tp.MaxPool2d(3, 1, 1), [only_minus_inf], check_fd=False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbatched_input(dtype):
    x = np.random.default_rng(13).standard_normal((3, 7, 6)).astype(dtype)
    for s, t in [(sp.MaxPool2d(3, 2, 1), tp.MaxPool2d(3, 2, 1)), (sp.AvgPool2d((2, 3), 1, (1, 0), True), tp.AvgPool2d((2, 3), 1, (1, 0), True))]:
        assert_parity(f"{type(s).__name__} (C, H, W)", s, t, [x])


def test_maxpool2d_2x2_halves_the_image_and_keeps_one_byte_per_window():
    x = np.random.default_rng(10).standard_normal((4, 3, 100, 99)).astype(np.float32)
    pool = sp.MaxPool2d(2)
    y = pool.forward(x)
    assert y.shape == (4, 3, 50, 49)
    np.testing.assert_array_equal(y, x[:, :, :100, :98].reshape(4, 3, 50, 2, 49, 2).max(axis=(3, 5)))
    assert pool._cache[2].dtype == np.uint8  # the winner's offset: all backward keeps
    dx = pool.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.sum() == y.size and (dx[:, :, :, 98] == 0).all()  # the last column is in no window


def test_attributes_and_repr_are_torchs():
    """Arguments are kept as given, as torch keeps them (an int stays an int; stride defaults to kernel_size)."""
    for s, t in [
        (sp.MaxPool2d(2), tp.MaxPool2d(2)),
        (sp.MaxPool2d((3, 2), 1, (1, 0), 2, False, True), tp.MaxPool2d((3, 2), 1, (1, 0), 2, False, True)),
        (sp.AvgPool2d(3, 2, 1, True, False, 5), tp.AvgPool2d(3, 2, 1, True, False, 5)),
        (sp.AdaptiveAvgPool2d((4, None)), tp.AdaptiveAvgPool2d((4, None))),
    ]:
        assert repr(s) == repr(t)
        for name in ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode", "count_include_pad",
                     "divisor_override", "output_size"):
            assert getattr(s, name, None) == getattr(t, name, None), name


def test_avgpool2d_divisor_rules():
    """ceil_mode windows clipped to the padded input (count_include_pad) or to the input alone."""
    x = np.ones((1, 1, 5, 5))
    full = sp.AvgPool2d(3, 2, 1, ceil_mode=True).forward(x)
    real = sp.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False).forward(x)
    np.testing.assert_allclose(real, np.ones((1, 1, 3, 3)), rtol=1e-15)  # only real pixels: mean of ones is 1
    # corner windows cover 2x2 input pixels of a 3x3 window: 4/9; edges 6/9; centre 9/9
    np.testing.assert_allclose(full[0, 0], np.outer([2, 3, 2], [2, 3, 2]) / 9, rtol=1e-15)
    over = sp.AvgPool2d(3, 2, 1, divisor_override=2).forward(x)
    np.testing.assert_allclose(over[0, 0], np.outer([2, 3, 2], [2, 3, 2]) / 2, rtol=1e-15)


def test_adaptive_bins_and_global_average_pooling():
    # torch's bins: start = ⌊i·H/OH⌋, end = ⌈(i+1)·H/OH⌉; 10 rows into 3 bins overlap: [0,4) [3,7) [6,10)
    a = sp.AdaptiveAvgPool2d.bin_matrix(10, 3)
    assert [tuple(np.flatnonzero(row)[[0, -1]] + [0, 1]) for row in a] == [(0, 4), (3, 7), (6, 10)]
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-15)
    x = np.random.default_rng(11).standard_normal((3, 4, 6, 7))
    gap = sp.AdaptiveAvgPool2d(1)
    np.testing.assert_allclose(gap.forward(x)[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-14, atol=1e-16)
    dy = np.random.default_rng(12).standard_normal((3, 4, 1, 1))
    np.testing.assert_allclose(gap.backward(dy), np.broadcast_to(dy / 42, x.shape), rtol=1e-14)  # each pixel gets dy/(H·W)


def _pool_cases():
    f32 = lambda *shape: np.zeros(shape, np.float32)
    cases = [
        ("MaxPool2d 2-D input", tp.MaxPool2d, sp.MaxPool2d, dict(kernel_size=2), f32(8, 8), ValueError,
         r"expected a 3D \(C, H, W\) or 4D \(N, C, H, W\) input .* got input of shape \(8, 8\)"),
        ("MaxPool2d 5-D input", tp.MaxPool2d, sp.MaxPool2d, dict(kernel_size=2), f32(1, 1, 1, 8, 8), ValueError, r"\(1, 1, 1, 8, 8\)"),
        ("MaxPool2d empty channel axis", tp.MaxPool2d, sp.MaxPool2d, dict(kernel_size=2), f32(1, 0, 8, 8), ValueError, "non-zero C, H, W"),
        ("MaxPool2d kernel larger than input", tp.MaxPool2d, sp.MaxPool2d, dict(kernel_size=3), f32(1, 2, 2, 9), ValueError,
         r"given input size \(2x2x9\), calculated output size \(2x0x3\)\. Output size is too small"),
        ("MaxPool2d stride 0", tp.MaxPool2d, sp.MaxPool2d, dict(kernel_size=3, stride=0), f32(1, 1, 8, 8), ValueError,
         "stride should be greater than zero, but got dH: 0 dW: 0"),
        ("MaxPool2d kernel 0", tp.MaxPool2d, sp.MaxPool2d, dict(kernel_size=0), f32(1, 1, 8, 8), ValueError,
         "kernel size should be greater than zero"),
        ("MaxPool2d negative padding", tp.MaxPool2d, sp.MaxPool2d, dict(kernel_size=2, padding=-1), f32(1, 1, 8, 8), ValueError,
         r"pad must be non-negative, but got pad: \(-1, -1\)"),
        ("MaxPool2d padding over half the kernel", tp.MaxPool2d, sp.MaxPool2d, dict(kernel_size=3, padding=2, dilation=2),
         f32(1, 1, 8, 8), ValueError, r"pad should be at most half of kernel size, but got pad=\(2, 2\), kernel_size=\(3, 3\)"),
        ("MaxPool2d dilation 0", tp.MaxPool2d, sp.MaxPool2d, dict(kernel_size=2, dilation=0), f32(1, 1, 8, 8), ValueError,
         "dilation should be greater than zero"),
        ("AvgPool2d padding over half the kernel", tp.AvgPool2d, sp.AvgPool2d, dict(kernel_size=(3, 5), padding=(2, 1)),
         f32(1, 1, 8, 8), ValueError, "pad should be at most half of kernel size"),
        ("AvgPool2d kernel larger than input", tp.AvgPool2d, sp.AvgPool2d, dict(kernel_size=3), f32(1, 1, 9, 2), ValueError,
         "Output size is too small"),
        ("AvgPool2d divisor 0", tp.AvgPool2d, sp.AvgPool2d, dict(kernel_size=2, divisor_override=0), f32(1, 1, 8, 8), ValueError,
         "divisor must be not zero"),
        ("AdaptiveAvgPool2d 2-D input", tp.AdaptiveAvgPool2d, sp.AdaptiveAvgPool2d, dict(output_size=2), f32(8, 8), ValueError,
         r"got input of shape \(8, 8\)"),
        ("AdaptiveAvgPool2d empty height", tp.AdaptiveAvgPool2d, sp.AdaptiveAvgPool2d, dict(output_size=2), f32(1, 1, 0, 8), ValueError,
         r"non-zero C, H, W, got input of shape \(1, 1, 0, 8\)"),
        ("AdaptiveAvgPool2d negative size", tp.AdaptiveAvgPool2d, sp.AdaptiveAvgPool2d, dict(output_size=-1), f32(1, 1, 8, 8), ValueError,
         r"elements of output_size must be greater than or equal to 0 but received \(-1, -1\)"),
        ("AdaptiveAvgPool2d three sizes", tp.AdaptiveAvgPool2d, sp.AdaptiveAvgPool2d, dict(output_size=(2, 3, 4)), f32(1, 1, 8, 8),
         ValueError, r"output_size must be an int or a pair of ints or None, got \(2, 3, 4\)"),
    ]
    return [
        pytest.param(lambda t=t, kw=kw, x=x: t(**kw)(torch.from_numpy(x)), lambda s=s, kw=kw, x=x: s(**kw).forward(x), err, msg, id=what)
        for what, t, s, kw, x, err, msg in cases
    ]


@pytest.mark.parametrize("torch_call, scratch_call, scratch_error, message", _pool_cases())
def test_pool_bad_input_raises_like_torch(torch_call, scratch_call, scratch_error, message):
    """torch refuses it (RuntimeError), and scratch refuses it naming what was expected and what was given."""
    with pytest.raises(RuntimeError):
        torch_call()
    with pytest.raises(scratch_error, match=message):
        scratch_call()


def test_pool_backward_misuse_and_integer_input():
    with pytest.raises(NotImplementedError, match="return_indices=True is not supported"):
        sp.MaxPool2d(2, return_indices=True)
    # torch max-pools integer tensors; the twins work in float32/float64 only, as every scratch layer
    with pytest.raises(TypeError, match="expected a float32 or float64 array, got dtype int64"):
        sp.MaxPool2d(2).forward(np.zeros((1, 1, 4, 4), np.int64))
    for layer, shape in [(sp.MaxPool2d(2), (1, 1, 2, 2)), (sp.AvgPool2d(2), (1, 1, 2, 2)), (sp.AdaptiveAvgPool2d(2), (1, 1, 2, 2))]:
        with pytest.raises(RuntimeError, match="before forward"):
            layer.backward(np.zeros(shape))
        layer.forward(np.zeros((1, 1, 4, 4)))
        with pytest.raises(ValueError, match=r"expected dout of shape \(1, 1, 2, 2\), got \(1, 1, 4, 4\)"):
            layer.backward(np.zeros((1, 1, 4, 4)))
