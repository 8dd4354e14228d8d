"""The dog/cat photos as one memory-mapped uint8 array, decoded once and cached on disk.

Cache format, in ``cache_dir`` (``$DOGCAT_CACHE``, else ``$XDG_CACHE_HOME/nn-twins/dogcat``,
else ``~/.cache/nn-twins/dogcat``), two files per data folder and image size::

    dogcat-<folder hash>-<size>px-<content key>.npy   uint8 (N, 3, size, size), RGB, channels first
    dogcat-<folder hash>-<size>px-<content key>.json  labels, file list, skipped files, layout

The content key hashes the sorted relative file list with each file's label, byte size and
mtime, the image size, and the decoder's identity, so an added, removed, replaced or
touched file (or a new decoder) gives a new key and a rebuild; the stale pair is deleted.
Both files are written under temporary names and moved into place with ``os.replace``
(images first, the JSON last, so a JSON always describes a complete ``.npy``): an
interrupted build leaves no cache, never a partial one. The image file's bytes are
reserved on disk before decoding starts, so a full disk is one clear error, not a bus
error from the memory map. A lock (:mod:`~nnlab.dogcat.buildlock`) serialises builds of one
folder, so parallel training processes decode it once, and dies with its holder.

Entries that are not regular files (symlink loops, dangling links, FIFOs, devices) are
skipped and counted with the unreadable images, never opened. A cache pair that exists but
does not read back (a damaged ``.npy`` header, JSON with wrong types) is a cache miss: one
line says why, and it is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import mmap
import os
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import decode as _decode
from .buildlock import build_lock
from .diskspace import NoSpaceError, reserve
from .layouts import DOG, DataLayoutError, scan_layout

CACHE_FORMAT = 1
logger = logging.getLogger("nnlab.dogcat")


class CacheError(OSError):
    """The image cache cannot be written (a read-only or missing folder); the message says what to pass."""


def default_cache_dir() -> Path:
    """``$DOGCAT_CACHE``, else ``$XDG_CACHE_HOME/nn-twins/dogcat``, else ``~/.cache/nn-twins/dogcat``."""
    if os.environ.get("DOGCAT_CACHE"):
        return Path(os.environ["DOGCAT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "nn-twins" / "dogcat"


@dataclass
class DogCatData:
    """Decoded photos: ``images[i]`` is ``paths[i]`` as uint8 ``(3, size, size)``, ``labels[i]`` 1 = dog, 0 = cat.

    ``images`` is a read-only memory map of the cache file: slicing a batch reads only it.
    ``skipped`` lists ``(path, reason)`` for files that could not be decoded.
    """

    images: np.ndarray
    labels: np.ndarray
    paths: list[str]
    skipped: list[tuple[str, str]]
    size: int
    root: Path | None = None
    layout: str = ""
    cache_path: Path | None = None
    from_cache: bool = False
    seconds: float = 0.0
    fingerprint: str | None = None  # relative paths, labels and byte sizes: the same photos wherever they lie

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        dogs = int(np.count_nonzero(self.labels == DOG))
        return {"cat": len(self.labels) - dogs, "dog": dogs}

    def summary(self) -> str:
        """One line: how many images of each class, where from, and the unreadable files skipped."""
        counts = self.class_counts()
        how = "from cache" if self.from_cache else f"decoded in {self.seconds:.1f} s"
        line = (
            f"dogcat: {len(self)} images ({counts['dog']} dogs, {counts['cat']} cats) at {self.size}x{self.size}, "
            f"{self.layout} layout in {self.root}, {how}"
        )
        if self.skipped:
            shown = "; ".join(f"{Path(p).name}: {reason}" for p, reason in self.skipped[:3])
            more = f"; and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
            line += f"; {len(self.skipped)} unreadable files skipped ({shown}{more})"
        else:
            line += "; no unreadable files"
        return line


def _relative(root: Path, path: str) -> str:
    """``path`` below ``root`` in POSIX form (scan_layout joins onto ``str(root)``, so a prefix cut is exact)."""
    return path[len(os.path.join(str(root), "")):].replace(os.sep, "/")


def _inspect(root: Path, items, size: int):
    """``(content key, fingerprint, regular files, {path: reason} for the rest)`` of the scanned items.

    Each entry is stat-ed once, following links: a symlink loop, a dangling link or anything
    that is not a regular file (FIFO, device, socket) is set aside with its reason, never opened.
    """
    lines = [f"nnlab-dogcat v{CACHE_FORMAT} size={size} {_decode.decoder_id()}"]
    same_photos = []
    regular, unusable = [], {}
    for path, label in items:
        rel = _relative(root, path)
        try:
            st = os.stat(path)
            reason = None if stat.S_ISREG(st.st_mode) else f"not a regular file ({_decode.file_kind(st.st_mode)})"
        except OSError as error:
            st, reason = None, _decode.os_reason(path, error)
        if reason is None:
            regular.append((path, label))
            lines.append(f"{rel}\0{label}\0{st.st_size}\0{st.st_mtime_ns}")
            same_photos.append(f"{rel}\0{label}\0{st.st_size}")
        else:
            unusable[path] = reason
            lines.append(f"{rel}\0{label}\0!{reason}")
    key = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20]
    fingerprint = hashlib.sha256("\n".join(same_photos).encode()).hexdigest()[:20]
    return key, fingerprint, regular, unusable


def cache_slot(root, size: int) -> str:
    """The name every cache file of ``root`` at ``size`` starts with (its lock is ``<slot>.lock``)."""
    return f"dogcat-{hashlib.sha256(str(Path(root).expanduser().resolve()).encode()).hexdigest()[:12]}-{size}px"


def _npy_header(shape) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": tuple(shape)})
    return buffer.getvalue()


def _write_replace(final: Path, write) -> None:
    """Call ``write(tmp_path)``, fsync, then ``os.replace`` onto ``final``; no temp file survives a failure
    (a killed process's is removed by the next build, under the lock)."""
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class BatchReader:
    """Gathers ``images[indices]`` into a reused uint8 buffer.

    For the cache's memory map (``np.load(path, mmap_mode="r")``) the rows are read with
    positional reads (``os.preadv``) from the ``.npy`` file, runs of consecutive indices in
    one read: the file's pages are copied from the page cache and never mapped into the
    process, so they do not count in its resident set as a memory-map gather's do. Any
    other array (in memory, a slice of a map) is gathered by plain indexing.

    ``read(indices)`` returns a view of an internal buffer that the next call overwrites;
    pass ``out`` for an array of your own.
    """

    def __init__(self, images) -> None:
        self.images = images
        self.row_shape = tuple(images.shape[1:])
        self.dtype = images.dtype
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self.path = None
        self.offset = 0
        # only the map np.load made (its base is the mmap itself, so its offset is the rows'):
        # a slice of it keeps the parent's filename and offset but starts elsewhere
        if (isinstance(images, np.memmap) and isinstance(images.base, mmap.mmap)
                and getattr(images, "filename", None) and images.flags.c_contiguous
                and hasattr(os, "pread")):
            self.path, self.offset = images.filename, int(images.offset)
        self._fd = None
        self._pid = None
        self._buf = np.empty((0, *self.row_shape), dtype=self.dtype)

    @property
    def positional(self) -> bool:
        """True when rows are read from the file rather than indexed in memory."""
        return self.path is not None

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            self._fd, self._pid = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0)), os.getpid()
        return self._fd

    def _buffer(self, n: int) -> np.ndarray:
        if len(self._buf) < n:
            self._buf = np.empty((n, *self.row_shape), dtype=self.dtype)
        return self._buf[:n]

    def read(self, indices, out: np.ndarray | None = None) -> np.ndarray:
        """``images[indices]`` as a ``(len(indices), *row shape)`` array (``out`` if given)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n, count = len(idx), len(self.images)
        if out is None:
            out = self._buffer(n)
        elif out.shape != (n, *self.row_shape) or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise ValueError(f"out: expected a C-contiguous {self.dtype} array of shape {(n, *self.row_shape)}")
        if n == 0:
            return out
        if idx.min() < -count or idx.max() >= count:
            raise IndexError(f"index out of range for {count} images")
        idx = np.where(idx < 0, idx + count, idx)
        if not self.positional:
            return np.take(self.images, idx, axis=0, out=out)
        fd = self._file()
        flat = out.reshape(n, -1).view(np.uint8)
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1  # runs of consecutive indices
        starts = np.concatenate(([0], breaks)).tolist()
        ends = np.concatenate((breaks, [n])).tolist()
        first = idx[starts].tolist()
        for a, b, row in zip(starts, ends, first):
            _pread_into(fd, memoryview(flat[a:b]).cast("B"), self.offset + row * self.row_bytes)
        return out

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_fd=None, _pid=None, _buf=np.empty((0, *self.row_shape), dtype=self.dtype))
        return state


def _pread_into(fd: int, view: memoryview, offset: int) -> None:
    """Fill ``view`` from ``fd`` at ``offset``, however many reads it takes."""
    done, size = 0, len(view)
    while done < size:
        if hasattr(os, "preadv"):
            got = os.preadv(fd, [view[done:]], offset + done)
        else:
            chunk = os.pread(fd, size - done, offset + done)
            got = len(chunk)
            view[done:done + got] = chunk
        if got == 0:
            raise OSError(f"unexpected end of the image cache file at byte {offset + done}")
        done += got


def _meta_problem(meta, key: str) -> str | None:
    """What is wrong with a cache description read back, or None when every field has its type."""
    if not isinstance(meta, dict):
        return f"its description is a JSON {type(meta).__name__}, not an object"
    if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
        return f"its description names format {meta.get('format')!r} and key {meta.get('key')!r}"
    paths, labels, skipped = meta.get("paths"), meta.get("labels"), meta.get("skipped")
    checks = (
        ("paths", isinstance(paths, list) and all(isinstance(p, str) for p in paths)),
        ("labels", isinstance(labels, list) and all(type(v) is int and v in (0, 1) for v in labels)
         and isinstance(paths, list) and len(labels) == len(paths)),
        ("skipped", isinstance(skipped, list) and all(isinstance(e, list) and len(e) == 2
                                                      and all(isinstance(x, str) for x in e) for e in skipped)),
        ("npy_bytes", type(meta.get("npy_bytes")) is int),
    )
    bad = [name for name, ok in checks if not ok]
    return f"its description has a wrong or missing {', '.join(bad)}" if bad else None


def _open_cache(stem: Path, key: str, size: int):
    """``((images, meta), None)`` for a good cache; ``(None, None)`` when there is none; ``(None, why)``
    when one exists but does not read back."""
    meta_path, images_path = stem.with_suffix(".json"), stem.with_suffix(".npy")
    try:
        text = meta_path.read_text()
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as error:
        return None, f"its description {meta_path.name} cannot be read ({error})"
    try:
        meta = json.loads(text)
    except ValueError as error:
        return None, f"its description {meta_path.name} is not valid JSON ({error})"
    problem = _meta_problem(meta, key)
    if problem:
        return None, problem
    try:
        if images_path.stat().st_size != meta["npy_bytes"]:
            return None, f"{images_path.name} has {images_path.stat().st_size} bytes, not {meta['npy_bytes']}"
        images = np.load(images_path, mmap_mode="r")
    except Exception as error:  # a damaged header raises ValueError, SyntaxError, tokenize.TokenError, …
        return None, f"{images_path.name} cannot be read ({type(error).__name__}: {error})"
    if images.dtype != np.uint8 or images.shape != (len(meta["paths"]), 3, size, size):
        return None, (f"{images_path.name} holds {images.dtype} {images.shape}, not uint8 "
                      f"{(len(meta['paths']), 3, size, size)}")
    return (images, meta), None


def _build_images(tmp: Path, paths, size: int, workers, progress) -> dict[int, str]:
    """Decode ``paths`` into the ``.npy`` at ``tmp``, compacting out unreadable files; returns them."""
    n = len(paths)
    header = _npy_header((n, 3, size, size))
    row = 3 * size * size
    with open(tmp, "wb") as f:
        f.write(header)
        f.flush()
        reserve(f.fileno(), len(header) + n * row, "the image cache", tmp.parent)  # no holes to fault on later
    failures = _decode.decode_into(tmp, len(header), paths, size, workers, progress)
    if failures:
        keep = [i for i in range(n) if i not in failures]
        rows = np.memmap(tmp, dtype=np.uint8, mode="r+", offset=len(header), shape=(n, 3, size, size))
        for dest, src in enumerate(keep):  # dest <= src: moving rows down never overwrites one still needed
            if dest != src:
                rows[dest] = rows[src]
        rows.flush()
        del rows
        new_header = _npy_header((len(keep), 3, size, size))
        if len(new_header) != len(header):  # numpy pads the header so this does not happen; stay correct anyway
            data = np.fromfile(tmp, dtype=np.uint8, count=len(keep) * row, offset=len(header))
            with open(tmp, "wb") as f:
                np.save(f, data.reshape(len(keep), 3, size, size), allow_pickle=False)
        else:
            with open(tmp, "rb+") as f:
                f.write(new_header)
                f.truncate(len(header) + len(keep) * row)
    return failures


def load_dogcat(root, size: int = 100, cache_dir=None, workers=None, progress=True, rebuild=False) -> DogCatData:
    """Photos under ``root`` (any accepted layout) as a memory-mapped uint8 ``(N, 3, size, size)`` array.

    The first call decodes every file in parallel (``workers`` processes, default one per
    core) with a progress bar and writes the cache (see the module docstring); later calls
    with an unchanged folder open the cache without decoding anything, and ``rebuild=True``
    forces a fresh pass. Unreadable files are skipped, listed in ``skipped`` and counted in
    one summary line, printed to stderr when ``progress`` is on and logged as a warning
    otherwise. Raises DataLayoutError for a missing, empty or one-class folder, including a
    folder where every image of one class is unreadable.
    """
    root = Path(root).expanduser()
    layout, items = scan_layout(root)
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    key, fingerprint, regular, unusable = _inspect(root, items, size)
    slot = cache_slot(root, size)
    stem = cache_dir / f"{slot}-{key}"
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else logger.warning

    start = time.perf_counter()
    from_cache = True
    opened, damage = (None, None) if rebuild else _open_cache(stem, key, size)
    if opened is None:
        if damage:
            say(f"the image cache {stem.name} is damaged ({damage}); rebuilding it")
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            with build_lock(cache_dir / f"{slot}.lock", f"the image cache of {root}", say):
                opened, damage = (None, None) if rebuild else _open_cache(stem, key, size)  # built meanwhile?
                if opened is None:
                    from_cache = False
                    for orphan in cache_dir.glob(f".{slot}-*.tmp-*"):  # left by a killed build; we hold the lock
                        with contextlib.suppress(FileNotFoundError):
                            orphan.unlink()
                    _build_cache(stem, key, root, layout, regular, unusable, size, workers, progress)
                    for stale in cache_dir.glob(f"{slot}-*"):  # caches of this folder's earlier contents
                        if not stale.name.startswith(stem.name):
                            with contextlib.suppress(FileNotFoundError):
                                stale.unlink()
                    opened, damage = _open_cache(stem, key, size)
                    if opened is None:
                        raise RuntimeError(f"the cache just written at {stem}.npy does not read back: {damage}")
        except (NoSpaceError, CacheError):
            raise
        except OSError as error:  # the folder is read-only, missing, or not a folder
            failure = CacheError(f"cannot write the image cache in {cache_dir}: {error.strerror or error}; pass "
                                 "--cache-dir (or set $DOGCAT_CACHE) to a folder you can write")
            failure.errno = error.errno
            raise failure from error
    images, meta = opened

    data = DogCatData(
        images=images,
        labels=np.asarray(meta["labels"], dtype=np.int64),
        paths=[os.path.join(root, rel) for rel in meta["paths"]],
        skipped=[(os.path.join(root, rel), reason) for rel, reason in meta["skipped"]],
        size=size,
        root=root,
        layout=layout,
        cache_path=stem.with_suffix(".npy"),
        from_cache=from_cache,
        seconds=time.perf_counter() - start,
        fingerprint=fingerprint,
    )
    missing = {"dog", "cat"} - {name for name, count in data.class_counts().items() if count}
    if missing:
        raise DataLayoutError(
            f"no readable {' or '.join(sorted(missing))} images in {root}: {len(data.skipped)} of "
            f"{len(data) + len(data.skipped)} files could not be decoded (e.g. {data.skipped[0][0]}: "
            f"{data.skipped[0][1]})"
        )
    if progress:
        print(data.summary(), file=sys.stderr, flush=True)
    elif data.skipped:
        logger.warning(data.summary())
    return data


def _build_cache(stem: Path, key: str, root: Path, layout: str, items, unusable: dict[str, str], size: int,
                 workers, progress) -> None:
    """Decode the regular files ``items`` into the cache pair at ``stem``; ``unusable`` are listed as skipped."""
    paths = [path for path, _ in items]
    failures: dict[int, str] = {}
    images_path = stem.with_suffix(".npy")
    meta_path = stem.with_suffix(".json")
    with contextlib.suppress(FileNotFoundError):
        meta_path.unlink()  # never let an old description sit beside new images

    def write_images(tmp: Path) -> None:
        desc = f"decoding {len(paths)} images ({layout}) to {size}x{size}" if progress else False
        failures.update(_build_images(tmp, paths, size, workers, desc))

    _write_replace(images_path, write_images)
    kept = [i for i in range(len(items)) if i not in failures]
    skipped = sorted([(_relative(root, paths[i]), reason) for i, reason in failures.items()]
                     + [(_relative(root, path), reason) for path, reason in unusable.items()])
    meta = {
        "format": CACHE_FORMAT,
        "key": key,
        "decoder": _decode.decoder_id(),
        "size": size,
        "layout": layout,
        "root": str(root),
        "npy_bytes": images_path.stat().st_size,
        "paths": [_relative(root, items[i][0]) for i in kept],
        "labels": [items[i][1] for i in kept],
        "skipped": [list(entry) for entry in skipped],
    }
    _write_replace(meta_path, lambda tmp: tmp.write_text(json.dumps(meta)))
