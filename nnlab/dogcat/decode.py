"""Decoding photos to ``(3, size, size)`` uint8 RGB, one at a time or many across cores.

JPEG draft mode is the speed-up: libjpeg can run its inverse DCT at 1/2, 1/4 or 1/8
scale, so a 200x200 photo bound for 100x100 is decoded straight at 100x100 and a
500x375 one at 125x94, instead of decoding every pixel and then throwing most of them
away in a costly resize. The image is squashed to ``size x size`` (no crop), as the plain
baseline ``Image.open(f).convert('RGB').resize((size, size))`` does.

The draft scale is the smallest that keeps both sides >= DRAFT_MIN_FRACTION * size, so
one side may come out a little short (94 of 100 above) and be stretched by at most
1/0.9 = 1.11x in the final resize. At 100 px that is invisible (mean difference from
the baseline about 2 grey levels of 255) and it roughly halves the decode-and-resize
work left for 4:3 photos such as Kaggle's 500x375 ones.

When the optional ``simplejpeg`` package is installed, plain JPEGs (YCbCr or grey, no
EXIF block) are decoded by its libjpeg-turbo binding with the same kind of DCT scaling
(it may pick any n/8 scale, still keeping both sides >= 90% of ``size``), which skips
Pillow's per-file Python header parsing: about twice as fast again on 200x200 photos.
Everything else (PNG, GIF, CMYK, photos with an EXIF block, whose orientation tag Pillow
applies, broken files) goes through Pillow,
which also produces the error message for a file neither can read.

Hostile or odd files cost a bounded amount: only regular files are opened (a FIFO or a
device such as ``/dev/zero`` is refused without reading), a file over MAX_FILE_BYTES is
refused unread, and an image whose decoded size (after the JPEG draft scale) exceeds
MAX_DECODE_PIXELS is refused before its pixels are decoded, so a 190 KB PNG that expands to
13000x13000 cannot take a gigabyte per worker. 16-bit and 32-bit integer images and
floating-point images are scaled to 8 bits by their range (see ``_to_8bit``), not clipped.
"""

from __future__ import annotations

import ctypes
import errno
import io
import os
import signal
import stat
import struct
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from nnlab.runtime import available_cores

try:
    import simplejpeg
except ImportError:  # optional speed-up; Pillow alone gives the same kind of result
    simplejpeg = None

RESAMPLE = Image.Resampling.BICUBIC
DRAFT_MIN_FRACTION = 0.9
#: Largest file read as an image (bytes); larger ones are refused unread.
MAX_FILE_BYTES = 256 * 2**20
#: Largest image decoded (pixels after the JPEG draft scale): 24 MP, e.g. 6000x4000. Peak memory
#: of one decode stays near 4 bytes per pixel times a few copies (measured ~0.2 GB at the bound).
MAX_DECODE_PIXELS = 24_000_000


def decoder_id() -> str:
    """Names the decoding recipe; part of the cache key, so a change of recipe rebuilds caches."""
    backend = "simplejpeg" if simplejpeg is not None else "pillow"
    return f"draft{DRAFT_MIN_FRACTION}-bicubic-whitealpha-exif-{backend}-range8bit-max{MAX_DECODE_PIXELS}-v2"

_PILLOW_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, Image.DecompressionBombError,
                  MemoryError)


class UnreadableImageError(OSError):
    """A file that is not a readable image; ``reason`` is a short human text without the path."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words ("a FIFO", "a character device", …)."""
    return next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")


def os_reason(path, error: OSError) -> str:
    """Why ``path`` cannot be opened, in words: symlink loops and dangling links are named as such."""
    if error.errno == errno.ELOOP:
        return "symlink loop"
    if error.errno == errno.ENOENT and os.path.islink(path):
        return f"dangling symlink (to {os.readlink(path)}, which does not exist)"
    return error.strerror or str(error)


