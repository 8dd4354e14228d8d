"""Dog/cat data pipeline: layouts, messy files, decoding, the on-disk cache, split,
normalisation, the synthetic stand-in set, and the shared 4,000-photo Kaggle sample.

Pipeline tests build small folders in tmp_path (corrupt files included) and always run;
the shared-sample tests skip when it is absent and decode it once per module.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nnlab.dogcat import cache as dogcat_cache
from nnlab.dogcat import data as dogcat
from nnlab.dogcat import decode as dogcat_decode

# ---------------------------------------------------------------------------------------
# Building image folders


def photo_pixels(seed: int, width: int = 64, height: int = 48) -> np.ndarray:
    """A smooth, photo-like RGB image (gradients, a blob and mild noise), uint8 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    base = rng.uniform(40, 200, 3) + 60 * np.stack([xx, yy, xx * yy], axis=-1)
    cy, cx = rng.uniform(0.2, 0.6, 2)
    base += 50 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.02)[..., None]
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def write_photo(path: Path, seed: int = 0, width: int = 64, height: int = 48, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo_pixels(seed, width, height)).convert(mode).save(path)
    return path


def make_kaggle(folder: Path, n_cat: int = 3, n_dog: int = 3, **kwargs) -> Path:
    for i in range(n_cat):
        write_photo(folder / f"cat.{i}.jpg", seed=i, **kwargs)
    for i in range(n_dog):
        write_photo(folder / f"dog.{i}.jpg", seed=100 + i, **kwargs)
    return folder


def relative(items, root: Path) -> list[tuple[str, int]]:
    return [(p.relative_to(root).as_posix(), label) for p, label in items]


# ---------------------------------------------------------------------------------------
# Layouts


def test_kaggle_flat_layout_labels_sorted_and_non_images_ignored(tmp_path):
    write_photo(tmp_path / "cat.1.jpg")
    write_photo(tmp_path / "cat.10.JPG")
    write_photo(tmp_path / "dog.0.jpeg")
    write_photo(tmp_path / "Dog.2.png")
    (tmp_path / "Thumbs.db").write_bytes(b"\x00" * 64)
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "._cat.3.jpg").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    write_photo(tmp_path / "bird.0.jpg")
    layout, items = dogcat.detect_layout(tmp_path)
    assert layout == "Kaggle"
    assert relative(items, tmp_path) == [("Dog.2.png", 1), ("cat.1.jpg", 0), ("cat.10.JPG", 0), ("dog.0.jpeg", 1)]
    assert dogcat.find_images(tmp_path) == items


def test_kaggle_folder_holding_train_is_accepted(tmp_path):
    make_kaggle(tmp_path / "train", 2, 2)
    write_photo(tmp_path / "test1" / "1.jpg")
    items = dogcat.find_images(tmp_path)
    assert relative(items, tmp_path) == [
        ("train/cat.0.jpg", 0), ("train/cat.1.jpg", 0), ("train/dog.0.jpg", 1), ("train/dog.1.jpg", 1),
    ]


@pytest.mark.parametrize("cat_name, dog_name", [("cat", "dog"), ("Cat", "Dog"), ("CATS", "dogs"), ("cAt", "DOG")])
def test_class_folders_any_case(tmp_path, cat_name, dog_name):
    write_photo(tmp_path / cat_name / "a.jpg")
    write_photo(tmp_path / cat_name / "b.png")
    write_photo(tmp_path / dog_name / "nested" / "c.jpg")
    (tmp_path / dog_name / "Thumbs.db").write_bytes(b"")
    write_photo(tmp_path / "other" / "d.jpg")
    layout, items = dogcat.detect_layout(tmp_path)
    assert layout == "class folders"
    assert sorted(relative(items, tmp_path)) == sorted(
        [(f"{cat_name}/a.jpg", 0), (f"{cat_name}/b.png", 0), (f"{dog_name}/nested/c.jpg", 1)]
    )
    assert [str(p) for p, _ in items] == sorted(str(p) for p, _ in items)


def test_petimages_layout_from_its_parent_or_itself(tmp_path):
    pet = tmp_path / "PetImages"
    for i in range(2):
        write_photo(pet / "Cat" / f"{i}.jpg", seed=i)
        write_photo(pet / "Dog" / f"{i}.jpg", seed=10 + i)
    (pet / "Cat" / "Thumbs.db").write_bytes(b"\x00" * 32)
    for root in (tmp_path, pet):
        layout, items = dogcat.detect_layout(root)
        assert layout == "PetImages"
        assert relative(items, pet) == [("Cat/0.jpg", 0), ("Cat/1.jpg", 0), ("Dog/0.jpg", 1), ("Dog/1.jpg", 1)]


