"""Softmax and losses: scratch vs torch in every dtype, regime and reduction, plus the seed claims.

Regimes, per loss: ordinary: randn logits/values. extreme: ±1e2…1e4 logits or values; for the
losses on probabilities, σ or softmax of such logits, i.e. exact 0s and 1s. kinks: where a
formula branches: tied logits {0, ±1} (the max of log-softmax, the |z| of the stable
BCE-with-logits), probabilities exactly 0, ½ and 1 (BCE's −100 clamp), zero residuals (MSE, SSE).
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import scratch.losses as sl
import torch_ref.losses as tl
from parity_tests.harness import DTYPES, REGIMES, assert_parity, compare, regime_array
from scratch.activations import sigmoid

REDUCTIONS = ("mean", "sum", "none")


def _probabilities(logits, dtype):
    return sl.softmax(np.asarray(logits, np.float64)).astype(dtype)


def _unit_targets(shape, rng, dtype):
    """Targets in [0, 1]: half exactly 0 or 1, half uniform."""
    hard = rng.integers(0, 2, size=shape).astype(np.float64)
    return np.where(rng.random(shape) < 0.5, hard, rng.random(shape)).astype(dtype)


def ce_index(regime, n, c, rng, dtype):
    return regime_array(regime, (n, c), rng, dtype), rng.integers(0, c, size=n)


def ce_probs(regime, n, c, rng, dtype):
    return regime_array(regime, (n, c), rng, dtype), _probabilities(rng.standard_normal((n, c)), dtype)


def bce_probs(regime, n, c, rng, dtype):
    """ordinary σ(randn); extreme σ(±1e2…1e4), i.e. 0 or 1 up to e⁻¹⁰⁰; kinks exactly 0, ½, 1."""
    if regime == "kinks":
        q = rng.choice([0.0, 0.5, 1.0], size=(n, c))
    else:
        q = sigmoid(regime_array(regime, (n, c), rng, np.float64))
    return q.astype(dtype), _unit_targets((n, c), rng, dtype)


def bce_logits(regime, n, c, rng, dtype):
    return regime_array(regime, (n, c), rng, dtype), _unit_targets((n, c), rng, dtype)


def regression(regime, n, c, rng, dtype):
    """kinks: the target equals the input at about half the elements (zero residual)."""
    y = regime_array(regime, (n, c), rng, dtype)
    t = regime_array(regime, (n, c), rng, dtype)
    if regime == "kinks":
        t = np.where(rng.random((n, c)) < 0.5, y, t)
    return y, t


def cee_onehot(regime, n, c, rng, dtype):
    y = _probabilities(regime_array(regime, (n, c), rng, np.float64), dtype)
    return y, np.eye(c, dtype=dtype)[rng.integers(0, c, size=n)]


def cee_index(regime, n, c, rng, dtype):
    y = _probabilities(regime_array(regime, (n, c), rng, np.float64), dtype)
    return y, rng.integers(0, c, size=n)


def fd_options(regime):
    """Central differences on 8 sampled elements per call (examples and reductions sample others).

    With extreme inputs one loss evaluation sums terms up to 1e8; its round-off (≈1e-16·Σ|terms|)
    over the step 2h limits central differences to ~1e-6 of the largest gradient.
    """
    loose = dict(fd_rtol=1e-4, fd_atol=1e-6) if regime == "extreme" else {}
    return dict(fd_max_elements=8, **loose)


def _probability_fd(regime, c):
    """Central differences step outside [0, 1] when an input sits at 0 or 1."""
    return regime == "ordinary"


# name → (scratch class, torch class, inputs, whether the central-difference check applies)
LOSSES = {
    "CrossEntropyLoss[index]": (sl.CrossEntropyLoss, tl.CrossEntropyLoss, ce_index, None),
    "CrossEntropyLoss[probs]": (sl.CrossEntropyLoss, tl.CrossEntropyLoss, ce_probs, None),
    "BCELoss": (sl.BCELoss, tl.BCELoss, bce_probs, _probability_fd),
    "BCEWithLogitsLoss": (sl.BCEWithLogitsLoss, tl.BCEWithLogitsLoss, bce_logits, None),
    "MSELoss": (sl.MSELoss, tl.MSELoss, regression, None),
    "SumSquaredError": (sl.SumSquaredError, tl.SumSquaredError, regression, None),
    # y ≡ 1 when C = 1, and the extreme regime has exact zeros: both on the boundary of [0, 1]
    "CrossEntropyError[onehot]": (
        sl.CrossEntropyError, tl.CrossEntropyError, cee_onehot, lambda r, c: r != "extreme" and c > 1
    ),
    "CrossEntropyError[index]": (
        sl.CrossEntropyError, tl.CrossEntropyError, cee_index, lambda r, c: r != "extreme" and c > 1
    ),
}

SHAPES = dict(batch=st.integers(1, 64), classes=st.integers(1, 32))


@pytest.mark.parametrize("name", list(LOSSES))
@given(**SHAPES)
def test_loss_parity(name, batch, classes):
    """One drawn shape; every dtype, regime and reduction."""
    scratch_cls, torch_cls, make, fd_rule = LOSSES[name]
    rng = np.random.default_rng(batch * 100 + classes)
    for dtype in DTYPES:
        for regime in REGIMES:
            x, target = make(regime, batch, classes, rng, dtype)
            check_fd = None if fd_rule is None or dtype != np.float64 else fd_rule(regime, classes)
            for reduction in REDUCTIONS:
                assert_parity(
                    f"{name} {np.dtype(dtype).name} {regime} reduction={reduction}",
                    scratch_cls(reduction=reduction),
                    torch_cls(reduction=reduction),
                    [x],
                    targets=[target],
                    check_fd=check_fd,
                    **fd_options(regime),
                )


@pytest.mark.parametrize("dtype", DTYPES)
@given(**SHAPES)
def test_bce_with_logits_pos_weight_parity(dtype, batch, classes):
    rng = np.random.default_rng(batch * 100 + classes)
    z, p = bce_logits("ordinary", batch, classes, rng, dtype)
    pos_weight = rng.uniform(0.2, 5.0, size=classes).astype(dtype)
    for reduction in REDUCTIONS:
        assert_parity(
            f"BCEWithLogitsLoss(pos_weight) reduction={reduction}",
            sl.BCEWithLogitsLoss(reduction=reduction, pos_weight=pos_weight),
            tl.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.from_numpy(pos_weight)),
            [z],
            targets=[p],
            fd_max_elements=8,
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_soft_targets_need_not_sum_to_one(dtype):
    """torch takes any non-negative target weights: ∂ℓₙ/∂xₙ = softmax(xₙ)·Σ_c T_nc − Tₙ, not softmax − T."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((7, 5)).astype(dtype)
    weights = (2 * rng.random((7, 5))).astype(dtype)
    for reduction in REDUCTIONS:
        assert_parity(
            f"CrossEntropyLoss[unnormalised] reduction={reduction}",
            sl.CrossEntropyLoss(reduction=reduction),
            tl.CrossEntropyLoss(reduction=reduction),
            [x],
            targets=[weights],
        )


