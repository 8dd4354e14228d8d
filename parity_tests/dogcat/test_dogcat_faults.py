"""The data pipeline under faults and hostile input: a killed first decode, a full disk, symlink loops,
FIFOs and devices, a damaged cache, 16-bit and floating-point images, and decompression bombs."""

import errno
import json
import os
import re
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnlab.dogcat import buildlock
from nnlab.dogcat import cache as dogcat_cache
from nnlab.dogcat import data as dogcat
from nnlab.dogcat import decode as dogcat_decode
from nnlab.dogcat import diskspace
from parity_tests.dogcat.photos import make_kaggle, write_photo
from parity_tests.scripts import load_script

REPO = Path(__file__).resolve().parents[2]
LINUX = sys.platform.startswith("linux")


def in_thread(fn, timeout=30.0):
    """``fn()`` in a daemon thread: its result, or a failure if it has not returned after ``timeout`` s
    (a hang fails the test instead of stopping the suite)."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still running after {timeout} s: it hangs"
    if "error" in box:
        raise box["error"]
    return box["value"]


def leftovers(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir() if ".tmp" in p.name)


# -- 1. a killed first decode ------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has died and only waits to be reaped


FIRST_PASS = textwrap.dedent("""
    import sys, time
    from nnlab.dogcat import cache, decode
    real = decode.decode_image
    def slow(path, size=100):  # forked workers inherit it: the pass lasts long enough to be killed
        time.sleep(0.05)
        return real(path, size)
    decode.decode_image = slow
    cache.load_dogcat(sys.argv[1], size=8, cache_dir=sys.argv[2], workers=2, progress=False)
""")


@pytest.mark.skipif(not LINUX, reason="reads /proc to find the decode workers")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "kill-TERM"])
def test_killing_the_first_decode_leaves_no_worker_no_lock_and_the_rerun_builds(tmp_path, sig):
    root = make_kaggle(tmp_path / "data", 12, 12, width=16, height=16)
    cache_dir = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", FIRST_PASS, str(root), str(cache_dir)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        workers = []
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            workers = _children(proc.pid)
        assert len(workers) == 2, "the two decode workers did not start"
        time.sleep(0.2)  # mid-pass
        os.kill(proc.pid, sig)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "decode workers outlived their killed parent"

    loaded = in_thread(lambda: dogcat.load_dogcat(root, size=8, cache_dir=cache_dir, workers=1, progress=False))
    assert not loaded.from_cache and len(loaded) == 24
    assert leftovers(cache_dir) == []  # the killed build's temporary file is gone


LOCK_HOLDER = textwrap.dedent("""
    import sys, time
    from nnlab.dogcat.buildlock import build_lock
    with build_lock(sys.argv[1], "a test", print):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


@pytest.mark.skipif(buildlock.fcntl is None, reason="builds are not serialised without fcntl")
def test_a_run_waiting_for_another_build_says_so_and_how_long(tmp_path, monkeypatch, caplog):
    root = make_kaggle(tmp_path / "data", 2, 2, width=16, height=16)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    lock = cache_dir / f"{dogcat_cache.cache_slot(root, 8)}.lock"
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(lock), "0.8"], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(buildlock, "WAIT_REPORT_SECONDS", 0.3)
        monkeypatch.setattr(buildlock, "POLL_SECONDS", 0.05)
        loaded = in_thread(lambda: dogcat.load_dogcat(root, size=8, cache_dir=cache_dir, progress=False))
    finally:
        holder.wait(10)
    assert len(loaded) == 4
    assert f"waiting for process {holder.pid}, which is building the image cache of {root}" in caplog.text
    assert "s so far" in caplog.text and "the lock is free after" in caplog.text


# -- 2. a full disk while building the cache -------------------------------------------------------

