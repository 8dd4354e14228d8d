"""Checkpoints: written atomically, read back with ``torch.load(weights_only=True)``.

A checkpoint is one ``torch.save`` file holding only tensors and plain
containers (dict, list, tuple, str, int, float, bool, None), so that loading
never runs pickled code::

    {
      "format":        "nnlab.dogcat/1",
      "model_spec":    ModelSpec.to_dict(),
      "model":         state_dict of the primary twin (tensors, torch's keys),
      "twins":         {"torch" | "scratch": {"model": …, "optimizer": …, "grad_scaler": …}},
      "epoch":         epoch in progress (0-based),
      "step_in_epoch": batches of that epoch already taken,
      "global_step":   optimizer steps taken in total,
      "epoch_sums":    running sums of the unfinished epoch's train metrics,
      "history":       per-epoch metrics so far,
      "rng":           Python, NumPy, torch (and CUDA) generator states,
      "normalization": Normalization.to_dict(),
      "config":        TrainConfig as a dict,
    }

Atomic write: the file is written to a temporary name in the same folder,
flushed to disk, then ``os.replace``\\ d over the target, so a reader sees
either the old checkpoint or the new one, never a torn file, even if the
process dies mid-write.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Mapping

import numpy as np
import torch

from nnlab.dogcat.diskspace import NoSpaceError, reserve

FORMAT = "nnlab.dogcat/1"
CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not hold what is needed."""


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (temp file in the same folder + ``os.replace``).

    NumPy arrays and scalars anywhere in ``payload`` are converted to tensors
    and Python numbers first, so the file loads with ``weights_only=True``.

    The checkpoint is serialised in memory first, so its size is known and its bytes are
    reserved on disk before any is written: a full disk (or any failed write) is a
    CheckpointError naming the folder and the space needed and free, and the previous
    checkpoint at ``path`` is left as it was.
    """
    safe = to_safe(dict(payload))
    buffer = io.BytesIO()
    torch.save(safe, buffer)
    data = buffer.getbuffer()
    try:
        with atomic_file(path) as f:
            reserve(f.fileno(), len(data), "the checkpoint", Path(path).parent)
            f.write(data)
    except NoSpaceError as error:
        raise CheckpointError(f"{error}; the previous checkpoint at {path} is unchanged") from error
    except OSError as error:
        raise CheckpointError(f"cannot write the checkpoint {path}: {error.strerror or error}; the previous one "
                              "is unchanged") from error
    return Path(path)


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file whose contents replace ``path`` atomically when the block ends without error.

    Written under a temporary name in the same folder, flushed to disk, then moved over
    ``path`` with ``os.replace``; on an error the temporary file is removed and ``path`` is untouched. The
    file gets the permissions ``open`` would give it (0o666 less the umask), not the 0o600 of
    ``tempfile.mkstemp``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    """The process umask: read from /proc where it is shown (no change), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Read a checkpoint with ``weights_only=True``; a clear error when it is not one."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint not found: {path} (expected the {CHECKPOINT_NAME} that scripts/train_dogcat.py "
            "writes into its --logdir, or that folder)"
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt file, not a torch file, unsafe content
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(
            f"{path} is not a dog/cat training checkpoint (format {found!r}, expected {FORMAT!r})"
        )
    return ckpt


def to_safe(obj: Any) -> Any:
    """Replace NumPy arrays by tensors and NumPy scalars by Python numbers, recursively."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj, copy=True))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone() if obj.device.type != "cpu" else obj.detach()
    if isinstance(obj, Mapping):
        return {k: to_safe(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(to_safe(v) for v in obj)
    if isinstance(obj, list):
        return [to_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_numpy_tree(obj: Any) -> Any:
    """Inverse direction for the scratch twin: tensors become NumPy arrays, recursively."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy().copy()
    if isinstance(obj, Mapping):
        return {k: to_numpy_tree(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(to_numpy_tree(v) for v in obj)
    if isinstance(obj, list):
        return [to_numpy_tree(v) for v in obj]
    return obj


def rng_states() -> dict:
    """Every global generator's state: Python, NumPy's legacy global, torch CPU and CUDA."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states = {
        "python": random.getstate(),
        "numpy": {
            "kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: Mapping[str, Any]) -> None:
    """Put back what :func:`rng_states` saved (CUDA only when a device is present)."""
    if "python" in states:
        version, internal, gauss = states["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in states:
        s = states["numpy"]
        keys = np.asarray(s["keys"].numpy() if isinstance(s["keys"], torch.Tensor) else s["keys"])
        np.random.set_state((s["kind"], keys.astype(np.uint32), s["pos"], s["has_gauss"], s["cached_gaussian"]))
    if "torch" in states:
        torch.set_rng_state(states["torch"].cpu())
    if "cuda" in states and torch.cuda.is_available():
        cuda = list(states["cuda"])[: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = [
    "FORMAT", "CHECKPOINT_NAME", "CheckpointError", "save_checkpoint", "atomic_file", "load_checkpoint",
    "to_safe", "to_numpy_tree", "rng_states", "restore_rng_states",
]
