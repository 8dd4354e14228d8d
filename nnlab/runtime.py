"""Where a run executes: the CPU cores it may use, the torch device it asks for, and whether
it talks to a terminal (progress bars).

Both the dog/cat pipeline and the studies read these, so a ``--device`` flag means the
same everywhere, a core count is the one the process is allowed, not the machine's, and
a log piped to a file never fills with progress-bar carriage returns.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def show_progress(requested: bool = True, stream: Any = None) -> bool:
    """Whether to draw progress bars: asked for (no ``--no-progress``), ``$TQDM_DISABLE`` unset
    (or 0/false/no), and ``stream`` (default: stderr, where tqdm draws) a terminal.

    Pass ``disable=not show_progress(...)`` to tqdm, or hand the result down as a
    ``progress`` flag: a piped or redirected log then gets only whole lines.
    """
    if not requested or os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def resolve_device(choice: str, local_rank: int | None = None) -> torch.device:
    """The device a ``--device`` choice names: ``auto`` → CUDA when torch sees a GPU, else the CPU.

    ``local_rank`` (under torchrun) picks this process's GPU when the choice leaves the
    index open. Asking for CUDA where torch sees none is an error that says what to pass.
    """
    import torch  # here, not above: the decode workers count cores without loading torch

    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {choice}: torch sees no CUDA device here; use --device cpu or auto")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(choice)
    if device.type == "cuda" and device.index is None and local_rank is not None:
        device = torch.device("cuda", local_rank)
    return device


def cuda_status() -> tuple[bool, str]:
    """(whether this Python sees a CUDA device, one line saying what it sees); never raises, also without torch."""
    try:
        import torch
    except ImportError as error:
        return False, (f"no CUDA here: {sys.executable} cannot import torch ({error}). On a GPU machine pass "
                       "PYTHON= an interpreter with a CUDA build of torch")
    if not torch.cuda.is_available():
        built = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        return False, (f"no CUDA device: torch {torch.__version__} ({built}) sees none "
                       "(torch.cuda.is_available() is False)")
    return True, f"CUDA: {torch.cuda.get_device_name(0)} (torch {torch.__version__}, CUDA {torch.version.cuda})"


__all__ = ["DEVICES", "available_cores", "show_progress", "resolve_device", "cuda_status"]
