"""Where a run executes: the device a --device choice names, and the cores the process may use."""

import os

import pytest
import torch

from nnlab.runtime import available_cores, resolve_device


def test_cpu_and_auto_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("cpu") == resolve_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="--device cuda: torch sees no CUDA device here; use --device cpu or auto"):
        resolve_device("cuda")


def test_cuda_takes_this_processs_gpu_under_torchrun(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("auto", local_rank=1) == resolve_device("cuda", local_rank=1) == torch.device("cuda", 1)
    assert resolve_device("cuda:0", local_rank=1) == torch.device("cuda", 0)  # an explicit index wins
    assert resolve_device("cpu", local_rank=1) == torch.device("cpu")


def test_available_cores_is_the_affinity_mask():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert available_cores() == max(1, expected)