@pytest.mark.parametrize("module", ["Softmax", "LogSoftmax"])
@given(**SHAPES)
def test_softmax_modules_parity(module, batch, classes):
    rng = np.random.default_rng(batch * 100 + classes)
    for dtype in DTYPES:
        for regime in REGIMES:
            x = regime_array(regime, (batch, classes), rng, dtype)
            for dim in (-1, 0):
                assert_parity(
                    f"{module}(dim={dim}) {np.dtype(dtype).name} {regime}",
                    getattr(sl, module)(dim),
                    getattr(tl, module)(dim),
                    [x],
                    **fd_options(regime),
                )


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_finite_for_logits_of_1e4(dtype):
    """softmax(x − max x) = softmax(x); without the shift e^{1e4} overflows to inf and inf/inf = NaN."""
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert np.isnan(naive[0]).any()
    p, logp = sl.softmax(x), sl.log_softmax(x)
    assert p.dtype == dtype and logp.dtype == dtype
    np.testing.assert_array_equal(p[0], [1, 0, 0])
    np.testing.assert_allclose(p[1], 1 / 3, rtol=1e-6)
    np.testing.assert_array_equal(logp[0], [0, -2e4, -1e4])
    tx = torch.from_numpy(x)
    compare("softmax ±1e4", "softmax", p, tl.softmax(tx, axis=1), rtol=1e-6, atol=1e-7)
    compare("log_softmax ±1e4", "log_softmax", logp, tl.log_softmax(tx, axis=1), rtol=1e-6, atol=1e-7)
    expected = (2e4 + math.log(3) + 2e4 + math.log(2)) / 3
    assert sl.cross_entropy(x, np.array([1, 0, 2])) == pytest.approx(expected, rel=1e-6)
    z = np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype)
    t = np.array([0.0, 1.0, 1.0, 0.0], dtype=dtype)
    np.testing.assert_array_equal(sl.binary_cross_entropy_with_logits(z, t, reduction="none"), [1e4, 1e4, 0, 0])


