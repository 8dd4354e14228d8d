"""Figure 3: an epoch of batches from the memory-mapped cache against a Dataset decoding every JPEG."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from nnlab.bench.decode import sample_photos
from nnlab.bench.settings import BenchSettings
from nnlab.bench.timing import Row, make_row, progress_bar
from nnlab.runtime import available_cores


class DecodingDataset:
    """A plain ``torch.utils.data.Dataset``: every item decodes its JPEG again
    (``Image.open(f).convert('RGB').resize((size, size))``) → uint8 (3, size, size), label."""

    def __init__(self, paths: Sequence[str], labels: Sequence[int], size: int = 100) -> None:
        self.paths, self.labels, self.size = list(paths), list(labels), size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        import torch
        from PIL import Image

        with Image.open(self.paths[i]) as img:
            hwc = np.asarray(img.convert("RGB").resize((self.size, self.size)))
        return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1))), int(self.labels[i])


def cache_epoch(images: np.ndarray, batch: int, seed: int, normalization=None) -> int:
    """One epoch of shuffled uint8 batches from the (memory-mapped) cache, gathered as the
    trainer's CPU path gathers them, and normalised to float32 when ``normalization`` is
    given; returns the images seen."""
    import torch

    order = np.random.default_rng(seed).permutation(len(images))
    seen = 0
    for start in range(0, len(order), batch):
        x = torch.from_numpy(np.take(images, order[start:start + batch], axis=0))
        if normalization is not None:
            x = normalization.apply_torch(x, torch.float32)
        seen += len(x)
    return seen


def decode_epoch(dataset: DecodingDataset, batch: int, workers: int, seed: int, normalization=None) -> int:
    """One epoch of uint8 batches through ``DataLoader(dataset, shuffle=True, num_workers=workers)``."""
    import torch

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                                         generator=torch.Generator().manual_seed(seed))
    seen = 0
    for x, _ in loader:
        if normalization is not None:
            x = normalization.apply_torch(x, torch.float32)
        seen += len(x)
    return seen


def figure_cache_epoch(s: BenchSettings, progress: bool = False) -> list[Row]:
    from nnlab.dogcat.data import DEFAULT_NORMALIZATION, load_dogcat
    from nnlab.dogcat.synthetic import synthetic_dogcat

    cores = available_cores()
    batch = 128
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-epoch-") as tmp:
        folder = Path(tmp) / "train"
        photos = sample_photos(s.epoch_images)
        if photos:
            folder.mkdir()
            for p in photos:
                shutil.copyfile(p, folder / p.name)
            what = "shared sample"
        else:
            synthetic_dogcat(folder, n=s.epoch_images, size=s.image_size)
            what = "synthetic photos (no shared sample)"
        start = time.perf_counter()
        data = load_dogcat(folder, size=s.image_size, cache_dir=Path(tmp) / "cache", progress=False)
        build = time.perf_counter() - start
        dataset = DecodingDataset(data.paths, data.labels, s.image_size)
        cache_epoch(data.images, batch, 10**6)  # the first pass over the map faults its pages in
        cached, decoded, ratios, normalised = [], [], [], []
        for r in progress_bar(range(s.epoch_repeats), progress, "epoch: cache vs decode"):
            t0 = time.perf_counter()
            n1 = cache_epoch(data.images, batch, r)
            t1 = time.perf_counter()
            n2 = decode_epoch(dataset, batch, cores, r)
            t2 = time.perf_counter()
            cache_epoch(data.images, batch, r, DEFAULT_NORMALIZATION)
            t3 = time.perf_counter()
            if n1 != n2:
                raise RuntimeError(f"epoch benchmark: cache gave {n1} images, the decoding loader {n2}")
            cached.append(t1 - t0)
            decoded.append(t2 - t1)
            ratios.append((t2 - t1) / (t1 - t0))
            normalised.append(t3 - t2)
    n = len(data)
    norm = statistics.median(normalised) - statistics.median(cached)  # the float conversion alone
    with_norm = (statistics.median(decoded) + norm) / statistics.median(normalised)
    return [
        make_row("cache_epoch", f"{n} images ({what}), batch {batch}: uint8 batches from the memory-mapped cache", "s",
                 cached, detail=f"{n / statistics.median(cached):,.0f} img/s; the cache's first pass took {build:.2f} s"),
        make_row("cache_epoch", f"uint8 batches decoding every JPEG each epoch, DataLoader num_workers={cores}", "s",
                 decoded, detail=f"{n / statistics.median(decoded):,.0f} img/s, worker start-up included"),
        make_row("cache_epoch", "epoch speed-up of the cache", "x", ratios, target=">= 50",
                 detail="per-epoch decode time over cache time, runs interleaved"),
        make_row("cache_epoch", "cache epoch with float32 normalisation (as the CPU trainer feeds the model)", "s",
                 normalised, detail=f"normalising costs {1e3 * norm:.0f} ms an epoch, the same on both sides; "
                                    f"speed-up with it counted on both sides {with_norm:.0f}x"),
    ]


__all__ = ["DecodingDataset", "cache_epoch", "decode_epoch", "figure_cache_epoch"]
