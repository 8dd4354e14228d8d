"""The parity helper's comparison: equal infinities and NaNs agree, anything else names the worst element."""

import numpy as np
import pytest

from nnlab.parity import compare


def test_equal_infinities_and_nans_agree_without_a_warning():
    values = np.array([np.inf, -np.inf, np.nan, 1.0])
    assert compare("padding", "output", values, values.copy(), rtol=0, atol=0) == 0.0


def test_opposite_infinities_and_a_wrong_value_name_the_element():
    with pytest.raises(AssertionError, match=r"\[padding\] output: worst element \(1,\): scratch=inf, torch=-inf"):
        compare("padding", "output", np.array([1.0, np.inf]), np.array([1.0, -np.inf]), rtol=0, atol=0)
    with pytest.raises(AssertionError, match=r"NaN mismatch at \(0,\)"):
        compare("padding", "output", np.array([np.nan]), np.array([0.0]), rtol=0, atol=0)
