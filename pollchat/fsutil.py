"""Small file-system helpers for atomic, durable replacement of files.

Used by the store (backups before migrations), the accounts tool and backup/restore:
write a temporary file in the target's directory, fsync it, ``os.replace`` it, then fsync
the directory so the rename itself survives a crash. Imports nothing from pollchat.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: some systems refuse to open
    or fsync a directory; then nothing is done)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
