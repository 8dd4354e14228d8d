"""What one benchmark run measures: the figures, the modes, and each mode's sizes and repeat counts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("train_step", "cnn_step", "decode", "cache_epoch", "cpu_epoch", "gpu_epoch", "gpu_cnn_epoch", "gpu_vanishing",
           "tensorboard", "parity_suite", "memory")
#: The figures that need a CUDA device (skipped with the reason elsewhere); make gpu-check runs them.
GPU_FIGURES = ("gpu_epoch", "gpu_cnn_epoch", "gpu_vanishing")
MODES = ("full", "quick", "tiny", "gpu")
DEFAULT_OUT = Path("bench_results") / "bench.json"


@dataclass(frozen=True)
class BenchSettings:
    """Sizes and repeat counts of one run; ``full`` is the issue's definition of each figure."""

    mode: str = "full"
    repeats: int = 5
    warmup: int = 2
    # train_step
    in_features: int = 30_000
    hidden: int = 256
    batch: int = 128
    step_threads: tuple = (1, 0)  # 0 = every available core
    min_case_seconds: float = 1.0  # a train-step case times at least this long (more pairs for short steps)
    block_seconds: float = 0.05  # steps shorter than this are timed in blocks (median of the block)
    peak_n: int = 3072
    # cnn_step: the dog/cat CNN's default blocks on the trainer's images and batch
    cnn_channels: tuple = (16, 32, 64, 128, 256)
    cnn_image_size: int = 100
    cnn_batch: int = 64
    # decode and cache_epoch
    decode_small: int = 2000  # enough work (about 2 s on one core) that pool start-up is noise
    decode_large: int = 800
    decode_repeats: int = 3
    large_size: tuple = (500, 375)
    epoch_images: int = 1000
    epoch_repeats: int = 3
    image_size: int = 100
    # cpu_epoch: the trainer's epoch from a memory-mapped cache, logistic and MLP, both twins
    cpu_epoch_images: int = 25_000
    cpu_epoch_repeats: int = 3
    cpu_epoch_models: tuple = ("logistic", "mlp")
    cpu_epoch_threads: tuple = (1, 0)  # the logistic model's step threads (0 = every core); the MLP at every core
    # gpu_epoch
    gpu_images: int = 25_000
    gpu_batches: tuple = (128, 1024)
    gpu_variants: tuple = ("plain", "cuda_graph", "compile")
    gpu_repeats: int = 10
    # gpu_cnn_epoch: the trainer's CNN epoch on the GPU (bf16 autocast, channels-last, flips and shifts there)
    gpu_cnn_images: int = 25_000
    gpu_cnn_repeats: int = 3
    # gpu_vanishing: the vanishing-gradient study's torch twin on the GPU and on the CPU
    gpu_vanishing_configs: int = 4
    # tensorboard
    tb_steps: int = 200
    tb_steps_per_epoch: int = 157  # the 25,000-photo Kaggle set: 20,000 training images in batches of 128
    tb_hist_every: int | None = None  # None: the trainer's default
    tb_repeats: int = 5
    tb_image_size: int = 100
    vanishing: bool = True
    # parity_suite
    run_suite: bool = True
    suite_timeout: float = 900.0
    # memory
    memory_images: int = 25_000
    memory_impls: tuple = ("torch", "scratch")
    memory_models: tuple = ("logistic", "cnn")

    @classmethod
    def for_mode(cls, mode: str) -> "BenchSettings":
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        full = cls()
        if mode == "full":
            return full
        if mode == "quick":
            return replace(
                full, mode="quick", repeats=3, warmup=1, step_threads=(0,), min_case_seconds=0.5, decode_small=200, decode_large=100,
                decode_repeats=2, epoch_images=400, epoch_repeats=2, cpu_epoch_repeats=2, gpu_repeats=5,
                tb_repeats=2,
                run_suite=False, memory_impls=("torch",),
            )
        if mode == "gpu":  # make gpu-check: the GPU figures at their targets' sizes, fewer repeats
            return replace(full, mode="gpu", gpu_batches=(1024,), gpu_repeats=5, gpu_cnn_repeats=2)
        # tiny: every code path in seconds, for the test suite; the numbers mean nothing
        return replace(
            full, mode="tiny", repeats=1, warmup=0, min_case_seconds=0.0, in_features=300, hidden=16, batch=8, step_threads=(1,),
            peak_n=64, cnn_channels=(4, 8), cnn_image_size=16, cnn_batch=8,
            decode_small=6, decode_large=4, decode_repeats=1, large_size=(120, 90), epoch_images=16,
            epoch_repeats=1, image_size=16, cpu_epoch_images=64, cpu_epoch_repeats=1, cpu_epoch_models=("logistic",),
            cpu_epoch_threads=(1,),
            gpu_images=512, gpu_batches=(64,), gpu_repeats=1, gpu_cnn_images=256, gpu_cnn_repeats=1,
            gpu_vanishing_configs=1, tb_steps=12,
            tb_steps_per_epoch=6,
            tb_hist_every=5, tb_repeats=1, tb_image_size=8, vanishing=False, run_suite=False,
            memory_images=64, memory_impls=("scratch",),  # a torch optimizer would import torch._dynamo: +2.5 s
            memory_models=("cnn",),  # one child process: the logistic model runs the same code
        )


__all__ = ["BenchSettings", "REPO_ROOT", "FIGURES", "GPU_FIGURES", "MODES", "DEFAULT_OUT"]
