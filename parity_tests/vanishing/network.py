"""The network and batch of the vanishing-gradient tests, and both twins' statistics of one pass.

Network of the ratio tests: depth 10 (nine hidden ``Linear(·,128) → [BN] → f``
blocks and a ``Linear(128, 4)`` head), batch 256, float64, seeded. Layers are
counted from 1 as in the TensorBoard tags; layers 2…9 are the width×width ones.
"""

import numpy as np

from nnlab.vanishing.networks import shift_hidden_biases_, twin_mlps
from nnlab.vanishing.stats import gradient_stats
from parity_tests.harness import compare

DEPTH, WIDTH, BATCH, IN, CLASSES = 10, 128, 256, 32, 4
SEED = 0


def make_batch():
    rng = np.random.default_rng(SEED)
    return rng.standard_normal((BATCH, IN)), rng.integers(0, CLASSES, BATCH)


def twin_stats(config, batch, shift=None):
    """Both twins from identical weights, one forward/backward each: (scratch, torch) stats and taps."""
    s, t = twin_mlps(config, IN, CLASSES, np.float64, seed=SEED)
    if shift is not None:
        shift_hidden_biases_(s, shift)
        shift_hidden_biases_(t, shift)
    x, y = batch
    (s_stats, s_taps), (t_stats, t_taps) = gradient_stats(s, x, y), gradient_stats(t, x, y)
    compare(config.name, "per-layer weight-gradient norms", s_stats.weight_grad_norm, t_stats.weight_grad_norm,
            rtol=1e-10, atol=0)
    compare(config.name, "dead fractions", s_stats.dead_fraction, t_stats.dead_fraction, rtol=0, atol=0)
    return s, (s_stats, s_taps), (t_stats, t_taps)
