"""Gradient clipping: scratch vs torch.nn.utils, total norm returned, gradients clipped in place, errors."""

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import scratch.clip_grad as sc
import torch_ref.clip_grad as tc
from parity_tests.harness import DTYPES, compare
from scratch.module import Parameter

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
NORM_TYPES = [2.0, 1.0, float("inf"), 3.0]


def _pairs(grads):
    """Scratch and torch parameters holding copies of ``grads`` (None: a parameter without a gradient)."""
    sp, tp = [], []
    for g in grads:
        shape = (2,) if g is None else g.shape
        p, q = Parameter(np.zeros(shape)), torch.nn.Parameter(torch.zeros(shape, dtype=torch.float64))
        if g is not None:
            p.data, q.data = p.data.astype(g.dtype), q.data.to(torch.from_numpy(g).dtype)
            p.grad, q.grad = g.copy(), torch.from_numpy(g.copy())
        sp.append(p), tp.append(q)
    return sp, tp


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", NORM_TYPES)
@given(shapes=st.lists(st.lists(st.integers(1, 5), min_size=0, max_size=3), min_size=1, max_size=4),
       scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_clip_grad_norm_matches_torch(norm_type, dtype, shapes, scale):
    """Total norm returned and every gradient after clipping, to 1e-12 in float64; max_norm below the
    norm (clipped), above it (left alone); one parameter without a gradient (skipped)."""
    rng = np.random.default_rng(len(shapes) * 100 + sum(map(len, shapes)))
    grads = [np.asarray(rng.standard_normal(s) * scale, dtype=dtype) for s in shapes] + [None]
    norm = float(tc.get_total_norm([torch.from_numpy(g) for g in grads if g is not None], norm_type))
    for max_norm in (0.5 * norm, 2.0 * norm):
        sp, tp = _pairs(grads)
        before = [p.grad for p in sp]
        ours = sc.clip_grad_norm_(iter(sp), max_norm, norm_type)  # a generator, as model.parameters()
        theirs = tc.clip_grad_norm_(iter(tp), max_norm, norm_type)
        concept = f"clip_grad_norm_(max_norm={max_norm:.3g}, norm_type={norm_type})"
        assert isinstance(ours, np.ndarray) and ours.shape == () and ours.dtype == dtype
        compare(concept, "total norm", ours, theirs, **TOL[dtype])
        for i, (p, q) in enumerate(zip(sp, tp)):
            if p.grad is None:
                assert q.grad is None
                continue
            assert p.grad is before[i], "gradients are clipped in place"
            compare(concept, f"grad {i}", p.grad, q.grad, **TOL[dtype])
            if max_norm > norm:
                np.testing.assert_array_equal(p.grad, grads[i])  # within the limit: multiplied by exactly 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_grad_value_matches_torch(dtype):
    rng = np.random.default_rng(1)
    grads = [(rng.standard_normal((4, 3)) * 2).astype(dtype), (rng.standard_normal(3) * 0.1).astype(dtype), None]
    sp, tp = _pairs(grads)
    assert sc.clip_grad_value_(sp, 0.5) is None and tc.clip_grad_value_(tp, 0.5) is None
    for i, (p, q) in enumerate(zip(sp[:2], tp[:2])):
        compare("clip_grad_value_(0.5)", f"grad {i}", p.grad, q.grad, rtol=0, atol=0)
        assert np.abs(p.grad).max() <= 0.5
    np.testing.assert_array_equal(sp[1].grad, grads[1])  # already within ±0.5: untouched


def test_same_arguments_and_defaults_as_torch():
    for name in sc.__all__:
        ours, theirs = inspect.signature(getattr(sc, name)).parameters, inspect.signature(getattr(tc, name)).parameters
        assert list(ours) == list(theirs), name
        assert [p.default for p in ours.values()] == [p.default for p in theirs.values()], name


def test_clipping_by_norm_keeps_the_direction_and_caps_the_length():
    rng = np.random.default_rng(2)
    sp, _ = _pairs([rng.standard_normal((5, 4)), rng.standard_normal(4)])
    flat = lambda: np.concatenate([p.grad.ravel() for p in sp])
    g0 = flat()
    norm = sc.clip_grad_norm_(sp, max_norm=1.0)
    np.testing.assert_allclose(float(norm), np.linalg.norm(g0), rtol=1e-14)
    g1 = flat()
    np.testing.assert_allclose(np.linalg.norm(g1), 1.0 * norm / (norm + 1e-6), rtol=1e-14)  # max_norm·‖g‖/(‖g‖ + 1e-6)
    np.testing.assert_allclose(g1 / np.linalg.norm(g1), g0 / np.linalg.norm(g0), rtol=1e-13)
    # by value, the direction changes
    sp, _ = _pairs([np.array([3.0, 0.1])])
    sc.clip_grad_value_(sp, 1.0)
    np.testing.assert_array_equal(sp[0].grad, [1.0, 0.1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_finite_norm_like_torch(dtype):
    grads = [np.array([1.0, np.inf], dtype), np.array([2.0, np.nan], dtype)]
    sp, tp = _pairs(grads)
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite") as torch_error:
        tc.clip_grad_norm_(tp, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as ours:
        sc.clip_grad_norm_(sp, 1.0, error_if_nonfinite=True)
    assert str(ours.value) == str(torch_error.value)
    np.testing.assert_array_equal(sp[0].grad, grads[0])  # raised before touching anything
    # without the error: scaled by the non-finite norm anyway (here NaN), as in torch
    sp, tp = _pairs(grads)
    compare("non-finite", "total norm", sc.clip_grad_norm_(sp, 1.0), tc.clip_grad_norm_(tp, 1.0), rtol=0, atol=0)
    for p, q in zip(sp, tp):
        np.testing.assert_array_equal(p.grad, q.grad.numpy())  # NaN where torch has NaN


def test_bad_input():
    # torch accepts a negative max_norm and flips every gradient; here it is refused
    _, tp = _pairs([np.array([3.0, 4.0])])
    tc.clip_grad_norm_(tp, -1.0)
    assert (tp[0].grad.numpy() < 0).all()
    sp, _ = _pairs([np.array([3.0, 4.0])])
    with pytest.raises(ValueError, match=r"clip_grad_norm_: max_norm must be ≥ 0, got -1.0"):
        sc.clip_grad_norm_(sp, -1.0)
    with pytest.raises(ValueError, match=r"max_norm must be ≥ 0, got nan"):
        sc.clip_grad_norm_(sp, float("nan"))
    with pytest.raises(ValueError, match=r"clip_grad_value_: clip_value must be ≥ 0, got -0.5"):
        sc.clip_grad_value_(sp, -0.5)
    np.testing.assert_array_equal(sp[0].grad, [3.0, 4.0])
    with pytest.raises(TypeError, match="expected scratch Parameters .*, got Parameter"):
        sc.clip_grad_norm_(tp, 1.0)  # torch's parameters
    with pytest.raises(TypeError, match="got ndarray"):
        sc.clip_grad_value_([np.zeros(3)], 1.0)
    # nothing to clip: a zero norm, and a warning for an empty generator, as torch
    for clip, param in [(sc, Parameter(np.zeros(2))), (tc, torch.nn.Parameter(torch.zeros(2)))]:
        assert float(clip.clip_grad_norm_([param], 1.0)) == 0.0  # no gradient yet
        with pytest.warns(UserWarning, match="`parameters` is an empty generator, no gradient clipping will occur"):
            clip.clip_grad_norm_((p for p in []), 1.0)
    assert sc.get_total_norm([]).dtype == tc.get_total_norm([]).numpy().dtype == np.float32
