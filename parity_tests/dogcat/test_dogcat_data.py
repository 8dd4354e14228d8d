"""Which data a run trains on: the stratified split, the order of data sources, and the shared
4,000-photo Kaggle sample (those tests skip when it is absent and decode it once per module)."""

from pathlib import Path

import numpy as np
import pytest

from nnlab.dogcat import data as dogcat
from nnlab.dogcat import decode as dogcat_decode
from parity_tests.dogcat.photos import CountingDecoder


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
