"""Elementwise work of large arrays on several cores, and in pieces that stay in the cache.

A layer's elementwise work (BatchNorm's scaling, ReLU, max-pooling's gathers) runs in
NumPy on one thread, while a BLAS product uses every core: on a CNN's activations that
one thread becomes the step's bottleneck. Here a batch is cut into blocks of whole
samples, about :data:`BLOCK_ELEMENTS` values each (a few hundred KB: the several passes
an operation makes over a block find it in the core's cache), and the blocks are dealt
out to a few threads. NumPy releases the GIL inside its loops, so the threads run at
once.

``set_num_threads(n)`` / ``get_num_threads()`` mirror ``torch.set_num_threads``: the
number of threads the scratch layers use (the BLAS library keeps its own count, which
threadpoolctl sets). The split never changes a value: every element is computed by the
same operations, whichever thread computes it, so results are identical for any count.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

__all__ = ["BLOCK_ELEMENTS", "get_num_threads", "set_num_threads", "sample_blocks", "for_blocks"]

#: Values per block: 64 Ki float32 values are 256 KB, inside a core's L2 cache.
BLOCK_ELEMENTS = 1 << 16

_num_threads: int | None = None  # None: every core this process may use
_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] | None = None  # (process id, workers): a forked child builds its own pool


def get_num_threads() -> int:
    """Threads the scratch layers use for elementwise work (default: the cores this process may use)."""
    if _num_threads is not None:
        return _num_threads
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (≥ 1) for elementwise work, as ``torch.set_num_threads(n)`` does for torch's."""
    global _num_threads
    if int(n) != n or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    _num_threads = int(n)


def sample_blocks(n: int, sample_size: int, target: int = BLOCK_ELEMENTS) -> list[tuple[int, int]]:
    """[start, stop) ranges over ``n`` samples of ``sample_size`` values, about ``target`` values each
    (at least one sample)."""
    step = max(1, target // max(1, sample_size))
    return [(s, min(s + step, n)) for s in range(0, n, step)]


def for_blocks(blocks: Sequence[tuple[int, int]], fn: Callable[[int, int], None]) -> None:
    """``fn(start, stop)`` for every block, the blocks shared among ``get_num_threads()`` threads (the caller's
    among them). ``fn`` must write only its own block's part of the output. An exception is raised here."""
    k = min(get_num_threads(), len(blocks))
    if k <= 1:
        for start, stop in blocks:
            fn(start, stop)
        return
    pool = _workers(k - 1)
    share = -(-len(blocks) // k)  # contiguous runs of blocks: neighbouring memory stays with one thread
    parts = [blocks[i:i + share] for i in range(0, len(blocks), share)]
    futures = [pool.submit(_run, fn, part) for part in parts[1:]]
    try:
        _run(fn, parts[0])
    finally:
        for future in futures:
            future.result()


def _run(fn: Callable[[int, int], None], blocks: Sequence[tuple[int, int]]) -> None:
    for start, stop in blocks:
        fn(start, stop)


def _workers(count: int) -> ThreadPoolExecutor:
    global _pool, _pool_key
    key = (os.getpid(), count)
    if _pool is None or _pool_key != key:
        if _pool is not None and _pool_key[0] == os.getpid():
            _pool.shutdown(wait=True)
        _pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="scratch-elementwise")
        _pool_key = key
    return _pool
