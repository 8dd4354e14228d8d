"""Running out of disk space, said plainly: how much a file needs and how much is free where it goes.

The cache and the checkpoints reserve their bytes before writing (``reserve``), so a full
disk is an error with this message before anything is written, never a torn file, a
``SIGBUS`` from a memory map over a sparse file, or a library's internal error text.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

#: errno values that mean "no room": the disk is full or the user's quota or file-size limit is reached.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class NoSpaceError(OSError):
    """Not enough room to write a file; the message names the folder, the bytes needed and those free."""


def free_bytes(folder: str | os.PathLike) -> int | None:
    """Bytes free to this user where ``folder`` (or its nearest existing parent) lives; None if unknown."""
    path = Path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def _mb(n: int) -> str:
    return f"{n / 1e3:,.1f} kB" if n < 1e6 else f"{n / 1e6:,.1f} MB" if n < 10e9 else f"{n / 1e9:,.1f} GB"


def no_space(what: str, folder: str | os.PathLike, needed: int, error: OSError | None = None) -> NoSpaceError:
    """The error for ``what`` (e.g. "the image cache") not fitting in ``folder``."""
    free = free_bytes(folder)
    have = f"{_mb(free)} free" if free is not None else "free space unknown"
    why = "" if error is None or error.errno == errno.ENOSPC else f"; {error.strerror or error}"
    failure = NoSpaceError(f"no space left for {what} in {folder} (needs {_mb(needed)}, {have}{why})")
    failure.errno = errno.ENOSPC
    return failure


def reserve(fd: int, size: int, what: str, folder: str | os.PathLike) -> None:
    """Allocate ``size`` bytes of the open file ``fd`` on disk now (``posix_fallocate``), or raise
    :class:`NoSpaceError`. Where the platform cannot reserve, the free space is checked instead."""
    if size <= 0:
        return
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
            return
        except OSError as error:
            if error.errno in NO_SPACE:
                raise no_space(what, folder, size, error) from error
            if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    free = free_bytes(folder)
    if free is not None and free < size:
        raise no_space(what, folder, size)
    os.ftruncate(fd, max(size, os.fstat(fd).st_size))


__all__ = ["NO_SPACE", "NoSpaceError", "free_bytes", "no_space", "reserve"]
