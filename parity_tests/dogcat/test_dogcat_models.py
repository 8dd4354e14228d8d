"""Dog/cat models: one state_dict for both twins, forward and parameter gradients equal (dropout masks drawn
alike from generators seeded alike)."""

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
    ModelSpec("mlp", (3, 6, 6), hidden=(9, 5), dropout=0.4),
    ModelSpec("cnn", (3, 8, 8), channels=(4, 6), dropout=0.3),
    ModelSpec("cnn", (3, 9, 12), channels=(5,), activation="gelu"),
] + [ModelSpec("mlp", (3, 4, 4), hidden=(7,), activation=a) for a in ACTIVATIONS if a not in ("relu", "tanh")]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
def test_forward_and_parameter_gradients_match_torch(spec):
    rng = np.random.default_rng(0)
    s_model = build_scratch_model(spec, "float64", seed=1, dropout_rng=np.random.default_rng(7))
    t_model = build_torch_model(spec, "float64", s_model.state_dict(), dropout_rng=np.random.default_rng(7))
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


def test_cnn_keys_read_by_block_and_the_first_conv_forms_no_input_gradient():
    spec = ModelSpec("cnn", (3, 16, 16), channels=(4, 8), dropout=0.3)
    model = build_scratch_model(spec)
    keys = list(model.state_dict())
    assert keys == list(build_torch_model(spec).state_dict())
    block = ["conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert keys == [f"features.{i}.{k}" for i in range(2) for k in block] + ["classifier.weight", "classifier.bias"]
    assert model.state_dict()["classifier.weight"].shape == (1, 8)
    assert model.features[0].conv.needs_input_grad is False and model.features[1].conv.needs_input_grad
    assert spec.describe() == "cnn4-8-relu-drop0.3" and ModelSpec.from_dict(spec.to_dict()) == spec
    assert ModelSpec("cnn", (3, 32, 32)).channels == (16, 32, 64, 128, 256)  # the default widths


def test_dropout_masks_follow_the_generator_and_eval_is_deterministic():
    spec = ModelSpec("cnn", (3, 8, 8), channels=(4,), dropout=0.5)
    x = np.random.default_rng(0).standard_normal((16, 3, 8, 8))
    a, b = (build_scratch_model(spec, seed=1, dropout_rng=np.random.default_rng(5)) for _ in range(2))
    np.testing.assert_array_equal(a.forward(x), b.forward(x))  # same generator state: same masks
    assert not np.array_equal(a.forward(x), a.forward(x))  # the generator moves on
    a.eval()
    np.testing.assert_array_equal(a.forward(x), a.forward(x))


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
    cnn = build_scratch_model(ModelSpec("cnn", (3, 8, 8), channels=(2,)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, 8, 8\), got \(2, 192\)"):
        cnn.forward(np.zeros((2, 192)))
    with pytest.raises(ValueError, match="needs images of at least 16x16 px, got 8x8"):
        ModelSpec("cnn", (3, 8, 8), channels=(2, 2, 2, 2))
    with pytest.raises(ValueError, match=r"dropout: expected a probability in \[0, 1\), got 1.0"):
        ModelSpec("cnn", (3, 8, 8), channels=(2,), dropout=1.0)


def test_relu_blocks_pool_first_and_compute_the_same_function_and_gradient():
    """max(relu(a), relu(b)) = relu(max(a, b)): a ReLU block pools before the activation; output, input gradient
    and parameter gradients equal conv → BN → ReLU → pool exactly, windows with ties and all-negative ones too."""
    import copy

    from nnlab.dogcat.models import ScratchConvBlock, TorchConvBlock

    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 2, 6, 6))
    x[:, :, :4, :4] = 0.0  # the conv's outputs (0..2, 0..2) are all alike: tied maxima in a pooling window
    upstream = rng.standard_normal((4, 3, 3, 3))
    for make, run in ((lambda: ScratchConvBlock(2, 3, "relu", np.float64, 0), "scratch"),
                      (lambda: TorchConvBlock(2, 3, "relu", dtype=torch.float64), "torch")):
        fast = make()
        slow = copy.deepcopy(fast)
        slow.pool_first = False
        assert fast.pool_first
        results = []
        for block in (fast, slow):
            if run == "scratch":
                y = block.forward(x)
                dx = block.backward(upstream)
                grads = [p.grad for _, p in block.named_parameters()]
            else:
                xt = torch.from_numpy(x).requires_grad_()
                y = block(xt)
                y.backward(torch.from_numpy(upstream))
                y, dx, grads = y.detach().numpy(), xt.grad.numpy(), [p.grad.numpy() for p in block.parameters()]
            results.append((y, dx, grads))
        (y1, dx1, g1), (y2, dx2, g2) = results
        assert (y1 == 0).any() and (y1 > 0).any()
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(dx1, dx2)
        for a, b in zip(g1, g2):
            np.testing.assert_array_equal(a, b)
