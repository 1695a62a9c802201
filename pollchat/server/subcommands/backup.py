"""``pollchat-server backup DEST`` and ``pollchat-server restore SRC``.

``backup`` copies the live database with SQLite's online backup API
(:func:`pollchat.store.backup.copy_live`). The database is in WAL mode, so the copy reads one
consistent snapshot while the server goes on writing: it neither blocks the server nor
waits for it. The copy is written to a temporary file beside ``DEST``, switched to a
self-contained rollback-journal file, checked (``PRAGMA integrity_check``, the
``application_id``, the schema version), and only then renamed to ``DEST``.

``restore`` takes the data-directory lock (so it refuses while a server runs), copies
``SRC`` to a temporary file in the data directory, checks the copy the same way (``SRC``
itself is only read), keeps the current database as ``pollchat.db.before-restore`` (or
``-2``, ``-3``, ...), and renames the copy to ``pollchat.db``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import TextIO

from pollchat.config import default_data_dir
from pollchat.errors import ConfigError, StoreError
from pollchat.fsutil import fsync_directory
from pollchat.server.backups import snapshot_name
from pollchat.store.backup import Summary, check_copy, copy_live
from pollchat.store.database import DATABASE_NAME
from pollchat.store.lock import DataDirInUse, DataDirLock
from pollchat.store.urls import is_postgres_url, redact

KEPT_SUFFIX = ".before-restore"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``backup`` and ``restore`` parsers."""
    data_dir_help = f"the server's data directory, holding {DATABASE_NAME} (default: $XDG_DATA_HOME/pollchat or ~/.local/share/pollchat)"
    backup = subparsers.add_parser(
        "backup",
        help="copy the database safely, even while the server runs",
        description=f"Copy {DATABASE_NAME} with SQLite's online backup API, also while the server runs, "
        "to DEST (a file, replaced atomically, or a directory to put pollchat-YYYYmmdd-HHMMSS.db in). "
        "The copy is checked before it gets its name.",
    )
    backup.add_argument("dest", type=Path, metavar="DEST", help="the backup file or an existing directory")
    backup.add_argument("--data-dir", type=Path, metavar="DIR", help=data_dir_help)
    backup.add_argument(
        "--database", metavar="URL",
        help="a postgresql:// database is not copied by pollchat: the command says how to use pg_dump instead",
    )
    backup.set_defaults(run=run_backup)

    restore = subparsers.add_parser(
        "restore",
        help="put a backup in place of the database (server stopped)",
        description=f"Check that SRC is a pollchat database this version can use and put a copy of it "
        f"in place of {DATABASE_NAME}; the current database is kept as {DATABASE_NAME}{KEPT_SUFFIX}. "
        "Refused while a server uses the data directory.",
    )
    restore.add_argument("src", type=Path, metavar="SRC", help="a backup made by pollchat-server backup")
    restore.add_argument("--data-dir", type=Path, metavar="DIR", help=data_dir_help)
    restore.set_defaults(run=run_restore)


def pg_dump_command(url: str, dest: Path) -> str:
    """The shell command that backs up the PostgreSQL database ``url`` to ``dest`` with
    ``pg_dump`` (custom format: compressed, restored with ``pg_restore``; a consistent
    snapshot while the server writes). The password comes from ``PGPASSWORD``,
    ``PGPASSFILE`` or ``~/.pgpass``, like every pollchat connection."""
    return f"pg_dump --format=custom --file={shlex.quote(str(dest))} {shlex.quote(url)}"


def run_backup(args: argparse.Namespace, stdin: TextIO) -> int:
    """Back up the data directory's database to ``args.dest``; one line on stdout.

    Raises:
        ConfigError: ``--database`` names a PostgreSQL database: pollchat does not copy
            it; the message gives the ``pg_dump`` command (:func:`pg_dump_command`).
    """
    if args.database is not None and is_postgres_url(args.database):
        dest = args.dest / "pollchat.dump" if args.dest.is_dir() else args.dest
        raise ConfigError(
            f"the database is on PostgreSQL: back it up with pg_dump, e.g. {pg_dump_command(redact(args.database), dest)}"
        )
    data_dir = args.data_dir or default_data_dir()
    dest = args.dest / snapshot_name(time.time()) if args.dest.is_dir() else args.dest
    _exit_on_sigterm()
    summary = backup_database(data_dir / DATABASE_NAME, dest)
    print(f"backed up {data_dir / DATABASE_NAME} to {dest} ({summary})", flush=True)
    return 0


def run_restore(args: argparse.Namespace, stdin: TextIO) -> int:
    """Restore ``args.src`` into the data directory; one line on stdout."""
    data_dir = args.data_dir or default_data_dir()
    summary, kept = restore_database(args.src, data_dir)
    where = f"; the previous database is kept as {kept}" if kept else ""
    print(f"restored {args.src} to {data_dir / DATABASE_NAME} ({summary}){where}", flush=True)
    return 0