def read_regular_file(path, limit: int | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes (default MAX_FILE_BYTES).

    Anything else raises UnreadableImageError without blocking or reading it: a FIFO (opened
    non-blocking, so no writer is waited for), a device such as ``/dev/zero``, a folder, a
    symlink loop, a dangling link, or a larger file.
    """
    limit = MAX_FILE_BYTES if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise UnreadableImageError(path, os_reason(path, error)) from error
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableImageError(path, f"not a regular file ({file_kind(st.st_mode)})")
        if st.st_size > limit:
            raise UnreadableImageError(path, f"file too large ({st.st_size / 1e6:,.1f} MB; images are read up to "
                                             f"{limit / 1e6:,.1f} MB)")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while being read
        raise UnreadableImageError(path, f"file too large (over {limit / 1e6:,.0f} MB)")
    return data


class ImageTooLargeError(ValueError):
    """An image whose decoded pixels would exceed MAX_DECODE_PIXELS."""


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_DECODE_PIXELS:
        raise ImageTooLargeError(
            f"image too large to decode: {width}x{height} = {width * height / 1e6:.0f} MP after any draft scaling, "
            f"over the {MAX_DECODE_PIXELS / 1e6:.0f} MP bound")


def _reason(path, error: BaseException) -> str:
    if isinstance(error, ImageTooLargeError):
        return str(error)
    if isinstance(error, UnidentifiedImageError):
        try:
            if os.path.getsize(path) == 0:
                return "empty file (0 bytes)"
        except OSError:
            pass
        return "not an image Pillow can identify"
    return f"{type(error).__name__}: {error}"


def _to_8bit(img: Image.Image) -> Image.Image:
    """A 16-bit (``I;16``), 32-bit integer (``I``) or floating-point (``F``) image as 8-bit ``L``.

    ``I;16`` is v/257 (65535 → 255). ``I`` and ``F`` are scaled by the smallest of the usual
    ranges holding every value: [0, 1] (floats), [0, 255], [0, 65535]; values outside all of
    them (negative, or larger) are stretched from their minimum to their maximum. NaN is 0.
    Pillow's own conversion clips instead: 16-bit photos come out white, [0, 1] floats black.
    """
    a = np.asarray(img)
    if img.mode.startswith("I;16"):
        return Image.fromarray(_SIXTEEN_TO_EIGHT[a], "L")
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    ranges = ((1.0,) if img.mode == "F" else ()) + (255.0, 65535.0)
    top = next((r for r in ranges if lo >= 0 and hi <= r), None)
    scaled = a * (255.0 / top) if top is not None else (a - lo) * (255.0 / ((hi - lo) or 1.0))
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


_SIXTEEN_TO_EIGHT = ((np.arange(65536, dtype=np.uint32) * 255 + 32767) // 65535).astype(np.uint8)  # round(v/257)


def _reduce_early(img: Image.Image, size: int) -> Image.Image:
    """A large image box-averaged in its own mode to about 3x ``size`` before any conversion.

    ``resize(..., reducing_gap=3.0)`` would make the same reduction at the end; made first,
    the mode conversions and alpha compositing touch few pixels, so a decode's peak memory
    is about the decoded image itself rather than several converted copies of it.
    """
    factors = (max(1, img.width // (3 * size)), max(1, img.height // (3 * size)))  # as resize() picks them
    if max(factors) < 2:
        return img
    if img.mode in ("P", "1"):  # modes reduce() cannot average
        img = img.convert("RGBA" if "transparency" in img.info else "L" if img.mode == "1" else "RGB")
    try:
        return img.reduce(factors)
    except ValueError:
        return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB; transparent pixels are shown on white, as a viewer shows them;
    high bit depths are scaled to 8 bits (``_to_8bit``)."""
    if img.mode.startswith("I") or img.mode == "F":
        img = _to_8bit(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode in ("P", "L", "RGB") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode == "RGB":
        return img
    return img.convert("RGB")


def _turbo_jpeg_hwc(data: bytes, least: int):
    """Plain JPEG decoded by simplejpeg at the smallest scale keeping both sides >= ``least``;
    None when the file is for Pillow (not a JPEG, CMYK/YCCK, carries EXIF, or is rejected)."""
    if simplejpeg is None or data[:3] != b"\xff\xd8\xff" or b"Exif\x00\x00" in data[:65536]:
        return None
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        if colorspace not in ("YCbCr", "Gray", "RGB") or width * height > 64 * MAX_DECODE_PIXELS:
            return None  # Pillow decodes it, or refuses it by its draft size
        return simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=least, min_width=least)
    except ValueError:  # truncated or corrupt: Pillow tries, and words the error
        return None


def _decode_hwc(path, size: int) -> np.ndarray:
    least = max(1, int(size * DRAFT_MIN_FRACTION))
    data = read_regular_file(path)
    hwc = _turbo_jpeg_hwc(data, least)
    if hwc is not None:
        if hwc.shape[:2] != (size, size):
            hwc = np.asarray(Image.fromarray(hwc).resize((size, size), RESAMPLE, reducing_gap=3.0))
        return hwc
    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (least, least))  # JPEG only: the smallest DCT scale with both sides >= least
        _check_pixels(*img.size)  # before any pixel is decoded
        if "exif" in img.info and img.getexif().get(0x0112, 1) != 1:  # camera orientation tag
            img = ImageOps.exif_transpose(img)
        if img.mode.startswith("I;16"):  # reduce() cannot average 16-bit modes: 8 bits first
            img = _to_8bit(img)
        img = _to_rgb(_reduce_early(img, size))
        if img.size != (size, size):
            img = img.resize((size, size), RESAMPLE, reducing_gap=3.0)
        return np.asarray(img)


