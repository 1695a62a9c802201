"""Files only the server's user may read: the log file, and warnings about the data
directory: chat history and password hashes are nobody else's to read.

``pollchat.db`` holds every private message and ``pollchat.log`` names accounts and
addresses, so both are created mode 0600 whatever the umask (the database in
:meth:`pollchat.store.database.Database.open`, the log here). The data directory is
created 0700; one that an operator made (or left) readable by others is not changed,
but warned about at start-up (:func:`exposure_warnings`).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The rotating log file, created (and re-created at each rotation) with mode 0600.

    A record that cannot be written (a full disk, an I/O error) is not turned into a
    traceback on stderr per record, as :class:`logging.Handler` does: the first failure
    prints one line (``pollchat-server: cannot write the log file PATH: REASON``), the
    next ones are only counted, and the first record written again prints one more line
    with the count of records lost. The file is reopened at the next record after a
    failure, so logging resumes by itself once there is room again.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lost = 0
        """Records lost in the current failure (0 while the file is written)."""
        self._failed_now = False

    def _open(self):  # type: ignore[no-untyped-def]  # noqa: ANN202 - logging's signature
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)  # noqa: SIM115

    def emit(self, record: logging.LogRecord) -> None:
        self._failed_now = False
        super().emit(record)
        if not self._failed_now and self.lost:
            lost, self.lost = self.lost, 0
            _say(f"the log file {self.baseFilename} is written again ({lost} record(s) lost)")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self._failed_now = True
        if not self.lost:
            reason = sys.exc_info()[1]
            _say(f"cannot write the log file {self.baseFilename}: {reason}; records are dropped until it works again")
        self.lost += 1
        stream, self.stream = self.stream, None  # reopened at the next record
        if stream is not None:
            try:
                stream.close()
            except (OSError, ValueError):
                pass  # unflushed bytes of the failed record: lost with it


def _say(text: str) -> None:
    try:
        print(f"pollchat-server: {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr itself is gone: nothing left to tell


def exposure_warnings(data_dir: Path, files: Iterable[Path]) -> list[str]:
    """One warning for the data directory, and one per file among ``files`` (the
    database, the log file), that users other than the owner can get into: group or
    other permission bits set. Missing paths are skipped."""
    warnings = []
    mode = _mode(data_dir)
    if mode is not None and mode & _OTHERS:
        warnings.append(
            f"the data directory {data_dir} can be read by other users (mode {mode:04o}): the database in it holds "
            f"every private message; chmod 700 {data_dir}"
        )
    for path in files:
        mode = _mode(path)
        if mode is not None and mode & _OTHERS:
            warnings.append(f"{path} can be read by other users (mode {mode:04o}); chmod 600 {path}")
    return warnings


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
