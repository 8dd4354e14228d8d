"""Figure 4: the logistic model's epoch on 25,000 images resident on the GPU, plain, compiled and as a CUDA graph."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nnlab.bench.gpu_floors import copy_bandwidth, cuda_event_timing
from nnlab.bench.settings import BenchSettings
from nnlab.bench.timing import Row, make_row, progress_bar, skipped_row


class GpuLogistic:
    """Logistic model on uint8 images resident on the GPU; one epoch is a device-side
    permutation, then per batch: gather, normalise, forward, BCE, backward, Adam.

    ``variant``: ``"plain"`` (eager); ``"compile"`` (``torch.compile`` of gather → loss, fused
    Adam); ``"cuda_graph"`` (each batch size's whole step captured once in a CUDA graph
    with a capturable Adam, replayed with the batch's indices copied into a static buffer).
    """

    def __init__(self, images, labels, batch: int, variant: str, normalization) -> None:
        import torch

        self.images, self.labels, self.batch, self.variant = images, labels, batch, variant
        self.normalization = normalization
        self.n = images.shape[0]
        device = images.device
        self.model = torch.nn.Linear(int(np.prod(images.shape[1:])), 1, device=device)
        if variant == "cuda_graph":
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4, capturable=True)
        else:
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4, fused=True)
        self.loss_fn = torch.compile(self._loss, dynamic=False) if variant == "compile" else self._loss
        self.graphs: dict = {}
        self.static_idx: dict = {}
        if variant == "cuda_graph":
            self._capture()

    def _loss(self, idx):
        import torch.nn.functional as F

        x = self.normalization.apply_torch(self.images.index_select(0, idx))
        logits = self.model(x.flatten(1)).squeeze(1)
        return F.binary_cross_entropy_with_logits(logits, self.labels.index_select(0, idx))

    def _sizes(self) -> list[int]:
        sizes = [min(self.batch, self.n)]
        if self.n % self.batch and self.n > self.batch:
            sizes.append(self.n % self.batch)
        return sizes

    def _capture(self) -> None:
        import torch

        device = self.images.device
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):  # warm-up outside capture: allocates .grad and Adam's state
            for size in self._sizes():
                self.static_idx[size] = torch.arange(size, device=device)
                for _ in range(3):
                    self.opt.zero_grad(set_to_none=False)
                    self._loss(self.static_idx[size]).backward()
                    self.opt.step()
        torch.cuda.current_stream(device).wait_stream(side)
        for size in self._sizes():  # captured on the warm-up's stream: its cuBLAS workspace is already there
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=side):
                self.opt.zero_grad(set_to_none=False)  # grads are static buffers, zeroed inside the graph
                self._loss(self.static_idx[size]).backward()
                self.opt.step()
            self.graphs[size] = graph

    def step(self, idx) -> None:
        if self.variant == "cuda_graph":
            self.static_idx[len(idx)].copy_(idx)
            self.graphs[len(idx)].replay()
            return
        self.opt.zero_grad(set_to_none=True)
        self.loss_fn(idx).backward()
        self.opt.step()

    def epoch(self) -> None:
        import torch

        order = torch.randperm(self.n, device=self.images.device)
        for start in range(0, self.n, self.batch):
            self.step(order[start:start + self.batch])


GPU_VARIANTS = ("plain", "cuda_graph", "compile")


def no_cuda_reason() -> str | None:
    """Why the GPU figures cannot run here, or None when torch sees a CUDA device."""
    import torch

    if torch.cuda.is_available():
        return None
    return f"no CUDA device (torch {torch.__version__}: torch.cuda.is_available() is False)"


def figure_gpu_epoch(s: BenchSettings, progress: bool = False) -> list[Row]:
    import torch

    from nnlab.dogcat.data import DEFAULT_NORMALIZATION

    cases = [(b, v) for b in s.gpu_batches for v in s.gpu_variants]
    mb = s.gpu_images * 3 * s.image_size**2 / 1e6
    floor_case = f"bandwidth floor: one read of {s.gpu_images:,} uint8 images ({mb:.0f} MB) at the measured copy bandwidth"

    def target(b):
        return "<= 20" if b == 1024 else ""

    reason = no_cuda_reason()
    if reason:
        return [skipped_row("gpu_epoch", floor_case, "ms", reason)] + [
            skipped_row("gpu_epoch", f"logistic, {s.gpu_images:,} images, batch {b}, {v}", "ms/epoch", reason, target(b))
            for b, v in cases
        ]
    device = torch.device("cuda")
    bandwidth = copy_bandwidth()
    floor = mb * 1e6 / bandwidth
    rows = [make_row("gpu_epoch", floor_case, "ms", [1e3 * floor],
                     detail=f"device-to-device copy: {bandwidth / 1e9:,.0f} GB/s (read + write); "
                            f"{torch.cuda.get_device_name(0)}", bandwidth_bytes_per_second=bandwidth)]
    gen = torch.Generator(device=device).manual_seed(0)
    shape = (s.gpu_images, 3, s.image_size, s.image_size)
    images = torch.randint(0, 256, shape, dtype=torch.uint8, device=device, generator=gen)
    labels = torch.randint(0, 2, (s.gpu_images,), device=device, generator=gen).float()
    for b, v in progress_bar(cases, progress, "GPU epoch"):
        case = f"logistic, {s.gpu_images:,} images, batch {b}, {v}"
        try:
            runner = GpuLogistic(images, labels, b, v, DEFAULT_NORMALIZATION)
            t = cuda_event_timing(runner.epoch, s.gpu_repeats, 2)  # warm-up epochs include compilation
        except Exception as error:  # e.g. no Triton for torch.compile: report it, time the other variants
            row = make_row("gpu_epoch", case, "ms/epoch", [], target=target(b))
            row.reason = f"failed: {type(error).__name__}: {str(error)[:300]}"
            rows.append(row)
            continue
        rows.append(make_row(
            "gpu_epoch", case, "ms/epoch", [1e3 * x for x in t.samples],
            target=target(b),
            detail=f"{t.median / floor:.1f}x the bandwidth floor ({1e3 * floor:.2f} ms); "
                   f"{mb * 1e6 / t.median / 1e9:,.0f} GB/s of images",
            floor_ratio=[x / floor for x in t.samples],
        ))
        del runner
    return rows


__all__ = ["GpuLogistic", "cuda_event_timing", "figure_gpu_epoch", "no_cuda_reason", "GPU_VARIANTS"]
