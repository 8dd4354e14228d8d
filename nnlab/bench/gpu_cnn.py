"""Figure 10: the dog/cat CNN's epoch on the GPU as ``--model cnn --amp`` trains it, against the FLOP floor.

25,000 uint8 images resident on the device (uniform random pixels: the work does not
depend on them), every batch of 64 cut by the on-device permutation, flipped and shifted
there (``--augment``, the draws of the trainer), normalized, run channels-last under
bfloat16 autocast, dropout 0.3, BCE, Adam: :class:`~nnlab.dogcat.twins.TorchTwin`'s own
step, one read of the running sums at the end of the epoch.

The floor is the convolutions' arithmetic (forward, dW and dX: the MACs of each 3x3 layer
at its output size, as ``cnn_step`` counts them) at the measured bfloat16 matrix-product
peak: no epoch can take less.
"""

from __future__ import annotations

import time

import numpy as np

from nnlab.bench.cnn_step import conv_flops_per_step
from nnlab.bench.gpu_epoch import no_cuda_reason
from nnlab.bench.gpu_floors import matmul_peak
from nnlab.bench.settings import BenchSettings
from nnlab.bench.timing import Row, make_row, skipped_row

TARGET = "<= 1.5"


def cnn_twin(images: np.ndarray, labels: np.ndarray, channels: tuple, amp: bool = True, device: str = "cuda"):
    """The trainer's torch twin of the CNN on ``device`` (resident data, float32 weights, Adam lr 1e-3)."""
    import torch

    from nnlab.dogcat.cache import BatchReader
    from nnlab.dogcat.models import ModelSpec, initial_state_dict
    from nnlab.dogcat.normalization import DEFAULT_NORMALIZATION
    from nnlab.dogcat.twins import TorchTwin

    spec = ModelSpec("cnn", tuple(images.shape[1:]), channels=tuple(channels), dropout=0.3)
    return TorchTwin(spec, initial_state_dict(spec, 0, "float32"), BatchReader(images), labels, DEFAULT_NORMALIZATION,
                     dtype="float32", optimizer=("Adam", {"lr": 1e-3}), device=torch.device(device), amp=amp,
                     resident=True)


def augmented_epoch(twin, n: int, batch: int, seed: int, shift: int = 8) -> float:
    """One epoch of ``twin`` with the trainer's flips and shifts; seconds, up to the epoch's one read-back."""
    from nnlab.dogcat import augment

    order = np.random.default_rng(seed).permutation(n)
    start_time = time.perf_counter()
    twin.set_epoch_order(order)
    twin.set_sums([0.0, 0.0, 0.0])
    for step, start in enumerate(range(0, n, batch)):
        end = min(start + batch, n)
        twin.train_step(start, end, augment.draw(seed, 0, step, end - start, shift))
    twin.read_sums()  # waits for the epoch's last kernel
    return time.perf_counter() - start_time


def figure_gpu_cnn_epoch(s: BenchSettings, progress: bool = False) -> list[Row]:
    n, batch, channels, size = s.gpu_cnn_images, s.cnn_batch, tuple(s.cnn_channels), s.image_size
    widths = "-".join(map(str, channels))
    case = (f"CNN {widths} epoch, {n:,} images {size}x{size} resident, flips and shifts on the device, bf16 autocast, "
            f"channels-last, batch {batch}, Adam")
    flops = conv_flops_per_step(1, size, channels) * n
    floor_case = f"FLOP floor: the convolutions' {flops / 1e12:.2f} TFLOP an epoch at the measured bf16 matmul peak"
    reason = no_cuda_reason()
    if reason:
        return [skipped_row("gpu_cnn_epoch", floor_case, "s", reason),
                skipped_row("gpu_cnn_epoch", case, "s/epoch", reason, TARGET)]
    import torch

    peak = matmul_peak("bfloat16")
    floor = flops / peak
    rows = [make_row("gpu_cnn_epoch", floor_case, "s", [floor],
                     detail=f"bf16 8192x8192 product: {peak / 1e12:,.0f} TFLOP/s; {torch.cuda.get_device_name(0)}",
                     peak_flops=peak)]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8)
    twin = cnn_twin(images, (np.arange(n) % 2).astype(np.int64), channels)
    del images  # uploaded
    augmented_epoch(twin, n, batch, seed=10**6)  # warm-up: cuDNN's choices, the allocator's pool
    samples = [augmented_epoch(twin, n, batch, seed=r) for r in range(s.gpu_cnn_repeats)]
    median = float(np.median(samples))
    rows.append(make_row(
        "gpu_cnn_epoch", case, "s/epoch", samples, target=TARGET,
        detail=(f"{n / median:,.0f} img/s; {median / floor:.0f}x the FLOP floor ({1e3 * floor:.1f} ms); "
                f"{flops / median / 1e12:.1f} TFLOP/s of convolution"),
        floor_ratio=[x / floor for x in samples], images_per_second=n / median,
    ))
    return rows


__all__ = ["cnn_twin", "augmented_epoch", "figure_gpu_cnn_epoch", "TARGET"]
