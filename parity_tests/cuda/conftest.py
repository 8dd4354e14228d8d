"""The CUDA tests: cuBLAS set up for deterministic algorithms before any CUDA work, and the photos they train on."""

import os

# Read by cuBLAS when its first handle is made; torch.use_deterministic_algorithms(True) refuses cuBLAS
# products on CUDA ≥ 10.2 without it (":4096:8" or ":16:8"). Set at collection, before any test runs.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import pytest  # noqa: E402

from parity_tests.cuda.gpu import SIZE, photos_of  # noqa: E402


@pytest.fixture(scope="session")
def real_photos(tmp_path_factory):
    """400 real photos (200 cats, 200 dogs) at 32x32: $DOGCAT_DATA, else the shared sample; skips without."""
    from nnlab.dogcat.data import SHARED_SAMPLE

    root = os.environ.get("DOGCAT_DATA") or (str(SHARED_SAMPLE) if SHARED_SAMPLE.is_dir() else None)
    if root is None:
        pytest.skip(f"no real photos: set $DOGCAT_DATA or provide the shared sample at {SHARED_SAMPLE}")
    return photos_of(root, tmp_path_factory.mktemp("real-cache"), per_class=200)


@pytest.fixture(scope="session")
def synthetic_photos(tmp_path_factory):
    """The pipeline's synthetic two-class JPEGs (200), decoded at 32x32 like the real ones: always there."""
    from nnlab.dogcat.synthetic import synthetic_dogcat

    folder = synthetic_dogcat(tmp_path_factory.mktemp("synthetic") / "train", n=200, size=SIZE, seed=0)
    return photos_of(folder, tmp_path_factory.mktemp("synthetic-cache"), per_class=100)


@pytest.fixture
def deterministic():
    """torch.use_deterministic_algorithms(True) for one test (cuDNN benchmark off), restored after."""
    import torch

    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.benchmark)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    torch.backends.cudnn.benchmark = before[2]



def pytest_runtest_logreport(report):
    """With ``$GPU_CHECK_TEST_LOG`` set (``make gpu-check``), append each test's outcome as a JSON line the moment it
    is known, so a run stopped at its time limit still reports every test that finished."""
    import json

    path = os.environ.get("GPU_CHECK_TEST_LOG")
    if not path or (report.when != "call" and report.passed):
        return
    if report.skipped:
        outcome = "skipped"
        message = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    else:
        outcome = report.outcome if report.when == "call" else ("passed" if report.passed else "error")
        message = "" if report.passed else report.longreprtext[-3000:]
    with open(path, "a") as f:
        f.write(json.dumps({"nodeid": report.nodeid, "phase": report.when, "outcome": outcome,
                            "seconds": round(report.duration, 3), "message": message}) + "\n")
