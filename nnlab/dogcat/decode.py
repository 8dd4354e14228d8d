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
"""

from __future__ import annotations

import io
import os
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


def decoder_id() -> str:
    """Names the decoding recipe; part of the cache key, so a change of recipe rebuilds caches."""
    backend = "simplejpeg" if simplejpeg is not None else "pillow"
    return f"draft{DRAFT_MIN_FRACTION}-bicubic-whitealpha-exif-{backend}-v1"

_PILLOW_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, Image.DecompressionBombError)


class UnreadableImageError(OSError):
    """A file that is not a readable image; ``reason`` is a short human text without the path."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def _reason(path, error: BaseException) -> str:
    if isinstance(error, UnidentifiedImageError):
        try:
            if os.path.getsize(path) == 0:
                return "empty file (0 bytes)"
        except OSError:
            pass
        return "not an image Pillow can identify"
    return f"{type(error).__name__}: {error}"


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB; transparent pixels are shown on white, as a viewer shows them."""
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
        if simplejpeg.decode_jpeg_header(data)[2] not in ("YCbCr", "Gray", "RGB"):
            return None
        return simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=least, min_width=least)
    except ValueError:  # truncated or corrupt: Pillow tries, and words the error
        return None


def _decode_hwc(path, size: int) -> np.ndarray:
    least = max(1, int(size * DRAFT_MIN_FRACTION))
    with open(path, "rb") as f:
        data = f.read()
    hwc = _turbo_jpeg_hwc(data, least)
    if hwc is not None:
        if hwc.shape[:2] != (size, size):
            hwc = np.asarray(Image.fromarray(hwc).resize((size, size), RESAMPLE, reducing_gap=3.0))
        return hwc
    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (least, least))  # JPEG only: the smallest DCT scale with both sides >= least
        if "exif" in img.info and img.getexif().get(0x0112, 1) != 1:  # camera orientation tag
            img = ImageOps.exif_transpose(img)
        img = _to_rgb(img)
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


def _init_worker(path, offset: int, n: int, size: int, method: str) -> None:
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
                workers, _pool_context(), initializer=_init_worker, initargs=(str(out_path), offset, n, size, method)
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
