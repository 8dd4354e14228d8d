"""The MLP builder in both twins: the same layout, the same state_dict keys, the same forward and gradients."""

import numpy as np
import pytest
import torch

import scratch.mlp as smlp
import torch_ref.mlp as tmlp
from parity_tests.harness import assert_parity


def test_both_builders_know_the_same_activations():
    assert list(smlp.ACTIVATIONS) == list(tmlp.ACTIVATIONS)


@pytest.mark.parametrize("activation, batchnorm", [("tanh", False), ("relu", True), ("gelu", False)])
def test_mlp_parity(activation, batchnorm):
    rng = np.random.default_rng(4)
    s = smlp.mlp([5, 8, 6, 3], activation, batchnorm, dtype=np.float64, rng=rng)
    t = tmlp.mlp([5, 8, 6, 3], activation, batchnorm, dtype=torch.float64)
    assert [type(m).__name__ for m in s] == [type(m).__name__ for m in t]
    assert list(s.state_dict()) == list(t.state_dict())
    assert_parity(f"mlp {activation}{' + BatchNorm' if batchnorm else ''}", s, t, [rng.standard_normal((7, 5))])


def test_mlp_bad_sizes_and_activation():
    for build in (smlp.mlp, tmlp.mlp):
        with pytest.raises(ValueError, match=r"at least \[in, out\] sizes, got \[4\]"):
            build([4])
        with pytest.raises(ValueError, match="unknown activation 'swish'"):
            build([4, 2], "swish")
