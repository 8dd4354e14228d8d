"""``make gpu-check``: every CUDA test and every GPU figure in one run, under four minutes, into one JSON.

On a machine whose Python sees a CUDA device it

1. names the GPU (``torch.cuda.get_device_name``, capability, memory, driver, CUDA runtime,
   cuDNN and nccl versions, ``nvidia-smi``'s line);
2. runs ``pytest -m cuda parity_tests/cuda`` in a child process, each test's outcome
   appended to a log as it finishes (``$GPU_CHECK_TEST_LOG``, written by the folder's
   conftest), so a run stopped at its time limit still reports what finished;
3. runs each GPU figure in a child process of its own, with its own time limit (a hung
   kernel cannot hold the others back), the logistic epoch's ``torch.compile`` variant
   apart from the plain and CUDA-graph ones (compilation is the slowest part);
4. writes everything, with the time each part took, to one JSON file.

A failing test never stops the figures. The exit status is 0 when every test passed (or
skipped) and every figure ran, 1 otherwise. Without a CUDA device (or without torch) it
says so and runs nothing (exit status 0).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from nnlab.bench.settings import REPO_ROOT
from nnlab.runtime import cuda_status

#: (part, time limit in seconds, figure, settings overrides): 225 s of limits in all, under the 4 minutes.
PARTS = (
    ("cuda tests", 100, None, {}),
    ("gpu_epoch plain and CUDA graph", 25, "gpu_epoch", {"gpu_variants": ["plain", "cuda_graph"]}),
    ("gpu_epoch torch.compile", 40, "gpu_epoch", {"gpu_variants": ["compile"]}),
    ("gpu_cnn_epoch", 35, "gpu_cnn_epoch", {}),
    ("gpu_vanishing", 25, "gpu_vanishing", {}),
)
DEFAULT_OUT = Path("gpu_results") / "gpu-check.json"
#: In this order: the parity proofs first, ``torch.compile``'s compilations (the slowest) last.
TEST_FILES = tuple(f"parity_tests/cuda/test_cuda_{name}.py" for name in ("training", "vanishing", "outputs", "speedups"))


def child_env(extra: dict | None = None) -> dict:
    """The environment of the child processes: the checkout first on PYTHONPATH, no progress bars."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    env["TQDM_DISABLE"] = "1"
    env.update(extra or {})
    return env


def run_child(cmd: list[str], limit: float, env: dict) -> dict:
    """Run ``cmd`` with a time limit: its status (None when stopped at the limit), seconds and output's tail."""
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=limit)
        status, out = done.returncode, (done.stdout or "") + (done.stderr or "")
    except subprocess.TimeoutExpired as stopped:
        status = None
        out = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                      for x in (stopped.stdout, stopped.stderr))
    return {"status": status, "seconds": round(time.perf_counter() - start, 1), "output_tail": out[-4000:]}


def read_test_log(path: str | Path) -> list[dict]:
    """The outcomes the conftest appended (nodeid, outcome, seconds, message), the worst phase's per test."""
    rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 2}
    tests: dict[str, dict] = {}
    p = Path(path)
    for line in (p.read_text().splitlines() if p.exists() else []):
        entry = json.loads(line)
        known = tests.get(entry["nodeid"])
        if known is None or rank[entry["outcome"]] > rank[known["outcome"]]:
            tests[entry["nodeid"]] = entry
    return list(tests.values())


def run_tests(python: str, limit: float) -> dict:
    """``pytest -m cuda parity_tests/cuda`` in a child; every test's outcome, and how the run ended."""
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        log = Path(tmp) / "tests.jsonl"
        cmd = [python, "-m", "pytest", "-m", "cuda", *TEST_FILES, "-q", "-rfEs", "-p", "no:cacheprovider"]
        child = run_child(cmd, limit, child_env({"GPU_CHECK_TEST_LOG": str(log)}))
        tests = read_test_log(log)
    counts: dict[str, int] = {}
    for t in tests:
        counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
    ok = child["status"] in (0, 5) and not any(t["outcome"] in ("failed", "error") for t in tests)
    return {"command": " ".join(cmd[1:]), **child, "counts": counts, "tests": tests, "ok": ok and bool(tests),
            "stopped_at_limit": child["status"] is None}


