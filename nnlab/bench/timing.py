"""Timing things on a shared machine, and the table's rows: median, min and max of repeats against a target."""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


@dataclass
class Row:
    """One line of the table. ``target`` reads like ``<= 1.0``; ``met`` is None without one."""

    figure: str
    case: str
    unit: str
    median: float | None = None
    min: float | None = None
    max: float | None = None
    repeats: int = 0
    target: str = ""
    met: bool | None = None
    skipped: bool = False
    reason: str = ""
    detail: str = ""
    extra: dict = field(default_factory=dict)


_COMPARE = {"<=": lambda v, t: v <= t, "<": lambda v, t: v < t, ">=": lambda v, t: v >= t, ">": lambda v, t: v > t}


def make_row(figure: str, case: str, unit: str, samples: Sequence[float] | None = None,
             target: str = "", detail: str = "", **extra: Any) -> Row:
    """A row from raw samples: median, min, max, and ``met`` checked on the median."""
    row = Row(figure, case, unit, target=target, detail=detail, extra=extra)
    values = [float(s) for s in (samples or []) if s is not None and math.isfinite(s)]
    if values:
        row.median, row.min, row.max = statistics.median(values), min(values), max(values)
        row.repeats = len(values)
        if target:
            op, bound = target.split()
            row.met = bool(_COMPARE[op](row.median, float(bound)))
    return row


def skipped_row(figure: str, case: str, unit: str, reason: str, target: str = "") -> Row:
    return Row(figure, case, unit, target=target, skipped=True, reason=reason)


@dataclass
class Timing:
    """Seconds of repeated runs of one thing."""

    samples: list

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)


def time_repeats(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1,
                 sync: Callable[[], Any] | None = None) -> Timing:
    """Wall-clock seconds of ``fn()``, ``warmup`` untimed calls first; ``sync`` (e.g.
    ``torch.cuda.synchronize``) runs before each clock read so queued device work counts."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(max(1, repeats)):
        if sync:
            sync()
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        samples.append(time.perf_counter() - start)
    return Timing(samples)


def time_pairs(a: Callable[[], Any], b: Callable[[], Any], repeats: int = 5,
               warmup: int = 1, block: int = 1) -> tuple[Timing, Timing, list]:
    """Time ``a`` and ``b`` alternately; returns both timings and the per-pair ratios a/b.

    With ``block`` > 1 each sample is the median of ``block`` consecutive calls: the
    first call after a switch also pays for the other library's thread pool still
    spinning on the same cores, which the median leaves out.
    """
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    for _ in range(max(1, repeats)):
        for fn, out in ((a, ta), (b, tb)):
            calls = []
            for _ in range(max(1, block)):
                start = time.perf_counter()
                fn()
                calls.append(time.perf_counter() - start)
            out.append(statistics.median(calls))
    return Timing(ta), Timing(tb), [x / y for x, y in zip(ta, tb)]


@contextlib.contextmanager
def cpu_threads(n: int):
    """Run with ``n`` threads in NumPy's BLAS (threadpoolctl), in torch's intra-op pool and in the scratch
    layers' elementwise work (``scratch.parallel``)."""
    import torch
    from threadpoolctl import threadpool_limits

    import scratch.optim  # noqa: F401  (SciPy's BLAS loaded before the limit, so that it is limited too)
    import scratch.parallel

    before, before_scratch = torch.get_num_threads(), scratch.parallel.get_num_threads()
    with threadpool_limits(limits=n, user_api="blas"):
        torch.set_num_threads(n)
        scratch.parallel.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)
            scratch.parallel.set_num_threads(before_scratch)


def progress_bar(iterable, progress: bool, desc: str, total: int | None = None):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=not progress, leave=False, dynamic_ncols=True)


__all__ = ["Row", "make_row", "skipped_row", "Timing", "time_repeats", "time_pairs", "cpu_threads",
    "progress_bar"]