def backup_database(source: Path, dest: Path) -> Summary:
    """Copy the database at ``source`` (live or not) to ``dest`` and check the copy.

    ``dest`` appears only complete and checked (temporary file, then ``os.replace``);
    an existing ``dest`` is replaced. Nothing is written to ``source``.

    Raises:
        ConfigError: no database at ``source``, ``dest``'s directory is missing, or
            ``dest`` is the live database itself.
        StoreError: the copy failed or did not pass the checks (nothing left behind).
    """
    if not source.is_file():
        raise ConfigError(f"no database at {source} (see --data-dir)")
    if not dest.parent.is_dir():
        raise ConfigError(f"cannot write {dest}: directory {dest.parent} does not exist")
    if dest.exists() and _same_file(dest, source):
        raise ConfigError(f"{dest} is the live database itself; choose another destination")
    fd, partial_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    os.close(fd)
    partial = Path(partial_name)
    try:
        summary = copy_live(source, partial)
        _fsync(partial)
        os.replace(partial, dest)
        fsync_directory(dest.parent)
    except OSError as exc:
        raise StoreError(f"cannot write {dest}: {exc.strerror or exc}") from None
    finally:
        _remove(partial)
    return summary


def restore_database(src: Path, data_dir: Path) -> tuple[Summary, Path | None]:
    """Put a checked copy of ``src`` in place of ``data_dir``'s database.

    Returns:
        What the restored database holds, and where the previous database was kept
        (``None`` if there was none).

    Raises:
        ConfigError: ``src`` is not a file, or a server (or another restore) holds the
            data-directory lock.
        StoreError: ``src`` is not an intact pollchat database this program can use.
            Nothing was changed: ``src`` is only read, and the data directory is as it
            was (a directory created for the restore is removed again).
    """
    if not src.is_file():
        raise ConfigError(f"no backup file at {src}")
    created = not data_dir.exists()
    try:
        lock = DataDirLock.acquire(data_dir)
    except DataDirInUse as exc:
        raise ConfigError(f"{exc}; stop it before restoring") from None
    target = data_dir / DATABASE_NAME
    try:
        fd, partial_name = tempfile.mkstemp(prefix=f".{DATABASE_NAME}.restore-", suffix=".partial", dir=data_dir)
        os.close(fd)
        partial = Path(partial_name)
        try:
            summary = _checked_copy(src, partial)
            kept = _keep_current(target) if target.exists() else None
            os.replace(partial, target)
            fsync_directory(data_dir)
        except OSError as exc:
            raise StoreError(f"cannot restore {src} to {target}: {exc.strerror or exc}") from None
        finally:
            for leftover in (partial, *_companions(partial)):
                _remove(leftover)
    except BaseException:
        lock.release()
        if created:
            with contextlib.suppress(OSError):
                data_dir.rmdir()
        raise
    lock.release()
    return summary, kept


def _checked_copy(src: Path, partial: Path) -> Summary:
    """Copy ``src`` (and its write-ahead log, if any) to ``partial`` with plain file
    reads, open the copy, check it and turn it into a self-contained file."""
    shutil.copyfile(src, partial)
    src_wal = src.with_name(src.name + "-wal")
    if src_wal.is_file():
        shutil.copyfile(src_wal, partial.with_name(partial.name + "-wal"))
    summary = check_copy(partial, src)
    _fsync(partial)
    return summary


def _keep_current(target: Path) -> Path:
    """Give the current database a second name (``.before-restore``, ``-2``, ...), with
    its write-ahead log if the server did not stop cleanly; drop its shared-memory file.
    ``target`` itself stays in place until the caller replaces it."""
    kept = target.with_name(target.name + KEPT_SUFFIX)
    n = 1
    while kept.exists() or kept.with_name(kept.name + "-wal").exists():
        n += 1
        kept = target.with_name(f"{target.name}{KEPT_SUFFIX}-{n}")
    try:
        os.link(target, kept)
    except OSError:  # no hard links here: a copy will do
        shutil.copy2(target, kept)
    wal = target.with_name(target.name + "-wal")
    if wal.exists():
        os.replace(wal, kept.with_name(kept.name + "-wal"))
    _remove(target.with_name(target.name + "-shm"))
    return kept


def _companions(path: Path) -> tuple[Path, ...]:
    return tuple(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exit_on_sigterm() -> None:
    """SIGTERM (the server stopping its backup child) ends with the temporary file
    removed: the handler raises ``SystemExit``, which unwinds the ``finally`` blocks."""
    if threading.current_thread() is threading.main_thread():

        def stop(signum: int, frame: object) -> None:
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, stop)
