"""The synthetic data sets under their earlier name: :mod:`nnlab.common.synthetic_data` is their home."""

from nnlab.common.synthetic_data import GATES, blobs, linear_regression, spiral, truth_table  # noqa: F401