def test_book_examples_sum_squared_and_cross_entropy_error():
    """The published numbers of "Deep Learning from Scratch" §4.2 (the "2" is the right class)."""
    t = np.array([[0, 0, 1, 0, 0, 0, 0, 0, 0, 0]], dtype=np.float64)
    good = np.array([[0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]])
    bad = np.array([[0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]])
    for mod in (sl, tl):
        wrap = (lambda a: a) if mod is sl else torch.from_numpy
        assert float(mod.sum_squared_error(wrap(good), wrap(t))) == pytest.approx(0.0975, rel=1e-12)
        assert float(mod.sum_squared_error(wrap(bad), wrap(t))) == pytest.approx(0.5975, rel=1e-12)
        assert float(mod.cross_entropy_error(wrap(good), wrap(t))) == pytest.approx(0.510825457099338, rel=1e-12)
        assert float(mod.cross_entropy_error(wrap(bad), wrap(t))) == pytest.approx(2.302584092994546, rel=1e-12)
    assert float(sl.cross_entropy_error(good, np.array([2]))) == pytest.approx(0.510825457099338, rel=1e-12)


def test_bce_is_negative_log_bernoulli_likelihood():
    """−log Π q^p (1−q)^{1−p} = Σ BCE; for thousands of samples the product underflows, the log-sum does not."""
    rng = np.random.default_rng(7)
    q = rng.uniform(0.05, 0.95, size=12)
    p = rng.integers(0, 2, size=12).astype(np.float64)
    likelihood = np.prod(q**p * (1 - q) ** (1 - p))
    bce_sum = float(sl.binary_cross_entropy(q, p, reduction="sum"))
    assert -math.log(likelihood) == pytest.approx(bce_sum, rel=1e-12)
    q = rng.uniform(0.2, 0.8, size=3000)
    p = rng.integers(0, 2, size=3000).astype(np.float64)
    assert np.prod(q**p * (1 - q) ** (1 - p)) == 0.0  # below the smallest subnormal, 5e-324
    bce_sum = float(sl.binary_cross_entropy(q, p, reduction="sum"))
    assert math.isfinite(bce_sum) and 1000 < bce_sum < 3000
    assert bce_sum == pytest.approx(-math.fsum(np.where(p == 1, np.log(q), np.log1p(-q))), rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_regression_is_two_class_softmax(dtype):
    """σ(z) = softmax([0, z])₁, and BCE(σ(z), t) = BCE-with-logits(z, t) = CE([0, z], t), gradients too."""
    rng = np.random.default_rng(8)
    z = (3 * rng.standard_normal(40)).astype(dtype)
    t = rng.integers(0, 2, size=40)
    logits = np.stack([np.zeros_like(z), z], axis=1)
    tol = dict(rtol=1e-12, atol=1e-15) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sl.softmax(logits)[:, 1], sigmoid(z), **tol)
    ce = sl.CrossEntropyLoss()
    ce_value = ce.forward(logits, t)
    bce_logits = sl.BCEWithLogitsLoss()
    np.testing.assert_allclose(bce_logits.forward(z, t.astype(dtype)), ce_value, **tol)
    np.testing.assert_allclose(sl.binary_cross_entropy(sigmoid(z), t.astype(dtype)), ce_value, **tol)
    # ∂CE/∂z through the second logit equals the logistic gradient (σ(z) − t)/N
    np.testing.assert_allclose(ce.backward()[:, 1], bce_logits.backward(), **tol)


@pytest.mark.parametrize(
    "loss, make",
    [
        (sl.CrossEntropyLoss, ce_index),
        (sl.CrossEntropyLoss, ce_probs),
        (sl.CrossEntropyError, cee_onehot),
        (sl.MSELoss, regression),
        (sl.BCELoss, bce_probs),
        (sl.BCEWithLogitsLoss, bce_logits),
    ],
)
def test_minibatch_mean_is_mean_of_per_sample_losses(loss, make):
    rng = np.random.default_rng(9)
    x, t = make("ordinary", 16, 5, rng, np.float64)
    batch = float(loss(reduction="mean").forward(x, t))
    singles = [float(loss(reduction="mean").forward(x[i : i + 1], t[i : i + 1])) for i in range(16)]
    assert batch == pytest.approx(np.mean(singles), rel=1e-13)
    assert batch == pytest.approx(float(np.mean(loss(reduction="none").forward(x, t))), rel=1e-13)


