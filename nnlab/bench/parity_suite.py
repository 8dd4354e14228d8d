"""Figure 6: the wall time of the whole test suite, run as ``make test`` runs it."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from nnlab.bench.settings import REPO_ROOT, BenchSettings
from nnlab.bench.timing import Row, make_row, skipped_row
from nnlab.runtime import available_cores


# make test's options: pytest-xdist's workers, one per core, at most four.
SUITE_OPTIONS = ("-n", "auto", "--maxprocesses=4")


def suite_paths() -> list[str]:
    """The ``testpaths`` of pyproject.toml (``parity_tests``)."""
    try:
        import tomllib

        config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
        paths = config["tool"]["pytest"]["ini_options"]["testpaths"]
        return [str(p) for p in paths]
    except (ImportError, OSError, KeyError):
        return ["parity_tests"]


def figure_parity_suite(s: BenchSettings, progress: bool = False) -> list[Row]:
    paths = suite_paths()
    command = [sys.executable, "-m", "pytest", *SUITE_OPTIONS, "-q", "-p", "no:cacheprovider", *paths]
    case = f"python -m pytest {' '.join(SUITE_OPTIONS)} -q {' '.join(paths)}, {available_cores()} cores"
    if not s.run_suite:
        return [skipped_row("parity_suite", case, "s", f"not run in --{s.mode} mode (the full run measures it)", "< 60")]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=s.suite_timeout)
    except subprocess.TimeoutExpired:
        row = make_row("parity_suite", case, "s", [], target="< 60")
        row.met, row.reason = False, f"timed out after {s.suite_timeout:.0f} s"
        return [row]
    seconds = time.perf_counter() - start
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed)", done.stdout)}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or done.stdout.strip().splitlines()[-1:]
    row = make_row("parity_suite", case, "s", [seconds], target="< 60", detail=f"{summary}; exit status {done.returncode}",
                   counts=counts, returncode=done.returncode)
    if done.returncode != 0:
        row.reason = "the suite did not pass: " + "; ".join(done.stdout.strip().splitlines()[-3:])
    return [row]


__all__ = ["suite_paths", "figure_parity_suite"]