def run_figure(python: str, figure: str, overrides: dict, limit: float) -> dict:
    """One GPU figure in a child process (``--figure``), its rows, or why it has none."""
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        out = Path(tmp) / "figure.json"
        cmd = [python, "-m", "nnlab.cli.gpu_check", "--figure", figure, "--settings", json.dumps(overrides),
               "--out", str(out)]
        child = run_child(cmd, limit, child_env())
        entry = json.loads(out.read_text()) if out.exists() else {}
    rows = entry.get("rows", [])
    failed = [r["case"] for r in rows if (r.get("reason") or "").startswith("failed")]
    ok = child["status"] == 0 and bool(rows) and not entry.get("error") and not failed
    return {**child, "rows": rows, "error": entry.get("error"), "ok": ok, "stopped_at_limit": child["status"] is None}


def figure_in_this_process(figure: str, overrides: dict, out: str | Path) -> int:
    """The ``--figure`` mode: run one figure in the ``gpu`` settings (with ``overrides``) and write its rows."""
    from dataclasses import asdict, replace

    from nnlab.bench.runner import FIGURE_FUNCTIONS, write_json
    from nnlab.bench.settings import BenchSettings

    settings = replace(BenchSettings.for_mode("gpu"), **{k: tuple(v) if isinstance(v, list) else v
                                                        for k, v in overrides.items()})
    entry: dict[str, Any] = {"figure": figure, "settings": asdict(settings)}
    try:
        entry["rows"] = [asdict(r) for r in FIGURE_FUNCTIONS[figure](settings, False)]
    except Exception as error:  # noqa: BLE001 — reported in the JSON, the parent decides
        import traceback

        entry.update(rows=[], error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
    write_json(entry, out)
    return 1 if entry.get("error") else 0


def gpu_check(python: str, out: str | Path, say: Callable[[str], None] = print, skip_tests: bool = False,
              skip_figures: bool = False) -> int:
    """The whole check (see the module docstring); returns the exit status."""
    available, line = cuda_status()
    if not available:
        say(f"{line}; nothing was run")
        return 0
    say(line)
    from nnlab.bench.gpu_floors import describe_gpu
    from nnlab.bench.machine import describe_machine
    from nnlab.bench.runner import write_json

    started = time.time()
    result: dict[str, Any] = {"gpu": describe_gpu(), "python": python, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                              "parts": {}}
    try:
        result["machine"] = describe_machine()
    except Exception as error:  # noqa: BLE001 — e.g. no threadpoolctl: the GPU's description is enough
        result["machine"] = {"error": f"{type(error).__name__}: {error}"}
    g = result["gpu"]
    say(f"GPU: {g.get('name')}, compute capability {g.get('capability')}, {g.get('memory_gib')} GiB, driver "
        f"{g.get('driver', g.get('cuda_driver_api', '?'))}, CUDA {g.get('cuda_runtime')}, cuDNN {g.get('cudnn')}")
    for name, limit, figure, overrides in PARTS:
        if (figure is None and skip_tests) or (figure is not None and skip_figures):
            continue
        say(f"{name} (limit {limit} s) …")
        part = run_tests(python, limit) if figure is None else run_figure(python, figure, overrides, limit)
        part["limit_seconds"] = limit
        result["parts"][name] = part
        say("  " + _summary(part))
        write_json(result, out)  # after every part: a killed check still leaves what it measured
    result["seconds"] = round(time.time() - started, 1)
    result["ok"] = all(p["ok"] for p in result["parts"].values())
    path = write_json(result, out)
    say(f"{'all passed' if result['ok'] else 'FAILURES (see above)'} in {result['seconds']:.0f} s; JSON: {path}")
    return 0 if result["ok"] else 1


def _summary(part: dict) -> str:
    end = "stopped at its time limit" if part["stopped_at_limit"] else f"exit status {part['status']}"
    if "tests" in part:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(part["counts"].items())) or "no test reported"
        bad = [f"{t['nodeid']}: {t['message'][:200]}" for t in part["tests"] if t["outcome"] in ("failed", "error")]
        return f"{counts}; {end}, {part['seconds']} s" + "".join(f"\n    {b}" for b in bad)
    rows = [f"\n    {r['case']}: " + (r["reason"] if r.get("reason") else
                                       f"{r['median']:.4g} {r['unit']}" + (f" (target {r['target']})" if r["target"] else ""))
            for r in part["rows"]]
    return f"{end}, {part['seconds']} s" + (f"; {part['error']}" if part.get("error") else "") + "".join(rows)


__all__ = ["PARTS", "DEFAULT_OUT", "read_test_log", "run_tests", "run_figure", "figure_in_this_process",
           "gpu_check"]
