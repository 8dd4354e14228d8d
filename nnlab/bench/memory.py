"""Figure 7: peak RSS of a process training the logistic model, and the CNN, for one epoch from a memory-mapped
cache (the CNN at its default batch of 64: its activations and the scratch twin's im2col columns grow with the
batch, not with the data set)."""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from nnlab.bench.settings import REPO_ROOT, BenchSettings
from nnlab.bench.timing import Row, make_row, progress_bar


def write_synthetic_cache(folder: Path, n: int, size: int = 100, chunk: int = 500, seed: int = 0) -> tuple[Path, Path]:
    """An ``(n, 3, size, size)`` uint8 ``.npy`` and its ``.json`` in the dog/cat cache format
    (``nnlab.dogcat.cache``), written chunk by chunk so at most ``chunk`` images are in memory."""
    from nnlab.dogcat.cache import CACHE_FORMAT

    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"dogcat-synthetic-{size}px-n{n}"
    rng = np.random.default_rng(seed)
    block = rng.integers(0, 256, (min(chunk, n), 3, size, size), dtype=np.uint8)
    npy = stem.with_suffix(".npy")
    with open(npy, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (n, 3, size, size)})
        for start in range(0, n, len(block)):
            f.write(block[: min(len(block), n - start)].tobytes())
    labels = (np.arange(n) % 2).tolist()
    meta = {
        "format": CACHE_FORMAT, "key": f"synthetic-n{n}", "decoder": "synthetic", "size": size, "layout": "synthetic",
        "root": str(folder), "npy_bytes": npy.stat().st_size,
        "paths": [f"{'dog' if y else 'cat'}.{i}.jpg" for i, y in enumerate(labels)], "labels": labels, "skipped": [],
    }
    stem.with_suffix(".json").write_text(json.dumps(meta))
    return npy, stem.with_suffix(".json")


def _proc_status_kb() -> dict:
    out = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "VmPeak"):
                out[key] = int(value.split()[0])
    return out


def memory_child(request_json: str) -> None:
    """Run in a subprocess: one epoch of the trainer from the memory-mapped cache, then print
    the process's peak RSS as one JSON line (VmHWM from /proc/self/status, ru_maxrss)."""
    from nnlab.dogcat.config import TrainConfig
    from nnlab.dogcat.data import ArrayData
    from nnlab.dogcat.train import train

    request = json.loads(request_json)
    images = np.load(request["npy"], mmap_mode="r")  # how nnlab.dogcat.cache opens the cache
    labels = np.asarray(json.loads(Path(request["json"]).read_text())["labels"], dtype=np.int64)
    before = _proc_status_kb()
    peaks = {"RssAnon": 0, "RssFile": 0}
    done = threading.Event()

    def sample() -> None:  # VmHWM has no per-kind peak: poll the kinds of resident memory
        while not done.wait(0.02):
            now = _proc_status_kb()
            for key in peaks:
                peaks[key] = max(peaks[key], now.get(key, 0))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    model = request.get("model", "logistic")
    channels = {"channels": request["channels"]} if model == "cnn" else {}
    config = TrainConfig(model=model, impl=request["impl"], device="cpu", epochs=1, **channels,
                         batch_size=128 if model == "logistic" else None,  # None: the model's default
                         image_size=images.shape[-1], tensorboard=False, logdir=request["logdir"], progress=False)
    start = time.perf_counter()
    result = train(config, data=ArrayData(images, labels, "synthetic memory-mapped cache"), log=lambda msg: None)
    done.set()
    sampler.join()
    status = _proc_status_kb()
    print(json.dumps({
        "seconds": time.perf_counter() - start, "steps": result.global_step, "status_kb": status,
        "status_before_training_kb": before, "sampled_peak_kb": peaks,
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


def figure_memory(s: BenchSettings, progress: bool = False) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-memory-") as tmp:
        npy, meta = write_synthetic_cache(Path(tmp) / "cache", s.memory_images, s.image_size)
        gb = npy.stat().st_size / 1e9
        cases = [(model, impl) for model in s.memory_models for impl in s.memory_impls]
        for model, impl in progress_bar(cases, progress, "peak RSS"):
            request = json.dumps({"npy": str(npy), "json": str(meta), "impl": impl, "model": model,
                                  "channels": list(s.cnn_channels),
                                  "logdir": str(Path(tmp) / f"{model}-{impl}")})
            code = "import sys; from nnlab.bench.memory import memory_child; memory_child(sys.argv[1])"
            done = subprocess.run([sys.executable, "-c", code, request], cwd=REPO_ROOT, capture_output=True,
                                  text=True, timeout=1200)
            if done.returncode != 0:
                raise RuntimeError(f"memory child ({model}, {impl}) failed: {done.stderr.strip()[-2000:]}")
            report = json.loads(done.stdout.strip().splitlines()[-1])
            status = report["status_kb"]
            peak_kb = status.get("VmHWM", report["ru_maxrss_kb"])
            start_kb = report["status_before_training_kb"].get("VmRSS", 0)
            rows.append(make_row(
                "memory", f"{model} ({impl}), one epoch from a {s.memory_images:,}-image cache ({gb:.2f} GB "
                          "memory-mapped)" + (", batch 64" if model == "cnn" else ""),
                "GB", [peak_kb * 1024 / 1e9], target="< 2.0" if model == "cnn" else "< 1.2",
                detail=(f"peak RSS (VmHWM); {start_kb * 1024 / 1e9:.2f} GB before training; peaks sampled every "
                        f"20 ms: {report['sampled_peak_kb']['RssAnon'] * 1024 / 1e9:.2f} GB private (anonymous), "
                        f"{report['sampled_peak_kb']['RssFile'] * 1024 / 1e9:.2f} GB file pages (the map and "
                        f"libraries); {report['steps']} steps in {report['seconds']:.1f} s"),
                **report,
            ))
    return rows


__all__ = ["write_synthetic_cache", "memory_child", "figure_memory"]
