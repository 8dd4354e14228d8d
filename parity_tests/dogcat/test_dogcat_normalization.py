"""Pixel normalization: NumPy and torch agree, the default scaling, and the round trip through a checkpoint."""

import json

import numpy as np
import pytest
import torch

from nnlab.dogcat import data as dogcat


@pytest.mark.parametrize(
    "norm",
    [dogcat.DEFAULT_NORMALIZATION, dogcat.Normalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))],
    ids=["default", "imagenet"],
)
def test_normalization_numpy_and_torch_agree(norm):
    pixels = np.random.default_rng(0).integers(0, 256, (4, 3, 7, 5), dtype=np.uint8)
    pixels[0, :, 0, 0] = 0
    pixels[0, :, 0, 1] = 255
    kept = pixels.copy()
    for np_dtype, torch_dtype, tol in ((np.float32, torch.float32, 1e-6), (np.float64, torch.float64, 1e-12)):
        ours = norm.apply_numpy(pixels, dtype=np_dtype)
        theirs = norm.apply_torch(torch.from_numpy(pixels), dtype=torch_dtype)
        assert ours.dtype == np_dtype and theirs.dtype == torch_dtype
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=tol)
        mean, std = np.array(norm.mean).reshape(3, 1, 1), np.array(norm.std).reshape(3, 1, 1)
        np.testing.assert_allclose(ours, (pixels / 255.0 - mean) / std, rtol=0, atol=tol * 10)
    np.testing.assert_array_equal(pixels, kept)
    assert norm.apply_numpy(pixels[0]).shape == (3, 7, 5)
    if torch.cuda.is_available():
        on_gpu = norm.apply_torch(torch.from_numpy(pixels).cuda())
        np.testing.assert_allclose(on_gpu.cpu().numpy(), norm.apply_numpy(pixels), rtol=0, atol=1e-6)


def test_default_normalization_and_round_trip():
    norm = dogcat.DEFAULT_NORMALIZATION
    scaled = norm.apply_numpy(np.array([0, 255], np.uint8).reshape(1, 1, 2).repeat(3, axis=0))
    np.testing.assert_allclose(scaled[:, 0, :], [[-0.5, 0.5]] * 3)
    for n in (norm, dogcat.Normalization(mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6))):
        d = n.to_dict()
        assert dogcat.Normalization.from_dict(json.loads(json.dumps(d))) == n
        assert dogcat.Normalization.from_dict(d) == n
    with pytest.raises(TypeError, match="uint8"):
        norm.apply_numpy(np.zeros((3, 2, 2), np.float32))
    with pytest.raises(TypeError, match="uint8"):
        norm.apply_torch(torch.zeros(3, 2, 2))
    with pytest.raises(ValueError, match="shape"):
        norm.apply_numpy(np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="positive"):
        dogcat.Normalization(mean=(0, 0, 0), std=(1, 0, 1))


@pytest.mark.parametrize("norm", [
    dogcat.DEFAULT_NORMALIZATION,
    dogcat.Normalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    dogcat.Normalization(mean=(0.1, 0.9, 0.33), std=(0.7, 1.0, 3.0)),
], ids=["default", "imagenet", "mixed"])
@pytest.mark.parametrize("np_dtype,torch_dtype", [(np.float32, torch.float32), (np.float64, torch.float64)])
def test_normalization_is_a_256_entry_table_per_channel_bit_for_bit(norm, np_dtype, torch_dtype):
    """Every byte value in every channel: the in-place host arithmetic (std 1 skipped), the formula's table and
    torch on the CPU give the same bits; a batch equals its table lookup, also written into a reused buffer."""
    table = norm.lookup_table(np_dtype)
    assert table.shape == (3, 256) and table.dtype == np_dtype
    every = np.broadcast_to(np.arange(256, dtype=np.uint8).reshape(16, 16), (2, 3, 16, 16)).copy()  # each value, each channel
    for x in (every, np.random.default_rng(0).integers(0, 256, (5, 3, 7, 9), dtype=np.uint8)):
        lookup = table[np.arange(3)[:, None, None], x]
        assert np.array_equal(norm.apply_numpy(x, np_dtype), lookup)
        assert np.array_equal(norm.apply_torch(torch.from_numpy(x), torch_dtype).numpy(), lookup)
        buffer = np.full(x.shape, np.nan, np_dtype)
        assert norm.apply_numpy(x, np_dtype, out=buffer) is buffer and np.array_equal(buffer, lookup)
    with pytest.raises(ValueError, match="out: expected a C-contiguous"):
        norm.apply_numpy(every, np_dtype, out=np.empty((2, 3, 16, 16), np.float16))