def decode_image(path, size: int = 100) -> np.ndarray:
    """Decode one photo to a ``(3, size, size)`` uint8 RGB array (channels first, like torch).

    Pillow with JPEG draft mode (see the module docstring); grayscale, CMYK, palette and
    RGBA images become RGB (transparency on white); the EXIF orientation is applied.
    Raises UnreadableImageError (an OSError) for empty, truncated or non-image files.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd EXIF/ICC data it recovers from
            hwc = _decode_hwc(path, size)
    except UnreadableImageError:
        raise
    except _PILLOW_ERRORS as error:
        raise UnreadableImageError(path, _reason(path, error)) from error
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


def decode_image_baseline(path, size: int = 100) -> np.ndarray:
    """The plain reference ``Image.open(f).convert('RGB').resize((size, size))`` as ``(3, size, size)`` uint8."""
    try:
        with Image.open(path) as img:
            hwc = np.asarray(img.convert("RGB").resize((size, size)))
    except _PILLOW_ERRORS as error:
        raise UnreadableImageError(path, _reason(path, error)) from error
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


# ---------------------------------------------------------------------------------------
# Many images: each worker process decodes chunks of (index, path) and writes the pixels
# straight into one shared memory-mapped file, so only the indices of failures travel back.

_worker: dict = {}


def _open_rows(path, offset: int, n: int, size: int) -> np.memmap:
    return np.memmap(path, dtype=np.uint8, mode="r+", offset=offset, shape=(n, 3, size, size))


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Linux: have the kernel SIGKILL this process when the thread that started it dies, however it
    dies (``kill -9`` included), so no worker outlives a killed run holding its files and pipes.
    Elsewhere a no-op. Exits at once if the parent is already gone."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl in this libc: the parent-pid check below remains
            pass
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)


def _init_worker(path, offset: int, n: int, size: int, method: str, parent_pid: int | None = None) -> None:
    if parent_pid is not None:
        die_with_parent(parent_pid)
    _worker.update(out=_open_rows(path, offset, n, size), size=size, method=method)


def _decode_chunk(chunk: list[tuple[int, str]], out=None, size=None, method=None) -> tuple[int, list[tuple[int, str]]]:
    """Decode ``chunk`` into ``out[index]``; returns (count, [(index, reason) for each unreadable file])."""
    if out is None:
        out, size, method = _worker["out"], _worker["size"], _worker["method"]
    decode = decode_image if method == "draft" else decode_image_baseline
    failures = []
    for index, path in chunk:
        try:
            out[index] = decode(path, size)
        except Exception as error:  # one bad file must never stop the pass
            reason = error.reason if isinstance(error, UnreadableImageError) else f"{type(error).__name__}: {error}"
            failures.append((index, reason))
    return len(chunk), failures


def _pool_context():
    import multiprocessing

    # fork on Linux: workers start in milliseconds and need not re-import the caller's
    # __main__ (which breaks for stdin, notebooks and unguarded scripts). The workers only
    # run Pillow and NumPy, never torch, OpenMP or CUDA, so threads of the parent cannot
    # leave them a held lock. Elsewhere the platform default (spawn).
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def decode_into(
    out_path,
    offset: int,
    paths: list,
    size: int = 100,
    workers: int | None = None,
    progress=False,
    method: str = "draft",
) -> dict[int, str]:
    """Decode ``paths[i]`` into row ``i`` of the uint8 ``(N, 3, size, size)`` file at ``out_path``.

    The rows start ``offset`` bytes into the file, which must already be that long.
    ``workers`` processes (default: one per core, fewer for small jobs; 1 decodes in this
    process) take chunks of paths. ``progress`` is False, True or a tqdm description.
    Returns ``{index: reason}`` for the unreadable files; their rows are left as they were.
    """
    from tqdm.auto import tqdm

    n = len(paths)
    cores = available_cores()
    if workers is None:
        workers = min(cores, max(1, n // 256))
    workers = max(1, min(int(workers), n or 1))
    chunk_size = max(1, min(128, -(-n // (workers * 8))))
    chunks = [[(i, str(paths[i])) for i in range(s, min(n, s + chunk_size))] for s in range(0, n, chunk_size)]
    desc = progress if isinstance(progress, str) else "decoding images"
    failures: dict[int, str] = {}
    with tqdm(total=n, desc=desc, unit="img", disable=not progress, dynamic_ncols=True) as bar:
        if workers == 1:
            out = _open_rows(out_path, offset, n, size)
            for chunk in chunks:
                done, failed = _decode_chunk(chunk, out, size, method)
                failures.update(failed)
                bar.update(done)
            out.flush()
            del out
        else:
            # ProcessPoolExecutor, not multiprocessing.Pool: a worker that dies raises
            # BrokenProcessPool here instead of being replaced and waited on forever.
            pool = ProcessPoolExecutor(
                workers, _pool_context(), initializer=_init_worker,
                initargs=(str(out_path), offset, n, size, method, os.getpid()),
            )
            try:
                for future in as_completed([pool.submit(_decode_chunk, chunk) for chunk in chunks]):
                    done, failed = future.result()
                    failures.update(failed)
                    bar.update(done)
            except BaseException:  # Ctrl-C or a broken pool: drop the queued chunks, do not wait for them
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
    return failures


def _scratch_rows(folder: str, n: int, size: int) -> Path:
    path = Path(folder) / "rows.u8"
    with open(path, "wb") as f:
        f.truncate(n * 3 * size * size)
    return path


def decode_many(paths, size: int = 100, workers: int | None = None, method: str = "draft", progress=False):
    """Decode ``paths`` to an in-memory ``(N, 3, size, size)`` uint8 array; also returns
    ``{index: reason}`` for unreadable files (rows left zero) and the seconds decoding took.

    ``method``: ``"draft"`` (decode_image) or ``"baseline"`` (decode_image_baseline).
    """
    paths = [str(p) for p in paths]
    n = len(paths)
    with tempfile.TemporaryDirectory(prefix="dogcat-decode-") as tmp:
        out_path = _scratch_rows(tmp, n, size)
        start = time.perf_counter()
        failures = decode_into(out_path, 0, paths, size, workers, progress, method)
        seconds = time.perf_counter() - start
        images = np.fromfile(out_path, dtype=np.uint8).reshape(n, 3, size, size)
    return images, failures, seconds
