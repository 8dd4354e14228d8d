"""Small photo folders for the pipeline tests: smooth photo-like images, Kaggle and messy PetImages
layouts, and a decoder stand-in that counts its calls."""

from pathlib import Path

import numpy as np
from PIL import Image

from nnlab.dogcat import decode as dogcat_decode


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


def make_coloured_classes(root: Path, n: int = 12, size: int = 24) -> Path:
    """``n`` cats (blue) and ``n`` dogs (red) as ``size``x``size`` JPEGs in class folders ``cat/`` and ``dog/``:
    a task a model learns in a few steps."""
    rng = np.random.default_rng(0)
    for cls, channel in (("cat", 2), ("dog", 0)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 120, (size, size, 3)).astype(np.uint8)
            img[..., channel] += 120
            Image.fromarray(img).save(root / cls / f"{i}.jpg")
    return root


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
