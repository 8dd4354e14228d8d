"""Initializations in both twins: torch's gains, fans, and the scale of every scheme."""

import math

import numpy as np
import pytest
import torch

import scratch.init as si
import scratch.layers as sl
import torch_ref.init as ti


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None),
])
def test_calculate_gain_is_torchs(nonlinearity, param):
    assert si.calculate_gain(nonlinearity, param) == ti.calculate_gain(nonlinearity, param)


def test_fans_and_init_scales_match_torch():
    for shape in [(7, 3), (4, 3, 5, 5), (6, 2, 3)]:
        assert si.fan_in_and_fan_out(shape) == ti.fan_in_and_fan_out(shape)
    fan_in, fan_out = 400, 300
    gen = torch.Generator().manual_seed(0)
    cases = {  # scheme → (expected std, uniform bound or None)
        ("default", "relu"): (1 / math.sqrt(3 * fan_in), 1 / math.sqrt(fan_in)),
        ("xavier", "tanh"): (5 / 3 * math.sqrt(2 / (fan_in + fan_out)), 5 / 3 * math.sqrt(6 / (fan_in + fan_out))),
        ("xavier_normal", "sigmoid"): (math.sqrt(2 / (fan_in + fan_out)), None),
        ("he", "relu"): (math.sqrt(2 / fan_in), math.sqrt(6 / fan_in)),
        ("he_normal", "leaky_relu"): (math.sqrt(2 / (1 + 0.01**2) / fan_in), None),
    }
    for (scheme, nonlinearity), (std, bound) in cases.items():
        s = si.init_linear_(sl.Linear(fan_in, fan_out, dtype=np.float64, rng=0), scheme, nonlinearity, rng=1)
        t = ti.init_linear_(torch.nn.Linear(fan_in, fan_out).double(), scheme, nonlinearity, generator=gen)
        for side, w in (("scratch", s.weight.data), ("torch", t.weight.detach().numpy())):
            assert abs(w.std() / std - 1) < 0.01, (scheme, side, w.std(), std)
            if bound is not None:
                assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound, (scheme, side)
        if scheme != "default":
            assert not s.bias.data.any() and not t.bias.detach().any()
