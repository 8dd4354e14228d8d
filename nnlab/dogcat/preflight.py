"""What a run checks before it trains, so that a bad path fails at once with one clear line
instead of after an epoch, and a second run never writes over a first.

* The run folder (``--logdir``) must be a folder this process can write. A folder that
  already holds a run (a ``checkpoint.pt`` or TensorBoard event files) is refused unless
  the run continues it (``--resume``) or replaces it (``--overwrite``, which deletes the
  earlier run's files first): two runs in one folder would share one checkpoint and mix
  their steps in TensorBoard. Other run files without either (a ``config.json`` left by a
  run stopped before its first step was logged) are simply replaced.
* A resumed run whose checkpoint has already reached its ``--epochs`` or ``--max-steps``
  has nothing left to train: it says so and writes nothing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Mapping

from nnlab.dogcat.checkpoint import CHECKPOINT_NAME
from nnlab.dogcat.run_folder import FILES

#: Files a training run writes into its folder besides TensorBoard's ``events.out.tfevents.*``.
RUN_FILES = (CHECKPOINT_NAME, *FILES)
EVENTS_GLOB = "events.out.tfevents.*"


class RunFolderError(ValueError):
    """The run folder cannot be used: a file, not writable, or holding another run."""


def earlier_run_files(folder: Path) -> list[Path]:
    """The files of a run already in ``folder`` (its checkpoint, run files and event files at any
    depth), or ``[]`` when it holds neither a checkpoint nor an event file."""
    if not folder.is_dir():
        return []
    events = sorted(p for p in folder.rglob(EVENTS_GLOB) if p.is_file())
    if not events and not (folder / CHECKPOINT_NAME).is_file():
        return []
    return [folder / name for name in RUN_FILES if (folder / name).is_file()] + events


def check_run_folder(logdir: str | os.PathLike, resuming: bool = False, overwrite: bool = False) -> Path:
    """Make sure ``logdir`` can take this run's files; create it. Returns it as a Path.

    Raises RunFolderError when it (or a folder above it) is a file, cannot be created or
    written, or holds an earlier run that is neither resumed nor to be overwritten; with
    ``overwrite`` the earlier run's files are deleted (other files are left alone).
    """
    folder = Path(logdir).expanduser()
    if resuming and overwrite:
        raise RunFolderError("--overwrite and --resume contradict each other: --resume continues the run in "
                             "its folder, --overwrite deletes it and starts afresh; pass one of them")
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                what = "is a file" if path == folder else f"lies under {path}, which is a file"
                raise RunFolderError(f"--logdir {folder} {what}, not a folder; pass a folder for the run's "
                                     "checkpoint and logs")
            break
    earlier = earlier_run_files(folder)
    if earlier and not resuming:
        if not overwrite:
            names = ", ".join(sorted({p.name if p.parent == folder else f"{p.parent.name}/…" for p in earlier}))
            raise RunFolderError(
                f"--logdir {folder} already holds a run ({names}); continue it with --resume {folder}, replace "
                "it with --overwrite, or pass another --logdir")
        for path in earlier:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                sub.rmdir()  # only the folders the deleted event files leave empty
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as error:
        raise RunFolderError(f"--logdir {folder} cannot be written: {error.strerror or error}; pass a folder "
                             "you can write") from error
    return folder


def nothing_left(ckpt: Mapping, epochs: int, max_steps: int | None) -> str | None:
    """Why a checkpoint has nothing left to train under ``epochs`` and ``max_steps``, or None."""
    epoch, step = int(ckpt["epoch"]), int(ckpt["global_step"])
    if epoch >= epochs:
        return (f"the run has finished {epoch} of {epochs} epochs (global step {step}); pass a larger --epochs "
                "to train on")
    if max_steps is not None and step >= max_steps:
        return (f"the run stopped at --max-steps {max_steps} (epoch {epoch + 1}); pass a larger --max-steps, or "
                "--max-steps 0 for no limit, to train on")
    return None


def check_same_data(saved: Mapping | None, now: Mapping) -> None:
    """A resumed run must see the photos it was trained on: same fingerprint (relative paths, labels
    and byte sizes of the files), wherever the folder now lies. Unknown on either side: not checked."""
    if not saved or not saved.get("fingerprint") or not now.get("fingerprint"):
        return
    if saved["fingerprint"] != now["fingerprint"]:
        raise ValueError(
            f"the photos in {now['root']} ({now['images']} images) are not the ones this run was trained on "
            f"({saved['images']} images in {saved['root']}): files were added, removed, renamed or changed. "
            "Resume with --data pointing to the run's photos, or start a new run")


__all__ = ["RUN_FILES", "RunFolderError", "check_run_folder", "check_same_data", "earlier_run_files", "nothing_left"]