def test_default_dout_matches_torch_backward_without_arguments():
    rng = np.random.default_rng(10)
    x, t = ce_index("ordinary", 6, 4, rng, np.float64)
    loss = sl.CrossEntropyLoss()
    loss.forward(x, t)
    tx = torch.tensor(x, requires_grad=True)
    tl.cross_entropy(tx, torch.from_numpy(t)).backward()
    compare("CrossEntropyLoss", "grad with dout=1", loss.backward(), tx.grad, rtol=1e-12, atol=1e-15)


def test_functional_forms_equal_the_classes_and_torch():
    rng = np.random.default_rng(11)
    x, t = ce_index("ordinary", 5, 3, rng, np.float64)
    q, p = bce_probs("ordinary", 5, 3, rng, np.float64)
    tt = torch.from_numpy
    pairs = [
        (sl.cross_entropy(x, t, reduction="sum"), tl.cross_entropy(tt(x), tt(t), reduction="sum")),
        (sl.binary_cross_entropy(q, p), tl.binary_cross_entropy(tt(q), tt(p))),
        (sl.binary_cross_entropy_with_logits(x, p), tl.binary_cross_entropy_with_logits(tt(x), tt(p))),
        (sl.mse_loss(x, q, reduction="none"), tl.mse_loss(tt(x), tt(q), reduction="none")),
    ]
    for i, (ours, theirs) in enumerate(pairs):
        compare("functional", f"pair {i}", ours, theirs, rtol=1e-12, atol=1e-15)
    assert sl.cross_entropy(x, t) == sl.CrossEntropyLoss().forward(x, t)


