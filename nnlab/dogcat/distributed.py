"""Data-parallel training over processes: torchrun + DistributedDataParallel.

Launch on one machine with ``torchrun --nproc_per_node=K scripts/train_dogcat.py …``
(gloo on CPU, nccl on CUDA, one GPU per process). Every process builds the
same model from the same seed and walks the same seeded permutation of the
training set; global batch b (``order[b·B:(b+1)·B]``) is split by striding,
process r taking ``batch[r::K]`` — a DistributedSampler applied per global
batch, so K processes take exactly the steps one process would on the same
global batches.

Why the weights then match a single process: each process computes
Σ_{i∈shard} ℓ_i · K/B, DDP averages the gradients over the K processes, and
(1/K) Σ_r K/B Σ_{i∈shard_r} ∇ℓ_i = (1/B) Σ_{i∈batch} ∇ℓ_i, the single-process
gradient of the mean loss, also when the last batch does not split evenly.

BatchNorm is the exception: each process would normalize with its own
shard's statistics. On CUDA the layers become ``SyncBatchNorm``; on CPU
(gloo has no SyncBatchNorm) BatchNorm with more than one process is refused.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """This process's place in the group; the default is a single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """A process group was joined (also by a launch of one process): the model is wrapped in DDP."""
        return self.backend is not None


def init_from_env(device_choice: str = "auto") -> DistContext:
    """Join the process group torchrun described in ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``/``MASTER_ADDR``.

    Without those variables this is a single process and nothing is initialized; a launch
    of one process (``torchrun --nproc_per_node=1``) joins a group of one, so its model is
    wrapped in DDP and its gradients pass through the backend (nccl on CUDA) as with more.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 and not ("MASTER_ADDR" in os.environ and "RANK" in os.environ):
        return DistContext()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = device_choice != "cpu" and torch.cuda.is_available()
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistContext(rank=rank, world_size=world, local_rank=local, backend=backend)


def shard(batch: Any, ctx: DistContext) -> Any:
    """This process's part of a global batch of indices: ``batch[rank::world_size]``."""
    return batch[ctx.rank :: ctx.world_size]


def wrap_model(module: torch.nn.Module, ctx: DistContext) -> torch.nn.Module:
    """DistributedDataParallel around ``module`` (gradients averaged during backward)."""
    from torch.nn.parallel import DistributedDataParallel

    device = next(module.parameters()).device
    if device.type == "cuda":
        return DistributedDataParallel(module, device_ids=[device.index], output_device=device.index)
    return DistributedDataParallel(module)


def prepare_batchnorm(module: torch.nn.Module, ctx: DistContext) -> torch.nn.Module:
    """SyncBatchNorm on CUDA; a clear refusal on CPU, where per-process statistics would differ."""
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())
    if not has_bn or ctx.world_size <= 1:
        return module
    if ctx.backend == "nccl":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    raise ValueError(
        "BatchNorm (--batchnorm, and every block of --model cnn) with several CPU processes would normalize "
        "each shard with its own statistics (SyncBatchNorm needs CUDA); train BatchNorm models in one process"
    )


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all processes, in place."""
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier(ctx: DistContext) -> None:
    if ctx.world_size > 1 and dist.is_initialized():
        dist.barrier()


@contextlib.contextmanager
def main_process_first(ctx: DistContext) -> Iterator[None]:
    """Rank 0 runs the block first (e.g. builds the image cache), the others after it."""
    if not ctx.is_main:
        barrier(ctx)
    yield
    if ctx.is_main:
        barrier(ctx)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_local(fn: Callable[..., Any], nprocs: int, *args: Any, threads_per_process: int = 1,
                 start_method: str = "spawn", **kwargs: Any) -> None:
    """Run ``fn(*args, **kwargs)`` in ``nprocs`` local processes, as torchrun would (for tests and demos).

    Each process gets the environment torchrun sets (``MASTER_ADDR``,
    ``MASTER_PORT``, ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``), so ``fn`` joins the
    group through :func:`init_from_env`; e.g. ``launch_local(train, 2, config)``
    trains with DDP, rank 0 writing the logs and checkpoints. Raises if any process
    fails. ``start_method`` "fork" starts in milliseconds (the children inherit the
    imported torch) but is only safe from a process that has not started CUDA or
    extra threads; "spawn" needs ``fn`` importable by name.
    """
    import torch.multiprocessing as mp

    port = free_port()
    mp.start_processes(
        _worker, args=(nprocs, port, threads_per_process, fn, args, kwargs),
        nprocs=nprocs, join=True, start_method=start_method,
    )


def _worker(rank: int, world: int, port: int, threads: int, fn: Callable[..., Any], args: tuple,
            kwargs: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(threads)
    try:
        fn(*args, **kwargs)
    finally:
        cleanup()


__all__ = [
    "DistContext", "init_from_env", "shard", "wrap_model", "prepare_batchnorm", "all_reduce_sum",
    "barrier", "main_process_first", "cleanup", "free_port", "launch_local",
]
