"""The statistics of a pass: the device path (run here on CPU tensors) gives the scratch twin's numbers,
and a packed vector of the wrong layout is refused."""

import numpy as np
import pytest

from nnlab.vanishing.config import MLPConfig
from nnlab.vanishing.networks import shift_hidden_biases_, twin_mlps
from nnlab.vanishing.stats import gradient_stats, numpy_stats_packed, torch_stats_host, unpack_stats
from parity_tests.vanishing.network import CLASSES, IN, SEED


@pytest.mark.parametrize("activation, batchnorm, shift", [("sigmoid", True, None), ("relu", False, -5.0)])
def test_device_statistics_equal_numpy_statistics(activation, batchnorm, shift, batch):
    """``torch_stats_packed`` (the CUDA path, run here on CPU tensors) gives the scratch twin's
    numbers: norms, missing biases, dead fractions, and identical histogram bins
    (including all-zero gradients, whose histogram is a single centred bin)."""
    cfg = MLPConfig(activation, "he", batchnorm, 5, 32)
    s, t = twin_mlps(cfg, IN, CLASSES, np.float64, seed=SEED)
    if shift is not None:
        shift_hidden_biases_(s, shift)
        shift_hidden_biases_(t, shift)
    x, y = batch
    _, s_taps = gradient_stats(s, x, y)
    _, t_taps = gradient_stats(t, x, y)
    a = unpack_stats(numpy_stats_packed(s_taps), cfg.depth)
    b = unpack_stats(torch_stats_host(t_taps, on_device=True), cfg.depth)
    np.testing.assert_allclose(a.weight_grad_norm, b.weight_grad_norm, rtol=1e-12)
    np.testing.assert_allclose(a.bias_grad_norm, b.bias_grad_norm, rtol=1e-12)  # NaN where BN removed the bias
    np.testing.assert_array_equal(a.dead_fraction, b.dead_fraction)
    np.testing.assert_array_equal(a.zero_grad_fraction, b.zero_grad_fraction)
    assert a.histograms.keys() == b.histograms.keys() and len(a.histograms) == cfg.depth + 2 * (cfg.depth - 1)
    for tag in a.histograms:
        ha, hb = a.histograms[tag], b.histograms[tag]
        np.testing.assert_array_equal(ha.bucket_counts, hb.bucket_counts, err_msg=tag)
        assert hb.bucket_counts.sum() == hb.num
        np.testing.assert_allclose([ha.min, ha.max, ha.sum_squares], [hb.min, hb.max, hb.sum_squares], rtol=1e-12, atol=1e-300)


def test_unpack_rejects_a_wrong_layout():
    with pytest.raises(ValueError, match="layout expects"):
        unpack_stats(np.zeros(7), depth=4)