f64 = np.float64
LOGITS = np.zeros((4, 3), f64)
PROBS = np.full((4, 3), 0.5)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: sl.CrossEntropyLoss().forward(LOGITS, np.zeros(4)), ValueError, r"must have the input's shape \(4, 3\), got \(4,\)"),
        (lambda: sl.CrossEntropyLoss().forward(LOGITS, np.zeros(5, int)), ValueError, r"shape \(N,\) = \(4,\).*got \(5,\)"),
        (lambda: sl.CrossEntropyLoss().forward(LOGITS, np.zeros((5, 3))), ValueError, r"input's shape \(4, 3\), got \(5, 3\)"),
        (lambda: sl.CrossEntropyLoss().forward(LOGITS[0], np.zeros(1, int)), ValueError, r"shape \(N, C\), got \(3,\)"),
        (lambda: sl.CrossEntropyLoss().forward(LOGITS, np.array([0, 1, 3, 2])), ValueError, r"\[0, 3\).*got 3 at position 2"),
        (lambda: sl.CrossEntropyLoss().forward(LOGITS, np.array([0, -1, 2, 2])), ValueError, r"got -1 at position 1"),
        (lambda: sl.CrossEntropyLoss().forward(LOGITS.astype(int), np.zeros(4, int)), TypeError, "got dtype int64"),
        (lambda: sl.CrossEntropyLoss().forward(LOGITS + 0j, np.zeros(4, int)), TypeError, "got dtype complex128"),
        (lambda: sl.CrossEntropyLoss().forward(LOGITS, np.zeros(4, bool)), TypeError, "got dtype bool"),
        (lambda: sl.CrossEntropyLoss().forward(LOGITS, np.full((4, 3), np.nan)), ValueError, "target: expected finite values, got nan"),
        (lambda: sl.CrossEntropyLoss().forward(np.full((4, 3), np.nan), np.zeros(4, int)), ValueError, "input: expected finite"),
        (lambda: sl.CrossEntropyLoss().forward(LOGITS, np.zeros((4, 3), np.float32)), TypeError, "expected dtype float64.*got float32"),
        (lambda: sl.CrossEntropyLoss(reduction="avg"), ValueError, "reduction must be one of"),
        (lambda: sl.BCELoss().forward(PROBS + 0.6, PROBS), ValueError, r"input: expected probabilities in \[0, 1\], got 1.1"),
        (lambda: sl.BCELoss().forward(PROBS - 0.6, PROBS), ValueError, r"input: expected probabilities in \[0, 1\], got -0.1"),
        (lambda: sl.BCELoss().forward(PROBS, PROBS * 3), ValueError, r"target: expected probabilities in \[0, 1\], got 1.5"),
        (lambda: sl.BCELoss().forward(PROBS, PROBS[:, :1]), ValueError, r"target of the input's shape \(4, 3\), got \(4, 1\)"),
        (lambda: sl.BCELoss().forward(PROBS, np.ones((4, 3), int)), TypeError, "float array of dtype float64.*got dtype int64"),
        (lambda: sl.BCEWithLogitsLoss().forward(LOGITS, np.where(PROBS > 0, np.nan, 0)), ValueError, "got nan"),
        (lambda: sl.BCEWithLogitsLoss(pos_weight=np.ones(2)).forward(LOGITS, PROBS), ValueError, r"pos_weight of shape \(2,\)"),
        (lambda: sl.MSELoss().forward(LOGITS, LOGITS[:, 0]), ValueError, r"target of the input's shape \(4, 3\), got \(4,\)"),
        (lambda: sl.MSELoss().forward(LOGITS, LOGITS.astype(np.complex128)), TypeError, "got dtype complex128"),
        (lambda: sl.CrossEntropyError().forward(PROBS * 3, np.zeros(4, int)), ValueError, r"\[0, 1\], got 1.5"),
        (lambda: sl.CrossEntropyError().forward(PROBS, np.full(4, 3)), ValueError, r"\[0, 3\), got 3"),
        (lambda: sl.softmax(np.arange(3) * 1j), TypeError, "softmax input: expected a float32 or float64 array, got dtype complex128"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_input_raises_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_bad_dout_and_backward_before_forward():
    loss = sl.MSELoss()
    with pytest.raises(RuntimeError, match="before forward"):
        loss.backward()
    loss.forward(LOGITS, LOGITS + 1)
    with pytest.raises(ValueError, match=r"dout of shape \(\) \(reduction='mean'\), got \(4, 3\)"):
        loss.backward(np.ones((4, 3)))
    per_sample = sl.CrossEntropyLoss(reduction="none")
    per_sample.forward(LOGITS, np.zeros(4, int))
    with pytest.raises(ValueError, match=r"dout of shape \(4,\)"):
        per_sample.backward(1.0)


def test_book_inputs_typed_verbatim_give_the_books_numbers():
    """Deep Learning from Scratch §3.5 and §4.2, typed as the book types them: integer arrays,
    a 1-D probability vector beside a 1-D one-hot target, and the y[None] form."""
    np.testing.assert_allclose(
        sl.softmax(np.array([1010, 1000, 990])), [9.99954600e-01, 4.53978686e-05, 2.06106005e-09], rtol=1e-8
    )
    assert sl.softmax(np.array([0.3, 2.9, 4.0])).sum() == pytest.approx(1.0, rel=1e-15)
    assert sl.log_softmax(np.array([1, 2, 3])).dtype == np.float64
    t = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    y = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
    y_bad = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]
    for yy, sse, cee in ((y, 0.0975, 0.510825457099338), (y_bad, 0.5975, 2.302584092994546)):
        y1, t1 = np.array(yy), np.array(t)  # float64 y, int64 one-hot t: the book's arrays
        assert float(sl.sum_squared_error(y1, t1)) == pytest.approx(sse, rel=1e-12)
        assert float(sl.cross_entropy_error(y1, t1)) == pytest.approx(cee, rel=1e-12)
        # the batch form, y[None] with an integer one-hot t[None], is not read as class indices
        assert float(sl.cross_entropy_error(y1[None], t1[None])) == pytest.approx(cee, rel=1e-12)
        assert float(tl.cross_entropy_error(torch.tensor(yy, dtype=torch.float64)[None], torch.tensor(t)[None])) == pytest.approx(cee, rel=1e-12)
        assert float(tl.cross_entropy_error(torch.tensor(yy, dtype=torch.float64), torch.tensor(t))) == pytest.approx(cee, rel=1e-12)
    assert float(sl.cross_entropy_error(np.array(y), np.int64(2))) == pytest.approx(0.510825457099338, rel=1e-12)
    # the gradient keeps the shape it was given and equals −t/(y + δ)
    loss = sl.CrossEntropyError()
    loss.forward(np.array(y), np.array(t))
    g = loss.backward()
    assert g.shape == (10,) and g[2] == pytest.approx(-1 / (0.6 + 1e-7), rel=1e-12) and g[0] == 0
    # index targets still mean indices when they have one dimension fewer than y
    assert float(sl.cross_entropy_error(np.array([y, y_bad]), np.array([2, 2]))) == pytest.approx(
        (0.510825457099338 + 2.302584092994546) / 2, rel=1e-12
    )
