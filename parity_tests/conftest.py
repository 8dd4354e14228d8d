"""Shared fixtures and the hypothesis profile: fixed seed, so runs repeat."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

settings.register_profile(
    "parity",
    max_examples=6,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "parity"))

# The suite's tensors are small: extra torch or BLAS threads only spin and synchronise, which
# on a busy 2-core machine costs several times the work itself (measured: a 200-step
# trajectory run 0.24 s on one thread, 4.8 s on two).
torch.set_num_threads(1)
threadpool_limits(1)

SHARED_DOGCAT = Path(__file__).resolve().parents[2] / "shared" / "data" / "dogs-vs-cats-200px" / "train"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def shared_dogcat() -> Path:
    """The shared 4,000-photo Kaggle sample; tests that need it skip when it is absent."""
    if not SHARED_DOGCAT.is_dir():
        pytest.skip(f"shared dog/cat sample not found at {SHARED_DOGCAT}")
    return SHARED_DOGCAT
