"""The GPU a benchmark ran on, and the hardware floors its figures are measured against.

- memory bandwidth: a device-to-device copy of a large buffer (it reads and writes each
  byte once, so bytes/s = 2 · size / time); an epoch that must read N bytes of images
  cannot take less than N / bandwidth;
- arithmetic: a large square matrix product (2n³ flops) in the figure's precision
  (bfloat16 on the tensor cores, float32 and float64); work of W flops cannot take less
  than W / peak.

Both are the best of a few timed runs (CUDA events): a peak, not a typical run.
"""

from __future__ import annotations

import subprocess
from typing import Any

from nnlab.bench.timing import Timing


def cuda_event_timing(fn, repeats: int, warmup: int) -> Timing:
    """Seconds of ``fn`` between two CUDA events on the current stream, after ``warmup`` calls."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(max(1, repeats)):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / 1e3)
    return Timing(samples)


def copy_bandwidth(nbytes: int = 1 << 30, repeats: int = 10) -> float:
    """Bytes/s of a device-to-device copy of ``nbytes`` (read once, written once), best of ``repeats``."""
    import torch

    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    t = cuda_event_timing(lambda: dst.copy_(src), repeats, 2)
    del src, dst
    return 2 * nbytes / t.min


def matmul_peak(dtype: str = "bfloat16", n: int = 8192, repeats: int = 10) -> float:
    """FLOP/s of an n x n matrix product in ``dtype`` (float32 without TF32), best of ``repeats``."""
    import torch

    a = torch.randn(n, n, device="cuda").to(getattr(torch, dtype))
    b = torch.randn(n, n, device="cuda").to(getattr(torch, dtype))
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        t = cuda_event_timing(lambda: a @ b, repeats, 2)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before
    return 2 * n**3 / t.min


def describe_gpu() -> dict[str, Any]:
    """Name, compute capability, memory and the driver and library versions of device 0 (an empty dict without
    CUDA); what ``nvidia-smi`` says, when it is there."""
    import torch

    if not torch.cuda.is_available():
        return {}
    props = torch.cuda.get_device_properties(0)
    out: dict[str, Any] = {
        "name": torch.cuda.get_device_name(0),
        "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
        "memory_gib": round(props.total_memory / 2**30, 1),
        "multiprocessors": props.multi_processor_count,
        "count": torch.cuda.device_count(),
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "bf16_supported": torch.cuda.is_bf16_supported(),
    }
    driver = getattr(torch._C, "_cuda_getDriverVersion", None)
    if driver is not None:
        v = int(driver())
        out["cuda_driver_api"] = f"{v // 1000}.{v % 1000 // 10}"
    try:
        import torch.cuda.nccl

        out["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
    except Exception as error:  # nccl absent from this build
        out["nccl"] = f"unavailable: {type(error).__name__}"
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=15)
        if smi.returncode == 0:
            out["nvidia_smi"] = smi.stdout.strip().splitlines()[0]
            out["driver"] = out["nvidia_smi"].split(",")[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


__all__ = ["cuda_event_timing", "copy_bandwidth", "matmul_peak", "describe_gpu"]
