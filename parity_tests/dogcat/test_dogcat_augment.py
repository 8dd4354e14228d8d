"""Augmentation: flips and reflect-padded shifts drawn from (seed, epoch, step), NumPy = torch bit for bit."""

import numpy as np
import pytest
import torch

from nnlab.dogcat.augment import AugmentDraws, augment_numpy, augment_torch, draw


def images(n=12, c=3, h=9, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, c, h, w)).astype(np.uint8)


def reference(x, draws):
    """The definition, image by image: mirror, np.pad(mode='reflect') by S, crop at (dy, dx)."""
    s, (h, w) = draws.shift, x.shape[2:]
    out = []
    for img, flip, dy, dx in zip(x, draws.flip, draws.dy, draws.dx):
        img = img[:, :, ::-1] if flip else img
        padded = np.pad(img, ((0, 0), (s, s), (s, s)), mode="reflect")
        out.append(padded[:, dy:dy + h, dx:dx + w])
    return np.stack(out)


@pytest.mark.parametrize("shift", [0, 1, 3, 6])
def test_numpy_and_torch_equal_the_definition_bit_for_bit(shift):
    x = images()
    x_before = x.copy()
    draws = draw(seed=3, epoch=1, step=4, n=len(x), shift=shift)
    expected = reference(x, draws)
    out_np = augment_numpy(x, draws)
    out_torch = augment_torch(torch.from_numpy(x), draws)
    assert out_np.dtype == np.uint8 and out_torch.dtype == torch.uint8
    np.testing.assert_array_equal(out_np, expected)
    np.testing.assert_array_equal(out_torch.numpy(), expected)
    np.testing.assert_array_equal(x, x_before)  # the input is never modified


def test_draws_are_a_pure_function_of_seed_epoch_and_step():
    a, b = draw(0, 2, 5, 64, 8), draw(0, 2, 5, 64, 8)
    for field in ("flip", "dy", "dx"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    for other in (draw(1, 2, 5, 64, 8), draw(0, 3, 5, 64, 8), draw(0, 2, 6, 64, 8)):
        assert not np.array_equal(a.dx, other.dx) or not np.array_equal(a.flip, other.flip)


def test_draws_cover_both_flips_and_every_offset():
    d = draw(0, 0, 0, 4000, 3)
    assert 0.45 < d.flip.mean() < 0.55
    assert set(d.dy) == set(d.dx) == set(range(7))
    assert set(draw(0, 0, 0, 100, 0).dy) == {0}


def test_identity_without_flip_or_shift_and_a_pure_flip():
    x = images()
    n = len(x)
    zeros = np.zeros(n, np.int64)
    same = AugmentDraws(np.zeros(n, bool), zeros, zeros, 0)
    np.testing.assert_array_equal(augment_numpy(x, same), x)
    mirrored = AugmentDraws(np.ones(n, bool), zeros, zeros, 0)
    np.testing.assert_array_equal(augment_numpy(x, mirrored), x[..., ::-1])
    # a shift by the full S to the right: column j shows column j − S, its left edge the reflection
    s = 2
    right = AugmentDraws(np.zeros(n, bool), np.full(n, s), np.zeros(n, np.int64), s)
    out = augment_numpy(x, right)
    np.testing.assert_array_equal(out[..., s:], x[..., :-s])
    np.testing.assert_array_equal(out[..., :s], x[..., s:0:-1])


def test_a_ddp_shard_gets_the_draws_of_its_images():
    x = images(n=10)
    draws = draw(0, 0, 0, 10, 2)
    full = augment_numpy(x, draws)
    for rank in (0, 1, 2):
        np.testing.assert_array_equal(augment_numpy(x[rank::3], draws.shard(rank, 3)), full[rank::3])


def test_bad_input_says_what_was_expected():
    with pytest.raises(ValueError, match="expected fewer than 7 px"):
        augment_numpy(images(), draw(0, 0, 0, 12, 7))
    with pytest.raises(ValueError, match="expected uint8 images"):
        augment_numpy(images().astype(np.float32), draw(0, 0, 0, 12, 1))
    with pytest.raises(ValueError, match="5 draws for a batch of 12"):
        augment_torch(torch.from_numpy(images()), draw(0, 0, 0, 5, 1))
    with pytest.raises(ValueError, match="non-negative"):
        draw(0, 0, 0, 5, -1)
