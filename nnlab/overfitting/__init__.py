"""Overfitting, and what weight decay and dropout do about it (Deep Learning from Scratch, ch. 6).

A network with far more weights than training samples can fit the training set
perfectly, noise and all, and then does worse on data it has not seen: training
accuracy runs to 1.0 while validation accuracy stalls, and their difference, the
*gap*, measures the overfitting. Two remedies, trained here in both twins from the
same weights on the same batches:

* weight decay: minimise L + (λ/2)‖θ‖²; its gradient adds λθ, a pull of every weight
  towards 0 that keeps the function smooth (SGD's ``weight_decay=λ`` is exactly this);
* dropout: in training, every hidden unit is zeroed with probability p (the rest
  scaled by 1/(1 − p)), so no unit can rely on another; evaluation uses the whole
  network.

The study, one module per stage:

* ``config``   — the four variants (plain, weight decay, dropout, both) and the settings;
* ``data``     — a small training set of dog/cat photos (pooled, flattened) and a larger
  validation set, or a tiny noisy-label task for tests;
* ``twins``    — the MLP of a variant in both twins, from the same weights, dropout
  generators seeded alike;
* ``training`` — the lockstep loop and the accuracy curves;
* ``decay``    — SGD's weight decay is an L2 loss term, Adam's too, AdamW's is a shrink;
* ``report``   — the table, the identities, the PNG and the TensorBoard runs.
"""

from nnlab.overfitting.config import IMPLEMENTATIONS, VARIANT_NAMES, StudySettings, Variant  # noqa: F401
from nnlab.overfitting.data import Split, noisy_teacher_split, photo_split  # noqa: F401
from nnlab.overfitting.decay import DecayReport, DecaySettings, weight_decay_equivalences  # noqa: F401
from nnlab.overfitting.report import format_decay, format_table, plot_curves, write_tensorboard  # noqa: F401
from nnlab.overfitting.training import Curves, VariantResult, run_study, steps_per_variant, train_variant  # noqa: F401