def test_a_full_disk_is_one_clear_error_and_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    root = make_kaggle(tmp_path / "data", 3, 3, width=16, height=16)
    cache_dir = tmp_path / "cache"

    def no_room(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", no_room, raising=False)
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 5000)
    with pytest.raises(diskspace.NoSpaceError) as failure:
        dogcat.load_dogcat(root, size=32, cache_dir=cache_dir, workers=1, progress=False)
    needed = 6 * 3 * 32 * 32 + 128  # the rows and the .npy header
    message = f"no space left for the image cache in {cache_dir} (needs {needed / 1e3:.1f} kB, 5.0 kB free)"
    assert str(failure.value) == message
    assert leftovers(cache_dir) == []
    script = load_script("train_dogcat")  # the trainer: that line, exit status 2, no traceback
    assert script.main(["--data", str(root), "--cache-dir", str(cache_dir), "--image-size", "32", "--no-progress",
                        "--logdir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"error: {message}\n" in err and "Traceback" not in err and leftovers(cache_dir) == []


def _mount_tmpfs(where: Path, size: str, options: str = "") -> bool:
    if not LINUX or os.geteuid() != 0:
        return False
    where.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"{options}size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


FILL_CACHE = textwrap.dedent("""
    import sys
    from nnlab.dogcat.cache import load_dogcat
    try:
        load_dogcat(sys.argv[1], size=100, cache_dir=sys.argv[2], workers=2, progress=False)
    except OSError as error:
        print(error)
        sys.exit(2)
""")


def test_a_real_full_tmpfs_is_the_same_clear_error(tmp_path):
    """On a real 1 MB filesystem (a bus error, exit 135, and a temporary file left behind before)."""
    small = tmp_path / "small"
    if not _mount_tmpfs(small, "1m"):
        pytest.skip("mounting a tmpfs needs root and a kernel that allows it here")
    try:
        root = make_kaggle(tmp_path / "data", 24, 24, width=32, height=32)  # 48 x 30 kB > 1 MB
        proc = subprocess.run([sys.executable, "-c", FILL_CACHE, str(root), str(small)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert re.fullmatch(rf"no space left for the image cache in {small} \(needs 1\.4 MB, 1\.0 MB free\)\n",
                            proc.stdout), proc.stdout + proc.stderr
        assert os.listdir(small) == [f"{dogcat_cache.cache_slot(root, 100)}.lock"]  # no temporary file
    finally:
        subprocess.run(["umount", str(small)], check=False)


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX permissions")
def test_a_read_only_cache_folder_says_what_to_pass(tmp_path):
    """A folder without write permission; for root, who writes through permission bits, a read-only filesystem."""
    root = make_kaggle(tmp_path / "data", 2, 2, width=16, height=16)
    locked = tmp_path / "ro"
    as_root = os.geteuid() == 0
    if as_root:
        if not _mount_tmpfs(locked, "1m", options="ro,"):
            pytest.skip("root writes into any folder, and mounting a read-only tmpfs is not allowed here")
        why = "Read-only file system"
    else:
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        why = "Permission denied"
    try:
        with pytest.raises(dogcat_cache.CacheError, match=rf"cannot write the image cache in .*/ro(/sub)?: {why}; "
                                                          r"pass --cache-dir"):
            dogcat.load_dogcat(root, size=8, cache_dir=locked / "sub", progress=False)
    finally:
        if as_root:
            subprocess.run(["umount", str(locked)], check=False)
        else:
            locked.chmod(stat.S_IRWXU)


def test_an_unwritable_cache_folder_says_what_to_pass(tmp_path):
    root = make_kaggle(tmp_path / "data", 2, 2, width=16, height=16)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(dogcat_cache.CacheError, match=r"cannot write the image cache in .*file/cache: Not a "
                                                      r"directory; pass --cache-dir \(or set \$DOGCAT_CACHE\)"):
        dogcat.load_dogcat(root, size=8, cache_dir=tmp_path / "file" / "cache", progress=False)


# -- 3. symlink loops, dangling links, FIFOs and devices ---------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs symlinks and FIFOs")
@pytest.mark.parametrize("layout", ["class folders", "Kaggle"])
def test_links_and_fifos_are_skipped_and_counted_never_opened(tmp_path, layout):
    root = tmp_path / "data"
    if layout == "Kaggle":
        make_kaggle(root, 2, 2, width=16, height=16)
        loop, dangling, fifo = root / "cat.9.jpg", root / "dog.9.jpg", root / "dog.10.jpg"
    else:
        for i in range(2):
            write_photo(root / "cat" / f"{i}.jpg", seed=i, width=16, height=16)
            write_photo(root / "dog" / f"{i}.jpg", seed=10 + i, width=16, height=16)
        loop, dangling, fifo = root / "cat" / "loop.jpg", root / "dog" / "dangling.jpg", root / "dog" / "fifo.jpg"
        (root / "cat" / "up").symlink_to("..")  # a folder loop: not followed
    loop.symlink_to(loop.name)
    dangling.symlink_to("nowhere.jpg")
    os.mkfifo(fifo)
    loaded = in_thread(lambda: dogcat.load_dogcat(root, size=8, cache_dir=tmp_path / "cache", progress=False))
    assert len(loaded) == 4 and loaded.layout == layout
    assert dict(loaded.skipped) == {str(loop): "symlink loop",
                                    str(dangling): "dangling symlink (to nowhere.jpg, which does not exist)",
                                    str(fifo): "not a regular file (a FIFO)"}
    assert "3 unreadable files skipped" in loaded.summary()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_decode_reads_only_regular_files_up_to_the_size_limit(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "fifo.jpg")
    with pytest.raises(dogcat.UnreadableImageError, match=r"not a regular file \(a FIFO\)"):
        in_thread(lambda: dogcat.decode_image(tmp_path / "fifo.jpg"), timeout=10)
    if Path("/dev/zero").exists():
        with pytest.raises(dogcat.UnreadableImageError, match=r"not a regular file \(a character device\)"):
            in_thread(lambda: dogcat.decode_image("/dev/zero"), timeout=10)
    with pytest.raises(dogcat.UnreadableImageError, match=r"not a regular file \(a folder\)"):
        dogcat.decode_image(tmp_path)
    photo = write_photo(tmp_path / "big.png", width=64, height=64)
    monkeypatch.setattr(dogcat_decode, "MAX_FILE_BYTES", photo.stat().st_size - 1)
    with pytest.raises(dogcat.UnreadableImageError, match="file too large"):
        dogcat.decode_image(photo)


# -- 4. a damaged cache ------------------------------------------------------------------------

def _damage_header(npy: Path) -> None:
    raw = bytearray(npy.read_bytes())
    end = raw.index(b"}")
    raw[end - 3:end + 1] = b"(((("  # same length: an unterminated tuple in the header dict
    npy.write_bytes(bytes(raw))


def _null_skipped(meta: Path) -> None:
    data = json.loads(meta.read_text())
    data["skipped"] = None
    meta.write_text(json.dumps(data))


def _string_labels(meta: Path) -> None:
    data = json.loads(meta.read_text())
    data["labels"] = [str(v) for v in data["labels"]]
    meta.write_text(json.dumps(data))


@pytest.mark.parametrize("damage, why", [
    (lambda stem: _damage_header(stem.with_suffix(".npy")), ".npy cannot be read"),
    (lambda stem: _null_skipped(stem.with_suffix(".json")), "wrong or missing skipped"),
    (lambda stem: _string_labels(stem.with_suffix(".json")), "wrong or missing labels"),
    (lambda stem: stem.with_suffix(".json").write_text("{not json"), "is not valid JSON"),
], ids=["npy-header", "skipped-null", "labels-strings", "json-syntax"])
def test_a_damaged_cache_is_rebuilt_with_one_line_saying_why(tmp_path, caplog, damage, why):
    root = make_kaggle(tmp_path / "data", 3, 3, width=16, height=16)
    (root / "dog.7.jpg").write_bytes(b"")  # so "skipped" is not empty
    first = dogcat.load_dogcat(root, size=8, cache_dir=tmp_path / "cache", progress=False)
    damage(first.cache_path.with_suffix(""))
    caplog.clear()
    again = dogcat.load_dogcat(root, size=8, cache_dir=tmp_path / "cache", progress=False)
    assert not again.from_cache
    np.testing.assert_array_equal(again.images, first.images)
    assert again.skipped == first.skipped and again.labels.tolist() == first.labels.tolist()
    lines = [r.getMessage() for r in caplog.records if "is damaged (" in r.getMessage()]
    assert len(lines) == 1 and why in lines[0] and first.cache_path.stem in lines[0]
    assert dogcat.load_dogcat(root, size=8, cache_dir=tmp_path / "cache", progress=False).from_cache


# -- 8. high bit depths ----------------------------------------------------------------------------

def test_16_bit_png_is_scaled_not_clipped_to_white(tmp_path):
    values = (np.arange(16 * 16, dtype=np.uint32).reshape(16, 16) * 257).astype(np.uint16)  # 0, 257, … 65535
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    decoded = dogcat.decode_image(tmp_path / "deep.png", size=16)
    expected = np.arange(256, dtype=np.uint8).reshape(16, 16)  # v/257
    for channel in decoded:
        np.testing.assert_array_equal(channel, expected)


@pytest.mark.parametrize("scale, expected_top", [(1.0, 255), (255.0, 255), (0.5, 128)])
def test_floating_point_tiff_is_scaled_not_black(tmp_path, scale, expected_top):
    ramp = np.linspace(0.0, scale, 16 * 16, dtype=np.float32).reshape(16, 16)
    Image.fromarray(ramp, "F").save(tmp_path / "float.tif")
    decoded = dogcat.decode_image(tmp_path / "float.tif", size=16)
    top = 1.0 if scale <= 1.0 else 255.0
    expected = np.rint(ramp.astype(np.float64) * (255.0 / top)).astype(np.uint8)
    np.testing.assert_array_equal(decoded[1], expected)
    assert decoded.max() == expected_top


def test_32_bit_integers_outside_the_usual_ranges_are_stretched(tmp_path):
    values = np.linspace(-1000, 3_000_000, 16 * 16).astype(np.int32).reshape(16, 16)
    Image.fromarray(values, "I").save(tmp_path / "wide.tif")
    decoded = dogcat.decode_image(tmp_path / "wide.tif", size=16)
    lo, hi = float(values.min()), float(values.max())
    np.testing.assert_array_equal(decoded[2], np.rint((values - lo) * (255.0 / (hi - lo))).astype(np.uint8))


# -- 11. decompression bombs -----------------------------------------------------------------------

def write_bomb_png(path: Path, width: int, height: int) -> Path:
    """A grey PNG of ``width`` x ``height`` zeros, streamed (the file is small, the image is not)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"\x00" * (width + 1) * 64
    packer = zlib.compressobj(1)
    body = b"".join(packer.compress(rows[:(width + 1) * min(64, height - y)]) for y in range(0, height, 64))
    body += packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_below_pillows_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    bomb = write_bomb_png(tmp_path / "cat.bomb.png", 13000, 13000)
    assert bomb.stat().st_size < 1_000_000 and 13000 * 13000 < 2 * Image.MAX_IMAGE_PIXELS  # Pillow would decode it

    def no_pixels(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", no_pixels)
    monkeypatch.setattr(Image.Image, "convert", no_pixels)
    with pytest.raises(dogcat.UnreadableImageError, match=r"image too large to decode: 13000x13000 = 169 MP .* over "
                                                          r"the 24 MP bound"):
        dogcat.decode_image(bomb)
    monkeypatch.undo()
    make_kaggle(tmp_path, 2, 2, width=16, height=16)
    loaded = dogcat.load_dogcat(tmp_path, size=8, cache_dir=tmp_path / "cache", progress=False)
    assert len(loaded) == 4 and "cat.bomb.png: image too large to decode" in loaded.summary()


def test_images_above_the_bound_are_reduced_before_conversion_and_match_the_plain_resize(tmp_path):
    rng = np.random.default_rng(0)
    big = np.clip(rng.normal(128, 40, (300, 420, 4)), 0, 255).astype(np.uint8)
    big[..., 3] = 255
    Image.fromarray(big, "RGBA").save(tmp_path / "big.png")
    decoded = dogcat.decode_image(tmp_path / "big.png", size=20).transpose(1, 2, 0).astype(int)
    plain = np.asarray(Image.fromarray(big[..., :3]).resize((20, 20), Image.Resampling.BICUBIC, reducing_gap=3.0))
    assert np.abs(decoded - plain.astype(int)).max() <= 1
