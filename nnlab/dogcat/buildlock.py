"""One build of a cache at a time, with a lock that cannot outlive the process holding it.

The lock is a POSIX record lock (``fcntl.lockf``) on a small file whose content names the
holder's process id. Record locks belong to a process, are not inherited by ``fork``ed
children, and are released by the kernel when the process exits however it dies
(``kill -9`` included). A ``flock`` lock, by contrast, belongs to the open file, which
forked decode workers share: a worker that outlives its parent keeps such a lock held,
and every later run waits forever. Threads of one process are serialised by a
``threading.Lock`` besides, since record locks do not tell them apart.

A process that finds the lock held says so, names the holder, and repeats every
``WAIT_REPORT_SECONDS`` how long it has waited.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: builds are still atomic, only not serialised
    fcntl = None

WAIT_REPORT_SECONDS = 10.0
POLL_SECONDS = 0.2

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(str(path), threading.Lock())


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"


@contextlib.contextmanager
def build_lock(path: str | os.PathLike, what: str, say: Callable[[str], None]) -> Iterator[None]:
    """Hold the lock file ``path`` while building ``what``; ``say`` receives the waiting messages.

    Raises OSError when the lock file cannot be created (e.g. a read-only folder).
    """
    path = Path(path)
    with _thread_lock(path):
        if fcntl is None:
            yield
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            start = last_report = None
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:  # EACCES or EAGAIN: held by another process
                    now = time.monotonic()
                    if start is None:
                        start = last_report = now
                        say(f"waiting for {_holder(fd)}, which is building {what} (lock {path})")
                    elif now - last_report >= WAIT_REPORT_SECONDS:
                        last_report = now
                        say(f"still waiting for {_holder(fd)} building {what}: {now - start:.0f} s so far")
                    time.sleep(POLL_SECONDS)
            if start is not None:
                say(f"the lock is free after {time.monotonic() - start:.0f} s of waiting")
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


__all__ = ["WAIT_REPORT_SECONDS", "build_lock"]
