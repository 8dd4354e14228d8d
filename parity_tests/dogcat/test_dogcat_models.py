"""Dog/cat models: one state_dict for both twins, forward and parameter gradients equal."""

import numpy as np
import pytest
import torch

from nnlab.dogcat.models import (
    ACTIVATIONS, ModelSpec, build_scratch_model, build_torch_model, initial_state_dict,
    max_parameter_difference,
)
from parity_tests.harness import compare

SPECS = [
    ModelSpec("logistic", (3, 100, 100)),
    ModelSpec("mlp", (3, 6, 6), hidden=(9,), activation="relu"),
    ModelSpec("mlp", (3, 6, 6), hidden=(9, 5), activation="tanh", batchnorm=True),
] + [ModelSpec("mlp", (3, 4, 4), hidden=(7,), activation=a) for a in ACTIVATIONS if a not in ("relu", "tanh")]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
def test_forward_and_parameter_gradients_match_torch(spec):
    rng = np.random.default_rng(0)
    s_model = build_scratch_model(spec, "float64", seed=1)
    t_model = build_torch_model(spec, "float64", s_model.state_dict())
    assert list(s_model.state_dict()) == list(t_model.state_dict())
    x = rng.standard_normal((6,) + spec.input_shape) * 0.5
    upstream = rng.standard_normal(6) + 0.5
    z_s = s_model.forward(x)
    z_t = t_model(torch.from_numpy(x))
    compare(spec.describe(), "logits", z_s, z_t, rtol=1e-10, atol=1e-12)
    s_model.backward(upstream)
    z_t.backward(torch.from_numpy(upstream))
    t_params = dict(t_model.named_parameters())
    for name, p in s_model.named_parameters():
        compare(spec.describe(), f"grad of {name}", p.grad, t_params[name].grad, rtol=1e-10, atol=1e-12)
    for name, buf in s_model.named_buffers():
        compare(spec.describe(), f"buffer {name}", buf, dict(t_model.named_buffers())[name], rtol=1e-10, atol=1e-12)


def test_state_dict_keys_are_torch_style_and_identical():
    spec = ModelSpec("mlp", (3, 4, 4), hidden=(8, 4), batchnorm=True)
    s_keys = list(build_scratch_model(spec).state_dict())
    t_keys = list(build_torch_model(spec).state_dict())
    assert s_keys == t_keys
    assert s_keys[:6] == ["features.0.weight", "features.1.weight", "features.1.bias",
                          "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked"]
    assert s_keys[-2:] == ["classifier.weight", "classifier.bias"]
    assert list(build_scratch_model(ModelSpec()).state_dict()) == ["classifier.weight", "classifier.bias"]


def test_seeded_initial_weights_are_shared_and_torch_distributed():
    spec = ModelSpec("logistic", (3, 100, 100))
    a, b = initial_state_dict(spec, 5), initial_state_dict(spec, 5)
    assert max_parameter_difference(a, b) == (0.0, "")
    w = a["classifier.weight"]
    bound = 1 / np.sqrt(30_000)  # torch's default U(−1/√fan_in, 1/√fan_in)
    assert w.shape == (1, 30_000) and np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    t = build_torch_model(spec, "float64", seed=5)
    assert np.array_equal(t.classifier.weight.detach().numpy(), w)


def test_wrong_input_shape_names_both_shapes():
    model = build_scratch_model(ModelSpec("logistic", (3, 8, 8)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, 8, 8\) or \(N, 192\), got \(2, 3, 9, 9\)"):
        model.forward(np.zeros((2, 3, 9, 9)))
    with pytest.raises(ValueError, match="activation"):
        ModelSpec("mlp", (3, 8, 8), hidden=(4,), activation="swish")
