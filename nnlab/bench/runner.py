"""Running the selected figures side by side in one process, and writing the result as JSON."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from nnlab.bench.cache_epoch import figure_cache_epoch
from nnlab.bench.cnn_step import figure_cnn_step
from nnlab.bench.cpu_epoch import figure_cpu_epoch
from nnlab.bench.decode import figure_decode
from nnlab.bench.gpu_cnn import figure_gpu_cnn_epoch
from nnlab.bench.gpu_epoch import figure_gpu_epoch
from nnlab.bench.gpu_vanishing import figure_gpu_vanishing
from nnlab.bench.machine import describe_machine
from nnlab.bench.memory import figure_memory
from nnlab.bench.parity_suite import figure_parity_suite
from nnlab.bench.settings import FIGURES, BenchSettings
from nnlab.bench.tensorboard import figure_tensorboard
from nnlab.bench.timing import Row
from nnlab.bench.train_step import figure_train_step

FIGURE_FUNCTIONS: dict[str, Callable[[BenchSettings, bool], list[Row]]] = {
    "train_step": figure_train_step,
    "cnn_step": figure_cnn_step,
    "decode": figure_decode,
    "cache_epoch": figure_cache_epoch,
    "cpu_epoch": figure_cpu_epoch,
    "gpu_epoch": figure_gpu_epoch,
    "gpu_cnn_epoch": figure_gpu_cnn_epoch,
    "gpu_vanishing": figure_gpu_vanishing,
    "tensorboard": figure_tensorboard,
    "parity_suite": figure_parity_suite,
    "memory": figure_memory,
}


def run_benchmark(mode: str = "full", only: Iterable[str] | None = None, progress: bool = True,
                  settings: BenchSettings | None = None, command: str = "") -> dict:
    """Run the selected figures (all by default) and return the JSON-able result.

    Every figure appears in ``result["figures"]``: measured, skipped (with the reason) or
    failed (with the error); one failing figure does not stop the others.
    """
    from tqdm.auto import tqdm

    settings = settings or BenchSettings.for_mode(mode)
    selected = list(FIGURES) if not only else list(only)
    unknown = [f for f in selected if f not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; expected some of {list(FIGURES)}")
    started = time.time()
    result = {
        "command": command,
        "mode": settings.mode,
        "settings": asdict(settings),
        "machine": describe_machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "figures": {},
    }
    bar = tqdm(FIGURES, desc="benchmark", disable=not progress, dynamic_ncols=True)
    for name in bar:
        bar.set_postfix_str(name)
        if name not in selected:
            result["figures"][name] = {"skipped": True, "reason": "not selected (--only)", "rows": [], "seconds": 0.0}
            continue
        start = time.perf_counter()
        entry: dict = {"skipped": False, "reason": "", "rows": []}
        try:
            rows = FIGURE_FUNCTIONS[name](settings, progress)
            entry["rows"] = [asdict(r) for r in rows]
            if rows and all(r.skipped for r in rows):
                entry["skipped"], entry["reason"] = True, rows[0].reason
        except Exception as error:  # report it and go on with the other figures
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = traceback.format_exc()
        entry["seconds"] = time.perf_counter() - start
        result["figures"][name] = entry
    result["seconds"] = time.time() - started
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return result


def write_json(result: dict, path: str | os.PathLike) -> Path:
    """Write ``result`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=1, default=_json_default)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


__all__ = ["run_benchmark", "write_json", "FIGURE_FUNCTIONS"]
