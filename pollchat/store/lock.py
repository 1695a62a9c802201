"""The data-directory lock: one pollchat server (or ``restore``) per data directory.

A running server holds an exclusive :func:`fcntl.flock` on ``DATA_DIR/pollchat.lock``
for its whole life, with its process id written in the file for the error message of
whoever comes second. The kernel drops the lock when the process ends, however it ends
(a SIGKILL leaves the file behind but not the lock, so the next start succeeds).

:meth:`DataDirLock.release` deletes the file before it unlocks it, so a clean stop leaves
nothing behind. That is safe because :meth:`DataDirLock.acquire` checks, once it holds
the lock, that the file it locked is still the one at ``pollchat.lock`` (same inode), and
starts again if it was deleted meanwhile.

POSIX only (``fcntl``), as is the server.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Self

from pollchat.errors import ConfigError

LOCK_NAME = "pollchat.lock"


class DataDirInUse(ConfigError):
    """Another process holds the data-directory lock.

    Attributes:
        data_dir: the directory.
        pid: the holder's process id, or ``None`` if it could not be read.
    """

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        self.data_dir = data_dir
        self.pid = pid
        holder = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(f"another pollchat server is using {data_dir} ({holder})")


class DataDirLock:
    """An exclusive lock on a data directory; see :meth:`acquire`."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirLock:
        """Lock ``data_dir`` (created, mode 0700, if missing) without waiting.

        Raises:
            DataDirInUse: another process holds the lock (a :class:`ConfigError`).
            ConfigError: the directory or the lock file cannot be created or opened.
        """
        data_dir = Path(data_dir)
        path = data_dir / LOCK_NAME
        try:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot use data directory {data_dir}: {exc.strerror or exc}") from None
        for _ in range(100):  # a retry only follows a concurrent release; never loops for long
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise ConfigError(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                raise DataDirInUse(data_dir, pid) from None
            except OSError as exc:
                os.close(fd)
                raise ConfigError(f"cannot lock {path}: {exc.strerror or exc}") from None
            if _same_file(fd, path):
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode("ascii"))
                return cls(path, fd)
            os.close(fd)  # released and deleted by its holder meanwhile: take the new one
        raise ConfigError(f"cannot lock {path}: it keeps being replaced")

    @property
    def held(self) -> bool:
        """True until :meth:`release`."""
        return self._fd is not None

    def release(self) -> None:
        """Delete the lock file and unlock. Idempotent."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if _same_file(fd, self.path):
                with contextlib.suppress(OSError):
                    self.path.unlink()
        finally:
            os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
