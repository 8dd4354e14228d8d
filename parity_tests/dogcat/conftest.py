"""Fixtures of the dog/cat pipeline tests."""

import pytest

from nnlab.dogcat import decode as dogcat_decode


@pytest.fixture(params=["simplejpeg", "pillow"])
def jpeg_backend(request, monkeypatch):
    """Runs the test with the optional simplejpeg fast path, then with Pillow alone."""
    if request.param == "simplejpeg" and dogcat_decode.simplejpeg is None:
        pytest.skip("simplejpeg is not installed; Pillow alone is tested")
    if request.param == "pillow":
        monkeypatch.setattr(dogcat_decode, "simplejpeg", None)
    return request.param