def _only_cats_kaggle(root):
    make_kaggle(root, 2, 0)


def _only_dog_folder(root):
    write_photo(root / "PetImages" / "Dog" / "0.jpg")
    (root / "PetImages" / "Cat").mkdir()


def _unlabelled_images(root):
    write_photo(root / "1.jpg")
    write_photo(root / "2.jpg")


def _a_file(root):
    write_photo(root / "cat.1.jpg")
    return root / "cat.1.jpg"


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda root: root / "missing", "does not exist"),
        (lambda root: None, "it is empty"),
        (_only_cats_kaggle, "only one class found"),
        (_only_dog_folder, "only one class found"),
        (_unlabelled_images, "no labelled images"),
        (_a_file, "is a file"),
    ],
    ids=["missing", "empty", "only-cats", "only-dog-folder", "unlabelled", "file"],
)
def test_bad_data_folders_name_the_accepted_layouts(tmp_path, build, expected):
    root = build(tmp_path) or tmp_path
    with pytest.raises(dogcat.DataLayoutError) as info:
        dogcat.load_dogcat(root, cache_dir=tmp_path / "cache", progress=False)
    message = str(info.value)
    assert expected in message
    assert dogcat.ACCEPTED_LAYOUTS in message
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------------------
# Messy files and decoding; each under both JPEG back ends where the optional one is installed


@pytest.fixture(params=["simplejpeg", "pillow"])
def jpeg_backend(request, monkeypatch):
    """Runs the test with the optional simplejpeg fast path, then with Pillow alone."""
    if request.param == "simplejpeg" and dogcat_decode.simplejpeg is None:
        pytest.skip("simplejpeg is not installed; Pillow alone is tested")
    if request.param == "pillow":
        monkeypatch.setattr(dogcat_decode, "simplejpeg", None)
    return request.param


