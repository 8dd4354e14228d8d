"""The dog/cat classifiers, built twice (NumPy by hand and torch) with one state_dict.

Three models, all ending in one logit z whose sigmoid is P(dog):

- ``logistic``: z = w·x + b on the flattened image, x ∈ ℝ^(3·H·W) (30,000 inputs
  at 100x100). This is logistic regression: the Bernoulli likelihood with a
  linear log-odds, the seed model of the project.
- ``mlp``: hidden blocks ``Linear → [BatchNorm1d] → activation → [Dropout]`` of the
  given sizes, then ``Linear(last, 1)``. A Linear followed by BatchNorm has no bias:
  BN subtracts the batch mean, so that bias would have gradient exactly 0 in exact
  arithmetic and round-off noise in floating point, noise which Adam's g/√v would
  amplify into steps of size lr (and BN's β already shifts).
- ``cnn``: blocks ``conv 3x3 → BatchNorm2d → activation → 2x2 max-pool`` of the given
  channel widths (16, 32, 64, 128, 256 by default), global average pooling, Dropout,
  ``Linear(last width, 1)``. Each block sees a window twice as wide as the last (a 3x3
  filter after k halvings spans 3·2^k input pixels), so the last block's filters answer
  for whole ears and snouts, wherever they are: pooling over the image makes the
  answer independent of position.

Both twins name their parameters the same way, so a state_dict moves freely between
them (``spec`` ↔ :mod:`~nnlab.dogcat.models.spec`, the networks ↔
:mod:`~nnlab.dogcat.models.nets`, building and moving weights ↔
:mod:`~nnlab.dogcat.models.weights`)::

    features.0.weight, features.0.bias, [features.1.weight, … running_mean …],   (mlp)
    features.0.conv.weight, features.0.bn.weight, …, features.3.bn.running_var,   (cnn)
    classifier.weight (1, fan_in), classifier.bias (1,)
"""

from nnlab.dogcat.models.nets import ScratchConvBlock, ScratchDogCatNet, TorchConvBlock, TorchDogCatNet
from nnlab.dogcat.models.spec import (
    ACTIVATIONS, DEFAULT_CHANNELS, MODEL_KINDS, NUMPY_DTYPES, TORCH_DTYPES, ModelSpec,
)
from nnlab.dogcat.models.weights import (
    build_scratch_model, build_torch_model, initial_state_dict, max_parameter_difference, to_numpy_state,
)

__all__ = [
    "ACTIVATIONS", "MODEL_KINDS", "DEFAULT_CHANNELS", "NUMPY_DTYPES", "TORCH_DTYPES", "ModelSpec",
    "ScratchDogCatNet", "TorchDogCatNet", "ScratchConvBlock", "TorchConvBlock",
    "initial_state_dict", "build_scratch_model", "build_torch_model", "to_numpy_state", "max_parameter_difference",
]
