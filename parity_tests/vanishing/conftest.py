"""The batch every vanishing-gradient test feeds both twins, drawn once per module."""

import pytest

from parity_tests.vanishing.network import make_batch


@pytest.fixture(scope="module")
def batch():
    return make_batch()
