"""The perceptron in both twins: it learns AND, OR, NAND and never separates XOR."""

import itertools

import numpy as np
import pytest
import torch

import scratch.perceptron as sperc
import torch_ref.perceptron as tperc
from nnlab.common.synthetic_data import truth_table


@pytest.mark.parametrize(
    "gate, epochs, w, b",
    [("and", 6, [2.0, 1.0], -2.0), ("or", 4, [1.0, 1.0], 0.0), ("nand", 6, [-2.0, -1.0], 3.0)],
)
def test_perceptron_learns_separable_gates(gate, epochs, w, b):
    X, y = truth_table(gate)
    p = sperc.Perceptron(2)
    history = p.fit(X, y, max_epochs=100)
    # the last epoch is the one without a mistake; Novikoff's bound (R/γ)² is far above these counts
    assert len(history) == epochs and history[-2:] == [1.0, 1.0]
    np.testing.assert_array_equal(p.predict(X), y)
    np.testing.assert_array_equal(p.w, w)
    assert float(p.b) == b
    q = tperc.Perceptron(2)
    assert q.fit(torch.from_numpy(X), torch.from_numpy(y), max_epochs=100) == history
    np.testing.assert_array_equal(q.w.numpy(), p.w)
    assert float(q.b) == float(p.b)


def test_perceptron_never_separates_xor():
    X, y = truth_table("xor")
    history = sperc.Perceptron(2).fit(X, y, max_epochs=100)
    assert len(history) == 100  # never an epoch without a mistake
    assert max(history) <= 0.75 and 1.0 not in history
    assert tperc.Perceptron(2).fit(torch.from_numpy(X), torch.from_numpy(y), max_epochs=100) == history
    # no threshold unit at all does better than 3 of 4: a grid over (w₁, w₂, b) for illustration
    grid = np.linspace(-3, 3, 25)
    best = max(
        np.mean(((X @ np.array([w1, w2]) + b) > 0) == y) for w1, w2, b in itertools.product(grid, grid, grid)
    )
    assert best == 0.75


def test_perceptron_bad_input():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2\), got \(4, 3\)"):
        sperc.Perceptron(2).predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="values 0 or 1"):
        sperc.Perceptron(2).fit(np.zeros((2, 2)), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="learning rate must be positive"):
        sperc.Perceptron(2, lr=0.0)

