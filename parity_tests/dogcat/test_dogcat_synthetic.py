"""The synthetic stand-in set: deterministic, learnable, in the Kaggle layout, written once."""

import numpy as np
from PIL import Image

from nnlab.dogcat import data as dogcat


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
