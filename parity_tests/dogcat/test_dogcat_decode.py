"""Decoding photos: messy files skipped and counted, every mode to RGB, draft decode against the plain
resize, EXIF orientation, and parallel decoding equal to one process; under both JPEG back ends."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnlab.dogcat import data as dogcat
from nnlab.dogcat import decode as dogcat_decode
from parity_tests.dogcat.photos import build_messy_petimages, make_kaggle, write_photo


def test_messy_folder_skips_and_counts_unreadable_files_in_one_line(tmp_path, capsys, jpeg_backend):
    root = build_messy_petimages(tmp_path / "data")
    result = dogcat.load_dogcat(root, cache_dir=tmp_path / "cache", progress=True)
    assert len(result) == 7 and result.images.shape == (7, 3, 100, 100) and result.images.dtype == np.uint8
    assert result.class_counts() == {"cat": 3, "dog": 4}
    readable = ["Cat/0.jpg", "Cat/3.jpg", "Cat/4.jpg", "Dog/0.jpg", "Dog/1.png", "Dog/2.png", "Dog/3.gif"]
    assert [Path(p).relative_to(root / "PetImages").as_posix() for p in result.paths] == readable
    assert result.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    skipped = {Path(p).relative_to(root / "PetImages").as_posix(): reason for p, reason in result.skipped}
    assert set(skipped) == {"Cat/1.jpg", "Cat/2.jpg", "Dog/4.jpg"}
    assert "empty file" in skipped["Cat/1.jpg"]
    assert "truncated" in skipped["Cat/2.jpg"].lower()
    assert "identify" in skipped["Dog/4.jpg"]
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("dogcat:")]
    assert len(lines) == 1 and "3 unreadable files skipped" in lines[0] and "7 images" in lines[0]


def test_every_readable_mode_becomes_rgb(tmp_path, jpeg_backend):
    root = build_messy_petimages(tmp_path / "data")
    loaded = dogcat.load_dogcat(root, cache_dir=tmp_path / "cache", progress=False)
    by_name = {Path(p).relative_to(root / "PetImages").as_posix(): i for i, p in enumerate(loaded.paths)}
    images = loaded.images
    gray = images[by_name["Cat/3.jpg"]].astype(int)
    assert np.abs(gray[0] - gray[1]).max() <= 1 and np.abs(gray[1] - gray[2]).max() <= 1
    transparent_half = images[by_name["Dog/1.png"]][:, :, :45]
    assert transparent_half.min() == 255  # transparency shown on white
    cmyk = np.asarray(Image.open(root / "PetImages" / "Cat" / "4.jpg").convert("RGB").resize((100, 100)))
    assert np.abs(images[by_name["Cat/4.jpg"]].transpose(1, 2, 0).astype(int) - cmyk).mean() < 4
    for name in ("Dog/2.png", "Dog/3.gif"):
        assert images[by_name[name]].std() > 10  # palette images keep their colours


def test_decode_image_shapes_and_errors(tmp_path, jpeg_backend):
    for mode in ("RGB", "L", "CMYK"):
        image = dogcat.decode_image(write_photo(tmp_path / f"{mode}.jpg", mode=mode), size=100)
        assert image.shape == (3, 100, 100) and image.dtype == np.uint8 and image.flags.c_contiguous
    assert dogcat.decode_image(tmp_path / "RGB.jpg", size=37).shape == (3, 37, 37)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(dogcat.UnreadableImageError, match="empty file"):
        dogcat.decode_image(tmp_path / "empty.jpg")
    with pytest.raises(OSError):
        dogcat.decode_image(tmp_path / "missing.jpg")


@pytest.mark.parametrize("width, height", [(200, 200), (500, 375), (640, 480), (90, 130)])
def test_draft_decode_matches_plain_resize(tmp_path, width, height, jpeg_backend):
    path = write_photo(tmp_path / "photo.jpg", seed=width, width=width, height=height)
    ours = dogcat.decode_image(path, 100).astype(int)
    plain = dogcat.decode_image_baseline(path, 100).astype(int)
    assert np.abs(ours - plain).mean() < 3.0  # a few grey levels of 255


def test_both_backends_give_nearly_the_same_pixels(tmp_path, monkeypatch):
    if dogcat_decode.simplejpeg is None:
        pytest.skip("simplejpeg is not installed")
    for width, height in ((200, 200), (500, 375), (300, 300)):
        path = write_photo(tmp_path / f"{width}.jpg", seed=width, width=width, height=height)
        fast = dogcat.decode_image(path)
        with monkeypatch.context() as patched:
            patched.setattr(dogcat_decode, "simplejpeg", None)
            plain = dogcat.decode_image(path)
        difference = np.abs(fast.astype(int) - plain.astype(int)).mean()
        assert difference == 0 if width == 200 else difference < 1.5


def test_exif_orientation_is_applied(tmp_path, jpeg_backend):
    wide = np.zeros((100, 200, 3), np.uint8)
    wide[:, :100, 0] = 255  # left half red, right half blue
    wide[:, 100:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise: red ends up on top
    Image.fromarray(wide).save(tmp_path / "rotated.jpg", exif=exif.tobytes())
    image = dogcat.decode_image(tmp_path / "rotated.jpg").astype(int)
    assert image[0, :40].mean() > 200 and image[2, :40].mean() < 50
    assert image[2, 60:].mean() > 200 and image[0, 60:].mean() < 50


def test_parallel_decode_equals_single_process(tmp_path):
    root = build_messy_petimages(tmp_path / "data")
    make_kaggle(tmp_path / "many", 12, 12)
    paths = [p for p, _ in dogcat.find_images(tmp_path / "many")] + [p for p, _ in dogcat.find_images(root)]
    one, failed_one, _ = dogcat.decode_many(paths, 100, workers=1)
    two, failed_two, _ = dogcat.decode_many(paths, 100, workers=2)
    assert failed_one == failed_two and len(failed_one) == 3
    np.testing.assert_array_equal(one, two)
    single = dogcat.load_dogcat(root, cache_dir=tmp_path / "c1", workers=1, progress=False)
    pooled = dogcat.load_dogcat(root, cache_dir=tmp_path / "c2", workers=2, progress=False)
    np.testing.assert_array_equal(single.images, pooled.images)
    assert single.paths == pooled.paths and single.skipped == pooled.skipped