def build_messy_petimages(root: Path) -> Path:
    """PetImages-style folder with what the real download ships: 7 readable images in
    every colour mode, 3 unreadable files, and Thumbs.db."""
    cat, dog = root / "PetImages" / "Cat", root / "PetImages" / "Dog"
    write_photo(cat / "0.jpg", seed=1, width=120, height=90)
    (cat / "1.jpg").write_bytes(b"")  # zero-byte
    whole = write_photo(cat / "2.jpg", seed=2).read_bytes()
    (cat / "2.jpg").write_bytes(whole[: len(whole) // 2])  # truncated JPEG
    (cat / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 60)
    write_photo(cat / "3.jpg", seed=3, mode="L")  # grayscale
    write_photo(cat / "4.jpg", seed=4, mode="CMYK")
    write_photo(dog / "0.jpg", seed=5, width=300, height=200)
    rgba = Image.fromarray(photo_pixels(6)).convert("RGBA")
    rgba.paste((0, 0, 0, 0), (0, 0, rgba.width // 2, rgba.height))  # left half fully transparent
    rgba.save(dog / "1.png")
    Image.fromarray(photo_pixels(7)).convert("P", palette=Image.Palette.ADAPTIVE).save(dog / "2.png")
    Image.fromarray(photo_pixels(8)).convert("P", palette=Image.Palette.ADAPTIVE).save(dog / "3.gif")
    (dog / "4.jpg").write_text("<html>404 not found</html>")  # not an image at all
    return root


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


# ---------------------------------------------------------------------------------------
# The cache


class CountingDecoder:
    """Stands in for decode_image: counts calls, optionally raises on the k-th."""

    def __init__(self, raise_on_call=None, error=KeyboardInterrupt):
        self.calls = 0
        self.raise_on_call, self.error = raise_on_call, error
        self.real = dogcat_decode.decode_image

    def __call__(self, path, size=100):
        self.calls += 1
        if self.calls == self.raise_on_call:
            raise self.error("interrupted")
        return self.real(path, size)


def cache_files(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir() if not p.name.endswith(".lock"))


def test_second_load_opens_the_memory_mapped_cache_without_decoding(tmp_path, monkeypatch, caplog):
    root = build_messy_petimages(tmp_path / "data")
    first = dogcat.load_dogcat(root, cache_dir=tmp_path / "cache", progress=False)
    assert not first.from_cache
    assert "3 unreadable files skipped" in caplog.text  # with the bar off, the summary is a logged warning
    monkeypatch.setattr(dogcat_decode, "decode_image", CountingDecoder(raise_on_call=1, error=AssertionError))
    second = dogcat.load_dogcat(root, cache_dir=tmp_path / "cache", progress=False)
    assert second.from_cache and isinstance(second.images, np.memmap) and not second.images.flags.writeable
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert first.paths == second.paths and first.skipped == second.skipped
    assert second.cache_path == first.cache_path and second.cache_path.parent == tmp_path / "cache"
    assert np.load(second.cache_path).shape == (7, 3, 100, 100)  # a plain .npy file
    meta = json.loads(second.cache_path.with_suffix(".json").read_text())
    assert meta["labels"] == second.labels.tolist() and len(meta["skipped"]) == 3


def test_changed_folder_rebuilds_and_replaces_the_stale_cache(tmp_path, monkeypatch):
    root = make_kaggle(tmp_path / "data", 3, 3)
    cache_dir = tmp_path / "cache"
    decoder = CountingDecoder()
    monkeypatch.setattr(dogcat_decode, "decode_image", decoder)
    load = lambda **kw: dogcat.load_dogcat(root, cache_dir=cache_dir, progress=False, **kw)  # noqa: E731

    assert len(load()) == 6 and decoder.calls == 6
    load()
    assert decoder.calls == 6  # unchanged folder: no decoding

    stat = (root / "cat.1.jpg").stat()
    os.utime(root / "cat.1.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # touched
    assert not load().from_cache and decoder.calls == 12

    write_photo(root / "dog.9.jpg", seed=9)  # added
    grown = load()
    assert len(grown) == 7 and decoder.calls == 19 and grown.class_counts() == {"cat": 3, "dog": 4}

    (root / "cat.0.jpg").unlink()  # removed
    assert len(load()) == 6 and decoder.calls == 25
    assert len(cache_files(cache_dir)) == 2  # one .npy and one .json: stale pairs are deleted

    assert not load(rebuild=True).from_cache and decoder.calls == 31
    assert len(load(size=32).images[0, 0]) == 32 and decoder.calls == 37  # another size is another cache


def test_interrupted_build_leaves_no_cache_and_the_next_load_builds_it(tmp_path, monkeypatch):
    root = make_kaggle(tmp_path / "data", 3, 3)
    cache_dir = tmp_path / "cache"
    monkeypatch.setattr(dogcat_decode, "decode_image", CountingDecoder(raise_on_call=4))
    with pytest.raises(KeyboardInterrupt):
        dogcat.load_dogcat(root, cache_dir=cache_dir, progress=False)
    assert cache_files(cache_dir) == []  # neither the final files nor a temporary one

    def failing_dumps(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(dogcat_decode, "decode_image", CountingDecoder())
    monkeypatch.setattr(dogcat_cache.json, "dumps", failing_dumps)
    with pytest.raises(OSError, match="disk full"):
        dogcat.load_dogcat(root, cache_dir=cache_dir, progress=False)
    assert not any(name.endswith(".json") or ".tmp" in name for name in cache_files(cache_dir))
    monkeypatch.undo()

    result = dogcat.load_dogcat(root, cache_dir=cache_dir, progress=False)
    assert not result.from_cache and len(result) == 6  # images without their JSON were not trusted
    assert dogcat.load_dogcat(root, cache_dir=cache_dir, progress=False).from_cache


def _die(path, size=100):
    os._exit(3)  # a worker killed mid-decode (out of memory, signal)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers inherit the patch only when forked")
def test_dead_worker_raises_instead_of_hanging_and_leaves_no_cache(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    root = make_kaggle(tmp_path / "data", 4, 4, width=16, height=16)
    monkeypatch.setattr(dogcat_decode, "decode_image", _die)  # forked workers inherit the patch
    with pytest.raises(BrokenProcessPool):
        dogcat.load_dogcat(root, cache_dir=tmp_path / "cache", workers=2, progress=False)
    assert cache_files(tmp_path / "cache") == []


def test_default_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DOGCAT_CACHE", str(tmp_path / "here"))
    assert dogcat.default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("DOGCAT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert dogcat.default_cache_dir() == tmp_path / "xdg" / "nn-twins" / "dogcat"
    root = make_kaggle(tmp_path / "data", 1, 1)
    monkeypatch.setenv("DOGCAT_CACHE", str(tmp_path / "env-cache"))
    assert dogcat.load_dogcat(root, progress=False).cache_path.parent == tmp_path / "env-cache"


# ---------------------------------------------------------------------------------------
# Split and normalisation


def test_stratified_split_is_deterministic_stratified_disjoint_and_complete():
    labels = np.array([0] * 300 + [1] * 100)
    np.random.default_rng(1).shuffle(labels)
    train, val = dogcat.stratified_split(labels, val_fraction=0.25, seed=3)
    again_train, again_val = dogcat.stratified_split(labels, val_fraction=0.25, seed=3)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(val, again_val)
    assert train.dtype == val.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(len(labels)))
    assert np.bincount(labels[val]).tolist() == [75, 25]
    other_train, _ = dogcat.stratified_split(labels, val_fraction=0.25, seed=4)
    assert not np.array_equal(train, other_train)
    assert dogcat.stratified_split(labels, 0.0)[1].size == 0
    with pytest.raises(ValueError, match="val_fraction"):
        dogcat.stratified_split(labels, 1.0)


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


# ---------------------------------------------------------------------------------------
# Synthetic stand-in set and choosing the data source


def test_synthetic_set_is_a_deterministic_learnable_kaggle_folder(tmp_path):
    folder = dogcat.synthetic_dogcat(tmp_path / "a", n=120, size=24, seed=5)
    assert folder == tmp_path / "a"
    result = dogcat.load_dogcat(folder, size=24, cache_dir=tmp_path / "cache", progress=False)
    assert result.layout == "Kaggle" and result.class_counts() == {"cat": 60, "dog": 60} and not result.skipped
    assert Image.open(folder / "dog.0.jpg").size == (48, 48)
    again = dogcat.load_dogcat(dogcat.synthetic_dogcat(tmp_path / "b", n=120, size=24, seed=5), size=24,
                               cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(result.images, again.images)
    train, val = dogcat.stratified_split(result.labels, 0.3, seed=0)
    x = dogcat.DEFAULT_NORMALIZATION.apply_numpy(result.images[:], np.float64).reshape(len(result), -1)
    centroids = np.stack([x[train][result.labels[train] == c].mean(0) for c in (0, 1)])
    predicted = np.argmin(((x[val, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (predicted == result.labels[val]).mean() >= 0.6  # a weak linear rule already sees some signal


def test_synthetic_default_folder_is_written_once(tmp_path, monkeypatch):
    monkeypatch.setenv("DOGCAT_CACHE", str(tmp_path / "cache"))
    folder = dogcat.synthetic_dogcat(None, n=6, size=16, seed=1)
    assert folder.is_relative_to(tmp_path / "cache") and len(dogcat.find_images(folder)) == 6
    mtime = (folder / "cat.0.jpg").stat().st_mtime_ns
    assert dogcat.synthetic_dogcat(None, n=6, size=16, seed=1) == folder
    assert (folder / "cat.0.jpg").stat().st_mtime_ns == mtime


def test_resolve_data_root_order(tmp_path, monkeypatch):
    monkeypatch.setenv("DOGCAT_DATA", str(tmp_path / "env"))
    monkeypatch.setattr(dogcat, "SHARED_SAMPLE", tmp_path / "shared")
    (tmp_path / "shared").mkdir()
    root, source = dogcat.resolve_data_root(str(tmp_path / "cli"))
    assert root == tmp_path / "cli" and "--data" in source
    root, source = dogcat.resolve_data_root(None)
    assert root == tmp_path / "env" and "DOGCAT_DATA" in source
    monkeypatch.delenv("DOGCAT_DATA")
    root, source = dogcat.resolve_data_root()
    assert root == tmp_path / "shared" and "shared" in source
    monkeypatch.setattr(dogcat, "SHARED_SAMPLE", tmp_path / "absent")
    root, source = dogcat.resolve_data_root()
    assert root is None and "SYNTHETIC" in source


def test_shared_sample_path_is_beside_the_repository():
    repo = Path(dogcat.__file__).resolve().parents[2]
    assert (repo / "nnlab" / "dogcat" / "data.py").is_file()
    assert dogcat.SHARED_SAMPLE == repo.parent / "shared" / "data" / "dogs-vs-cats-200px" / "train"


# ---------------------------------------------------------------------------------------
# The shared 4,000-photo Kaggle sample, decoded once for the module


@pytest.fixture(scope="module")
def shared_loaded(tmp_path_factory):
    if not dogcat.SHARED_SAMPLE.is_dir():
        pytest.skip(f"shared dog/cat sample not found at {dogcat.SHARED_SAMPLE}")
    cache_dir = tmp_path_factory.mktemp("dogcat-cache")
    return dogcat.load_dogcat(dogcat.SHARED_SAMPLE, cache_dir=cache_dir, workers=2, progress=False), cache_dir


def test_shared_sample_has_4000_balanced_photos(shared_dogcat, shared_loaded):
    data, _ = shared_loaded
    assert data.layout == "Kaggle" and not data.skipped
    assert data.images.shape == (4000, 3, 100, 100) and data.images.dtype == np.uint8
    assert data.class_counts() == {"cat": 2000, "dog": 2000}
    assert all(Path(p).name.startswith("dog." if label else "cat.") for p, label in zip(data.paths, data.labels))
    train, val = dogcat.stratified_split(data.labels, 0.2, seed=0)
    assert len(train) == 3200 and len(val) == 800 and data.labels[val].sum() == 400
    assert 60 < data.images[::97].mean() < 200  # real photos, not blank rows


def test_shared_sample_second_load_is_a_cache_hit(shared_dogcat, shared_loaded, monkeypatch):
    data, cache_dir = shared_loaded
    monkeypatch.setattr(dogcat_decode, "decode_image", CountingDecoder(raise_on_call=1, error=AssertionError))
    again = dogcat.load_dogcat(shared_dogcat, cache_dir=cache_dir, progress=False)
    assert again.from_cache and again.paths == data.paths
    np.testing.assert_array_equal(again.images[::50], data.images[::50])


def test_shared_sample_draft_decode_matches_plain_resize(shared_dogcat, shared_loaded):
    data, _ = shared_loaded
    picks = range(0, 4000, 100)
    diffs = [np.abs(data.images[i].astype(int) - dogcat.decode_image_baseline(data.paths[i]).astype(int)).mean()
             for i in picks]
    assert np.mean(diffs) < 2.0 and max(diffs) < 5.0


# ---------------------------------------------------------------------------------------
# Batch reads from the memory-mapped cache


def _rss_file_kb() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssFile:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def test_batch_reader_equals_fancy_indexing_and_maps_no_file_pages(tmp_path):
    rng = np.random.default_rng(0)
    n, size = 2000, 40  # 9.6 MB of rows
    images = rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8)
    path = tmp_path / "cache.npy"
    np.save(path, images)
    mapped = np.load(path, mmap_mode="r")
    reader = dogcat.BatchReader(mapped)
    assert reader.positional
    cases = [np.arange(5, 133), rng.permutation(n)[:128], np.array([7, 7, 8, 9, 3, 3, 1999, 0, -1]),
             np.array([], dtype=np.int64), np.array([0]), np.arange(n - 3, n)]
    for idx in cases:
        np.testing.assert_array_equal(reader.read(idx), images[idx])
        out = np.empty((len(idx), 3, size, size), np.uint8)
        assert reader.read(idx, out=out) is out
        np.testing.assert_array_equal(out, images[idx])
    with pytest.raises(IndexError):
        reader.read([n])
    # in memory, and a slice of the map (its offset is the parent's): plain indexing
    for other, ref in ((images, images), (mapped[10:], images[10:])):
        plain = dogcat.BatchReader(other)
        assert not plain.positional
        for idx in cases[:3]:
            idx = idx[idx < len(ref)]
            np.testing.assert_array_equal(plain.read(idx), ref[idx])

    # reads copy from the page cache: the process maps none of the file, unlike a gather
    before = _rss_file_kb()
    if before is None:
        pytest.skip("no /proc/self/status")
    order = rng.permutation(n)
    for s in range(0, n, 128):
        reader.read(order[s:s + 128])
    after_reader = _rss_file_kb()
    fresh = np.load(path, mmap_mode="r")
    for s in range(0, n, 128):
        fresh[np.sort(order[s:s + 128])]
    after_gather = _rss_file_kb()
    assert after_reader - before < 2000  # KB: nothing like the 9.6 MB file
    assert after_gather - after_reader > 5000
    reader.close()
