"""Validation metrics from logits: the loss equals torch's BCE with logits; accuracy and confusion counts."""

import numpy as np
import torch

from nnlab.dogcat.metrics import binary_metrics


def test_binary_metrics_match_torch_bce():
    rng = np.random.default_rng(3)
    z, y = rng.standard_normal(50) * 30, rng.integers(0, 2, 50)
    m = binary_metrics(z, y)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(z), torch.from_numpy(y * 1.0))
    assert abs(m["loss"] - float(expected)) < 1e-12
    assert m["accuracy"] == np.mean((z > 0) == (y == 1))
    assert m["confusion"].sum() == 50 and m["confusion"][1, 1] == np.sum((z > 0) & (y == 1))
