"""XOR with three sigmoid units in both twins: the hand-set weights, then the same net learned."""

import numpy as np

import scratch.xor as sxor
import torch_ref.xor as txor
from parity_tests.harness import compare
from parity_tests.scripts import load_script
from torch_ref.module import load_scratch_state


def test_hand_set_weights_compute_xor():
    assert sxor.HAND_SET_WEIGHTS == txor.HAND_SET_WEIGHTS
    out = sxor.xor_outputs(sxor.hand_set_xor_network())
    # rows (0,0), (0,1), (1,0), (1,1)
    assert out[0] < 0.05 and out[3] < 0.05 and out[1] > 0.95 and out[2] > 0.95
    np.testing.assert_allclose(out, [0.011184, 0.994936, 0.994936, 0.024389], atol=5e-6)
    compare("hand-set XOR", "outputs", out, txor.xor_outputs(txor.hand_set_xor_network()), rtol=1e-14, atol=1e-15)
    assert sxor.xor_accuracy(sxor.hand_set_xor_network()) == 1.0


def test_backprop_learns_xor_in_both_twins():
    s = sxor.xor_network(rng=0)
    t = txor.xor_network()
    load_scratch_state(t, s)
    s_losses = sxor.train_xor(s)
    t_losses = txor.train_xor(t)
    assert sxor.xor_accuracy(s) == txor.xor_accuracy(t) == 1.0
    assert s_losses[0] > 0.69 and s_losses[-1] < 0.01  # BCE from ≈ log 2 to < 0.01 in 300 steps
    compare("XOR training", "loss per step", np.array(s_losses), np.array(t_losses), rtol=1e-9, atol=1e-12)
    compare("XOR training", "final outputs", sxor.xor_outputs(s), txor.xor_outputs(t), rtol=1e-9, atol=1e-12)
    out = sxor.xor_outputs(s)
    assert out[0] < 0.05 and out[3] < 0.05 and out[1] > 0.95 and out[2] > 0.95


def test_xor_script_prints_both_twins(capsys):
    script = load_script("xor")
    assert script.main([]) == 0
    out = capsys.readouterr().out
    assert out.count("(0,0) 0.0112  (0,1) 0.9949  (1,0) 0.9949  (1,1) 0.0244") == 2
    assert out.count("accuracy 100%") == 2
