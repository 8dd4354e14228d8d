"""The machine a benchmark ran on: CPU, cores, memory, BLAS, library versions, GPU, load."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import numpy as np

from nnlab.runtime import available_cores


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _meminfo_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) * 1024 / 1e9, 1)
    except OSError:
        pass
    return None


def describe_machine() -> dict:
    """CPU model, cores, memory, BLAS in use (threadpoolctl), library versions, GPU if any, load."""
    import PIL
    import torch
    from PIL import features
    from threadpoolctl import threadpool_info

    blas = [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture", "threading_layer", "filepath")}
        for info in threadpool_info()
    ]
    torch_blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    gpu = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu = {"name": props.name, "memory_gb": round(props.total_memory / 1e9, 1),
               "cuda": torch.version.cuda, "count": torch.cuda.device_count()}
    return {
        "cpu_model": _cpu_model(),
        "cores_available": available_cores(),
        "cores_logical": os.cpu_count(),
        "memory_gb": _meminfo_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_blas": torch_blas.group(1) if torch_blas else None,
        "torch_threads": torch.get_num_threads(),
        "pillow": PIL.__version__,
        "libjpeg_turbo": bool(features.check_feature("libjpeg_turbo")),
        "threadpools": blas,
        "gpu": gpu,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


__all__ = ["describe_machine"]
