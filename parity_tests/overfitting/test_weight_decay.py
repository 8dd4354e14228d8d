"""Weight decay, taken apart, in both twins (float64, 200 mini-batch steps of a 10-32-32-2 MLP):

- SGD(weight_decay=λ) (momentum 0.9) is the same run as SGD on L + (λ/2)‖θ‖²;
- Adam(weight_decay=λ) is the same run as Adam on L + (λ/2)‖θ‖² (L2, seen through Adam's normaliser);
- AdamW(weight_decay=λ) is the same run as Adam plus θ ← θ(1 − γλ) before each step;
- Adam(weight_decay=λ) and AdamW(weight_decay=λ) are different runs.

"The same run" is asserted to 1e-12 at every step. Measured: scratch bit for bit (0.0), since
both ways compute g + λθ with the same operations; torch to ~1e-16, since its
``grad.add(param, alpha=λ)`` rounds once where autograd's (λ/2)·2θ + g rounds twice.
"""

import numpy as np
import pytest

from nnlab.overfitting import DecaySettings, noisy_teacher_split, weight_decay_equivalences
from nnlab.overfitting.report import format_decay

SETTINGS = DecaySettings(steps=200, weight_decay=0.06, sgd_lr=0.02, momentum=0.9, adam_lr=1e-3, batch_size=25,
                         hidden=(32, 32), seed=0, dtype=np.float64)


@pytest.fixture(scope="module")
def report():
    return weight_decay_equivalences(noisy_teacher_split(seed=0), SETTINGS)


def test_sgd_weight_decay_is_an_l2_term_and_adamw_is_a_shrink(report):
    print()
    print(format_decay(report, in_features=10))
    for c in report.comparisons:
        for impl, diff in c.max_diff.items():
            if c.expected_equal:
                assert diff <= 1e-12, f"{impl}: {c.a} vs {c.b}: max |Δθ| = {diff:.2e} over {SETTINGS.steps} steps"
            else:
                assert diff > 1e-2, f"{impl}: {c.a} vs {c.b} should differ, max |Δθ| = {diff:.2e}"
    assert [(c.a, c.b) for c in report.comparisons if c.expected_equal] == [
        ("SGD(weight_decay=λ)", "SGD on L + (λ/2)‖θ‖²"),
        ("Adam(weight_decay=λ)", "Adam on L + (λ/2)‖θ‖²"),
        ("AdamW(weight_decay=λ)", "Adam + θ ← θ(1 − γλ)"),
    ]


def test_adam_l2_and_adamw_decay_differently(report):
    """AdamW shrinks ‖θ‖ by the factor (1 − γλ) per step on top of Adam; Adam's L2 term, normalised per
    coordinate, pulls weights with small gradients to 0 at about γ per step: far more here."""
    for impl, norms in report.final_norm.items():
        adam, adamw, adam_l2 = norms["Adam"], norms["AdamW(weight_decay=λ)"], norms["Adam(weight_decay=λ)"]
        assert adamw < adam and adam_l2 < 0.7 * adamw, (impl, adam, adamw, adam_l2)


def test_twins_agree_on_every_run(report):
    assert set(report.twin_diff) == set(report.final_norm["scratch"])
    worst = max(report.twin_diff.values())
    assert worst <= 1e-12, report.twin_diff
