"""The parity helper used by every test; it lives in ``nnlab.parity`` so scripts and
users' own projects can import it too."""

from nnlab.parity import (  # noqa: F401
    DTYPES,
    REGIMES,
    TOLERANCES,
    ParityReport,
    assert_parity,
    compare,
    regime_array,
)
