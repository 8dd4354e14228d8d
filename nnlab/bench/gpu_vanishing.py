"""Figure 11: the vanishing-gradient study's torch twin on the GPU against the same runs on the CPU.

The study's networks are small (width 128, batch 256, float64): a step is a few dozen
kernels of microseconds each, so the GPU's floor here is not arithmetic but launching:
kernels per step (counted once with torch's profiler) x steps x the measured time to
launch one small kernel. The runs log statistics and histograms every 20 steps as the
study does, read back only then.
"""

from __future__ import annotations

import time

from nnlab.bench.gpu_epoch import no_cuda_reason
from nnlab.bench.settings import BenchSettings
from nnlab.bench.timing import Row, make_row, skipped_row


def launch_seconds(count: int = 2000) -> float:
    """Seconds per launch of a one-element kernel, launched ``count`` times back to back."""
    import torch

    x = torch.zeros(1, device="cuda")
    for _ in range(50):
        x.add_(1)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(count):
        x.add_(1)
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / count


def kernels_per_step(config, settings) -> int:
    """CUDA kernels (and copies) of one unlogged training step of ``config``'s torch twin, counted by the profiler."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from nnlab.vanishing.networks import twin_mlps
    from nnlab.vanishing.taps import torch_pass
    from nnlab.vanishing.task import make_synthetic_task

    task = make_synthetic_task(settings.n_samples, settings.in_features, settings.n_classes, settings.seed)
    _, model = twin_mlps(config, task.in_features, task.n_classes, settings.dtype, settings.seed, "cuda")
    x = torch.as_tensor(task.x[:settings.batch_size]).cuda()
    y = torch.as_tensor(task.y[:settings.batch_size]).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        torch_pass(model, x, y, loss_fn, record=False)
        opt.step()

    step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)


def figure_gpu_vanishing(s: BenchSettings, progress: bool = False) -> list[Row]:
    from nnlab.vanishing.config import StudySettings, default_configs
    from nnlab.vanishing.study import run_study

    settings = StudySettings()
    configs = default_configs()[: s.gpu_vanishing_configs]
    case = (f"vanishing study, torch twin: {len(configs)} of its configurations x {settings.steps} steps, batch "
            f"{settings.batch_size}, float64, statistics every {settings.log_every} steps; GPU time / CPU time")
    floor_case = "launch floor: kernels per step (profiler) x steps x the measured launch time of one small kernel"
    reason = no_cuda_reason()
    if reason:
        return [skipped_row("gpu_vanishing", floor_case, "s", reason), skipped_row("gpu_vanishing", case, "x", reason)]
    import torch

    def timed(device: str) -> float:
        start = time.perf_counter()
        run_study(configs, settings, implementations=("torch",), device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    timed("cuda")  # warm-up: CUDA context, cuBLAS handles, the statistics' index caches
    gpu = [timed("cuda") for _ in range(2)]
    cpu = [timed("cpu")]
    gpu_s, cpu_s = min(gpu), cpu[0]
    per_launch = launch_seconds()
    try:
        kernels = [kernels_per_step(c, settings) for c in configs]
    except Exception as error:  # noqa: BLE001 — e.g. the profiler without CUPTI: the comparison still stands
        floor_row = skipped_row("gpu_vanishing", floor_case, "s", f"kernels not counted: {type(error).__name__}: "
                                f"{str(error)[:200]}")
        floor = None
    else:
        floor = sum(kernels) * settings.steps * per_launch
        floor_row = make_row("gpu_vanishing", floor_case, "s", [floor],
                             detail=f"{per_launch * 1e6:.1f} µs a launch, {min(kernels)}-{max(kernels)} kernels a step",
                             kernels_per_step=kernels, launch_seconds=per_launch)
    versus = f" ({gpu_s / floor:.1f}x the launch floor)" if floor else ""
    return [
        floor_row,
        make_row("gpu_vanishing", case, "x", [g / cpu_s for g in gpu],
                 detail=(f"GPU {gpu_s:.2f} s{versus}, CPU {cpu_s:.2f} s ({torch.get_num_threads()} threads): the "
                         f"GPU is {cpu_s / gpu_s:.1f}x as fast"),
                 gpu_seconds=gpu, cpu_seconds=cpu),
    ]


__all__ = ["launch_seconds", "kernels_per_step", "figure_gpu_vanishing"]
