"""Mini-batches in both twins: the mean loss and its gradient, identical batches, the iterator's contract."""

import numpy as np
import pytest
import torch

import scratch.losses as sloss
import scratch.minibatch as smb
import scratch.mlp as smlp
import scratch.optim as so
import torch_ref.minibatch as tmb
import torch_ref.mlp as tmlp
from nnlab.common.batches import iterate_minibatches, minibatch_indices
from nnlab.common.synthetic_data import blobs
from parity_tests.harness import compare
from scratch.module import Module
from torch_ref.module import load_scratch_state


def test_mean_batch_loss_is_mean_of_per_sample_losses_and_so_is_its_gradient():
    rng = np.random.default_rng(0)
    model = smlp.mlp([4, 6, 3], "tanh", dtype=np.float64, rng=1)
    X, y = rng.standard_normal((10, 4)), rng.integers(0, 3, 10)
    mean_loss = sloss.CrossEntropyLoss()
    batch = float(mean_loss.forward(model.forward(X), y))
    per_sample = sloss.CrossEntropyLoss(reduction="none").forward(model.forward(X), y)
    assert per_sample.shape == (10,)
    np.testing.assert_allclose(batch, per_sample.mean(), rtol=1e-15)
    t_model = tmlp.mlp([4, 6, 3], "tanh", dtype=torch.float64)
    load_scratch_state(t_model, model)
    t_per = torch.nn.functional.cross_entropy(t_model(torch.from_numpy(X)), torch.from_numpy(y), reduction="none")
    compare("per-sample CE", "losses", per_sample, t_per, rtol=1e-13, atol=1e-15)
    # ∇ of the mean = mean of the per-sample ∇s (each sample alone, batch of one)
    model.forward(X)
    model.backward(mean_loss.backward())
    batch_grads = {n: p.grad.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    for n in range(10):
        one = sloss.CrossEntropyLoss()
        one.forward(model.forward(X[n : n + 1]), y[n : n + 1])
        model.backward(one.backward(1.0 / 10))  # grads accumulate: Σₙ (1/N) ∇ℓₙ
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, batch_grads[name], rtol=1e-12, atol=1e-15)


class _RecordingScratch(Module):
    def __init__(self, inner, seen):
        super().__init__()
        self.inner, self.seen = inner, seen

    def forward(self, x):
        self.seen.append(x.copy())
        return self.inner.forward(x)

    def backward(self, dout):
        return self.inner.backward(dout)


class _RecordingTorch(torch.nn.Module):
    def __init__(self, inner, seen):
        super().__init__()
        self.inner, self.seen = inner, seen

    def forward(self, x):
        self.seen.append(x.detach().numpy().copy())
        return self.inner(x)


def test_both_twins_train_on_identical_batches():
    X, y = blobs(n_per_class=10, n_classes=3, n_features=4, seed=2)  # 30 samples, batches 8, 8, 8, 6
    X = X + np.arange(30)[:, None] * 1e-3  # distinct rows
    s_seen, t_seen = [], []
    s = _RecordingScratch(smlp.mlp([4, 5, 3], "relu", dtype=np.float64, rng=0), s_seen)
    t_inner = tmlp.mlp([4, 5, 3], "relu", dtype=torch.float64)
    load_scratch_state(t_inner, s.inner)
    t = _RecordingTorch(t_inner, t_seen)
    s_losses = smb.minibatch_sgd(s, sloss.CrossEntropyLoss(), so.SGD(s.parameters(), lr=0.1), X, y, batch_size=8, epochs=3, seed=7)
    t_losses = tmb.minibatch_sgd(t, torch.nn.CrossEntropyLoss(), torch.optim.SGD(t.parameters(), lr=0.1), X, y, batch_size=8, epochs=3, seed=7)
    assert len(s_seen) == len(t_seen) == 12 and [len(b) for b in s_seen[:4]] == [8, 8, 8, 6]
    for a, b in zip(s_seen, t_seen):
        np.testing.assert_array_equal(a, b)
    compare("mini-batch SGD", "loss per step", np.array(s_losses), np.array(t_losses), rtol=1e-12, atol=1e-14)
    # every epoch visits every sample once, in its own order
    for epoch in range(3):
        rows = np.concatenate(s_seen[4 * epoch : 4 * epoch + 4])
        assert sorted(map(tuple, rows)) == sorted(map(tuple, X))
    assert not np.array_equal(s_seen[0], s_seen[4])


def test_batch_iterator_contract():
    a = minibatch_indices(10, 4, seed=1, epoch=2)
    assert [len(b) for b in a] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(minibatch_indices(10, 4, seed=1, epoch=2)))
    assert [len(b) for b in minibatch_indices(10, 4, drop_last=True)] == [4, 4]
    np.testing.assert_array_equal(np.concatenate(minibatch_indices(5, 2, shuffle=False)), np.arange(5))
    # epoch k's batches do not depend on where the run started (resuming sees the same batches)
    late = [b for e, (b,) in iterate_minibatches([np.arange(10)], 4, epochs=1, seed=1, start_epoch=2)]
    assert all(np.array_equal(x, y) for x, y in zip(late, a))
    with pytest.raises(ValueError, match="batch_size must be ≥ 1, got 0"):
        minibatch_indices(10, 0)
    with pytest.raises(ValueError, match=r"equal first dimensions, got \[3, 4\]"):
        next(iterate_minibatches([np.zeros(3), np.zeros(4)], 2))

