"""Shared fixtures and the hypothesis profile: fixed seed, so runs repeat."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "parity",
    max_examples=6,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "parity"))

# Small tensors: one thread avoids oversubscription when the suite shares its cores.
torch.set_num_threads(1)

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
