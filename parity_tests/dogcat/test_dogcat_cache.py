"""The decoded-image cache: memory-mapped reuse, rebuilds, interrupted and failed builds, its folder,
and batches read from it without mapping its pages."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from nnlab.dogcat import cache as dogcat_cache
from nnlab.dogcat import data as dogcat
from nnlab.dogcat import decode as dogcat_decode
from parity_tests.dogcat.photos import CountingDecoder, build_messy_petimages, make_kaggle, write_photo


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
