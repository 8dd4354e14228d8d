"""Figure 2: first-pass JPEG decode, draft mode over the plain resize per core, and its scaling over cores."""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
from pathlib import Path
from typing import Sequence

from nnlab.bench.settings import BenchSettings
from nnlab.bench.timing import Row, make_row, progress_bar, skipped_row
from nnlab.runtime import available_cores


def shared_sample() -> Path:
    from nnlab.dogcat.data import SHARED_SAMPLE

    return Path(SHARED_SAMPLE)


def _spread(items: Sequence, n: int) -> list:
    """``n`` items evenly spaced over a sorted list (both classes of a Kaggle folder)."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def sample_photos(n: int) -> list[Path]:
    """``n`` JPEGs of the shared 200x200 sample, spread over both classes; [] when it is absent."""
    root = shared_sample()
    if not root.is_dir():
        return []
    return _spread(sorted(p for p in root.iterdir() if p.suffix.lower() in (".jpg", ".jpeg")), n)


def make_large_photos(sources: Sequence[Path], folder: Path, n: int, size: tuple = (500, 375),
                      seed: int = 0) -> list[Path]:
    """``n`` JPEGs of ``size`` (quality 90) in ``folder``, Kaggle names: the ``sources``
    upscaled, or, without sources, synthetic photos from ``nnlab.dogcat.synthetic``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    if not sources:
        from nnlab.dogcat.synthetic import synthetic_dogcat

        sources = sorted(synthetic_dogcat(folder / "sources", n=n, size=max(size) // 2, seed=seed).glob("*.jpg"))
    out = []
    for i, src in enumerate(list(sources)[:n]):
        name = f"{'dog' if Path(src).name.startswith('dog') else 'cat'}.{i}.jpg"
        with Image.open(src) as img:
            big = img.convert("RGB").resize(size, Image.Resampling.BICUBIC)
        big.save(folder / f".{name}", quality=90)
        os.replace(folder / f".{name}", folder / name)
        out.append(folder / name)
    return out


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def decode_rate(paths: Sequence[Path], size: int, workers: int, method: str) -> tuple[float, float]:
    """(images per wall-clock second, images per CPU-second) of one ``decode_many`` pass."""
    from nnlab.dogcat.decode import decode_many

    cpu = _cpu_seconds()
    _, failures, seconds = decode_many([str(p) for p in paths], size=size, workers=workers, method=method)
    cpu = _cpu_seconds() - cpu
    if failures:
        raise RuntimeError(f"decode benchmark: {len(failures)} of {len(paths)} photos unreadable, e.g. {failures}")
    return len(paths) / seconds, len(paths) / max(cpu, 1e-9)


def _decode_rows(label: str, paths: Sequence[Path], s: BenchSettings, progress: bool) -> list[Row]:
    cores = available_cores()
    for p in paths:  # read once: the figures measure decoding, not a cold disk
        Path(p).read_bytes()
    base, draft, ratios, allcores = [], [], [], []
    for _ in progress_bar(range(s.decode_repeats), progress, f"decode {label}"):
        b = decode_rate(paths, s.image_size, 1, "baseline")
        d = decode_rate(paths, s.image_size, 1, "draft")
        a = decode_rate(paths, s.image_size, cores, "draft")
        base.append(b)
        draft.append(d)
        allcores.append(a)
        ratios.append(d[1] / b[1])
    n = len(paths)
    scaling = [a[0] / (cores * d[0]) for a, d in zip(allcores, draft)]  # wall clock over wall clock
    return [
        make_row("decode", f"{label}: baseline, 1 core ({n} photos)", "img/CPU-s", [b[1] for b in base],
                 detail=f"wall clock {statistics.median(b[0] for b in base):.0f} img/s",
                 wall_images_per_s=[b[0] for b in base]),
        make_row("decode", f"{label}: draft decode, 1 core", "img/CPU-s", [d[1] for d in draft],
                 detail=f"wall clock {statistics.median(d[0] for d in draft):.0f} img/s",
                 wall_images_per_s=[d[0] for d in draft]),
        make_row("decode", f"{label}: draft over baseline, per core", "x", ratios, target=">= 2.5",
                 detail="images per CPU-second (this process and its workers), runs interleaved"),
        make_row("decode", f"{label}: draft decode, all {cores} cores", "img/s", [a[0] for a in allcores],
                 detail=f"{cores} worker processes, wall clock, pool start-up included"),
        make_row("decode", f"{label}: scaling, {cores} cores over {cores}x one core", "x", scaling, target=">= 0.8",
                 detail="wall-clock rates; 1.0 is linear; other jobs on the machine take cores from the pool"),
    ]


def figure_decode(s: BenchSettings, progress: bool = False) -> list[Row]:
    small = sample_photos(s.decode_small)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-decode-") as tmp:
        if small:
            rows += _decode_rows("200x200 shared sample", small, s, progress)
        else:
            reason = f"the shared sample is absent (looked in {shared_sample()})"
            rows += [skipped_row("decode", "200x200 shared sample: draft over baseline, per core", "x", reason, ">= 2.5")]
        w, h = s.large_size
        sources = sample_photos(s.decode_large)
        large = make_large_photos(sources, Path(tmp) / "large", s.decode_large, s.large_size)
        what = "shared photos upscaled" if sources else "synthetic photos"
        rows += _decode_rows(f"{w}x{h} {what}", large, s, progress)
    return rows


__all__ = ["shared_sample", "sample_photos", "make_large_photos", "decode_rate", "figure_decode"]
