"""The softmax classifier in both twins: spiral and blobs, and why accuracy cannot be the loss."""

import numpy as np
import pytest

import scratch.losses as sloss
import scratch.softmax_classifier as ssc
import torch_ref.softmax_classifier as tsc
from nnlab.common.synthetic_data import blobs, spiral
from scratch.numerical import numerical_gradient, sample_indices
from torch_ref.module import load_scratch_state


def test_softmax_classifier_on_spiral_reports_accuracy():
    X, y = spiral(n_per_class=100, n_classes=3, seed=0)
    s = ssc.softmax_classifier(2, 3, hidden=(32,), rng=0)
    t = tsc.softmax_classifier(2, 3, hidden=(32,))
    load_scratch_state(t, s)
    s_acc = ssc.train_softmax_classifier(s, X, y)
    t_acc = tsc.train_softmax_classifier(t, X, y)
    assert s_acc == t_acc  # the same predictions after every epoch
    assert s_acc[0] < 0.7 and s_acc[-1] >= 0.93, s_acc
    # a linear softmax cannot separate the arms
    lin = ssc.softmax_classifier(2, 3, rng=0)
    assert max(ssc.train_softmax_classifier(lin, X, y, epochs=10)) < 0.6
    # but separates Gaussian blobs
    Xb, yb = blobs(n_per_class=50, n_classes=3, seed=0)
    assert ssc.train_softmax_classifier(ssc.softmax_classifier(2, 3, rng=0), Xb, yb, epochs=10)[-1] > 0.9


def test_accuracy_has_zero_gradient_almost_everywhere_the_loss_does_not():
    X, y = spiral(n_per_class=20, n_classes=3, seed=1)
    model = ssc.softmax_classifier(2, 3, hidden=(8,), activation="tanh", rng=3)  # no dead ReLU: no exact-zero loss derivative
    ssc.train_softmax_classifier(model, X, y, epochs=3)  # a point part way through training
    loss_fn = sloss.CrossEntropyLoss()
    rng = np.random.default_rng(0)

    def acc():
        return ssc.accuracy(model.forward(X), y)

    def loss():
        return float(loss_fn.forward(model.forward(X), y))

    model.zero_grad()
    loss()
    model.backward(loss_fn.backward())
    for name, p in model.named_parameters():
        idx = sample_indices(p.shape, 8, rng)
        sel = tuple(np.array(i) for i in zip(*idx))
        d_acc = numerical_gradient(acc, p.data, indices=idx)
        d_loss = numerical_gradient(loss, p.data, indices=idx)
        assert not d_acc.any(), f"{name}: accuracy moved under a 1e-6 nudge"
        assert np.abs(d_loss[sel]).min() > 0, f"{name}: some loss derivative is exactly 0"
        np.testing.assert_allclose(p.grad[sel], d_loss[sel], rtol=1e-5, atol=1e-9)
    # accuracy is piecewise constant, not constant: a large step does change it
    before = acc()
    assert 0.4 < before < 1.0
    model[-1].bias.data[0] += 10.0  # class 0 wins everywhere: accuracy drops to 1/3
    assert acc() == pytest.approx(1 / 3) != before


def test_accuracy_bad_input():
    with pytest.raises(ValueError, match=r"expected logits \(N, C\) and labels \(N,\)"):
        ssc.accuracy(np.zeros((4, 3)), np.zeros(5, dtype=np.int64))

