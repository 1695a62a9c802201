"""``pollchat-server export --group #name --out FILE``: save a group's conversation.

Seed 001 asks to "save conversations to a file". The database is read through
:mod:`pollchat.store.transcript`: read-only, without the data-directory lock, in one
read transaction (one consistent snapshot). The database is in WAL mode, so an export
never blocks the running server and the server never blocks it.

Two formats: ``text``, a readable transcript (a ``#`` header, then
``[YYYY-MM-DD HH:MM] alice: hello`` / ``[YYYY-MM-DD HH:MM] * alice waves`` lines, UTC),
and ``jsonl``, one JSON object per message. The file is written to a temporary file
beside ``FILE``, fsynced and renamed (never half-written), mode 0600: transcripts are
private. ``--out -`` writes to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

from pollchat.cliargs import whole_number
from pollchat.config import default_data_dir
from pollchat.errors import ConfigError, StoreError
from pollchat.fsutil import fsync_directory
from pollchat.protocol.names import normalize_name
from pollchat.protocol.render import format_time, format_ts
from pollchat.store.database import DATABASE_NAME
from pollchat.store.transcript import GroupInfo, GroupMessage, Snapshot, open_read_only

FORMATS = ("text", "jsonl")
STDOUT = "-"
FILE_MODE = 0o600

EPILOG = """\
examples:
  pollchat-server export --group '#family' --out family.txt
  pollchat-server export --group family --since 2026-11-01 --out family.txt
  pollchat-server export --group '#family' --since 2026-11-21T10:00+01:00 --format jsonl --out family.jsonl
  pollchat-server export --group '#family' --out - | less
  pollchat-server export --group '#family' --out family.txt --data-dir /var/lib/pollchat

A text transcript looks like:
  # pollchat transcript of #family
  # visibility: private
  # topic: weekend plans
  # exported: 2026-11-21 18:02 UTC
  # since: 2026-11-01 00:00 UTC
  # messages: 2

  [2026-11-21 09:15] alice: lunch at noon?
  [2026-11-21 09:16] * bob nods

Safe while the server runs: the database is only read (one consistent snapshot, no
lock taken), which never blocks the server. In a shell, quote '#family' (a word that
starts with # is a comment) or leave the # out. A deleted group's messages can still be
exported (the most recently deleted group of that name, with a note on stderr; an older
one by --group-id, its id listed on stderr); a renamed group is found under its current
name, with its whole history.
"""

SINCE_FORMS = "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM offset (UTC if none)"
_SINCE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``export`` parser."""
    parser = subparsers.add_parser(
        "export",
        help="save a group's conversation to a file, also while the server runs",
        description=f"Write the messages of one group, oldest first, to FILE as a readable transcript\n"
        f"or as JSON Lines. {DATABASE_NAME} is only read, in one consistent snapshot and without\n"
        "taking the data-directory lock, so the running server is never blocked. Times are UTC.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--group",
        type=group_argument,
        metavar="#NAME",
        help="the group, with or without '#', any case (e.g. --group '#family'); a live group, "
        "else the most recently deleted one of that name (other groups once called that are "
        "listed on stderr with their ids)",
    )
    which.add_argument(
        "--group-id",
        type=whole_number(1),
        metavar="ID",
        help="the group with this id, live or deleted (ids are listed when --group is ambiguous)",
    )
    parser.add_argument(
        "--since",
        type=since_argument,
        metavar="DATE",
        help=f"only messages sent at or after DATE: {SINCE_FORMS} (e.g. 2026-11-01, 2026-11-21T10:00); "
        "default: all",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text: a readable transcript with a header; jsonl: one JSON object per message "
        '({"ts", "group", "kind", "sender", "text"}) (default: %(default)s)',
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="where to write (replaced atomically, mode 0600), e.g. --out family.txt; '-' for stdout",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"the server's data directory, holding {DATABASE_NAME} "
        "(default: $XDG_DATA_HOME/pollchat or ~/.local/share/pollchat)",
    )
    parser.set_defaults(run=run)


def group_argument(text: str) -> str:
    """An argparse ``type=``: a group name, ``#name`` or ``name``; returns it without
    ``#``, NFC-normalised.

    Raises:
        argparse.ArgumentTypeError: not a valid group name.
    """
    name = normalize_name(text.removeprefix("#"))
    if name is None:
        raise argparse.ArgumentTypeError(
            f"invalid group name {text!r}: '#' then 1 to 32 letters, digits, '_', '-' or '.'"
        )
    return name


def since_argument(text: str) -> float:
    """An argparse ``type=``: ``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 date and time
    (``2026-11-21T10:00``, ``...:30``, ``...Z``, ``...+01:00``; UTC if no offset).

    Returns:
        The moment, UTC seconds since the epoch.

    Raises:
        argparse.ArgumentTypeError: any other form, or not a real date.
    """
    value = text.strip()
    try:
        if not _SINCE_RE.fullmatch(value):
            raise ValueError(value)
        moment = datetime.fromisoformat(value)  # 3.11+: takes Z and +HHMM too
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        ts = moment.timestamp()
        format_time(ts)  # a moment that cannot be shown fails here, not in the header
    except (ValueError, OverflowError, OSError):
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: use {SINCE_FORMS}") from None
    return ts


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_group` wrote.

    Attributes:
        group: the exported group (its current name; ``deleted`` set if it was deleted).
        count: how many messages were written.
    """

    group: GroupInfo
    count: int


def run(args: argparse.Namespace, stdin: TextIO) -> int:
    """Export ``args.group``; a one-line summary (and any note) on stderr."""
    data_dir = args.data_dir or default_data_dir()
    db_path = data_dir / DATABASE_NAME
    out = None if args.out == STDOUT else Path(args.out)

    def note(group: GroupInfo) -> None:
        assert group.deleted is not None
        print(
            f"pollchat-server: note: #{group.name} was deleted at {format_time(group.deleted)} UTC; "
            "exporting its messages",
            file=sys.stderr,
            flush=True,
        )

    def others(groups: list[GroupInfo]) -> None:
        listed = ", ".join(
            f"id {g.id} (deleted {format_time(g.deleted)} UTC)" if g.deleted is not None else f"id {g.id} (live)"
            for g in groups
        )
        print(
            f"pollchat-server: note: other groups were also called #{groups[0].name}: {listed}; "
            "export one of them with --group-id ID",
            file=sys.stderr,
            flush=True,
        )

    try:
        result = export_group(
            db_path,
            args.group if args.group is not None else args.group_id,
            out,
            since=args.since,
            fmt=args.format,
            on_deleted=note,
            on_others=others,
        )
    except BrokenPipeError:
        # ``--out - | head``: the reader has gone; stop quietly, as other tools do.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    where = "standard output" if out is None else str(out)
    print(f"exported {result.count} message(s) of #{result.group.name} to {where}", file=sys.stderr, flush=True)
    return 0


def export_group(
    db_path: Path,
    group_name: str | int,
    out: Path | None,
    *,
    since: float | None = None,
    fmt: str = "text",
    now: Callable[[], float] = time.time,
    on_deleted: Callable[[GroupInfo], None] | None = None,
    on_others: Callable[[list[GroupInfo]], None] | None = None,
) -> ExportResult:
    """Write the messages of group ``group_name`` in database ``db_path`` to ``out``.

    Args:
        db_path: the database file; only read (see :mod:`pollchat.store.transcript`).
        group_name: the group, with or without ``#``, any case; or (an ``int``) its id.
        out: the file to write (replaced atomically, mode 0600); ``None``: stdout.
        since: only messages sent at or after this moment (UTC epoch seconds).
        fmt: ``"text"`` or ``"jsonl"``.
        now: the clock for the text header's export time (UTC epoch seconds).
        on_deleted: called with the group before anything is written if the group found
            is a deleted one.
        on_others: called with the other groups (live or deleted) that had the name
            asked for, if any, before anything is written.

    Returns:
        The group and the number of messages written.

    Raises:
        ConfigError: no database at ``db_path``; no group of that name; ``out``'s
            directory is missing, ``out`` is a directory, or ``out`` is the database (or
            its ``-wal``/``-shm``) itself.
        StoreError: the database is not a pollchat database with groups, cannot be read,
            or ``out`` cannot be written (nothing is left behind).
        ValueError: ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if not db_path.is_file():
        raise ConfigError(f"no database at {db_path} (see --data-dir)")
    if out is not None:
        _check_destination(out, db_path)
    with open_read_only(db_path) as snapshot:
        if isinstance(group_name, int):
            group = snapshot.group_by_id(group_name)
            if group is None:
                raise ConfigError(f"no group with id {group_name} in {db_path}")
        else:
            named = snapshot.groups_named(group_name)
            if not named:
                raise ConfigError(f"no group #{group_name} in {db_path}")
            group = named[0]
            if len(named) > 1 and on_others is not None:
                on_others(named[1:])
        if group.deleted is not None and on_deleted is not None:
            on_deleted(group)
        count = snapshot.count_messages(group.id, since)
        chunks = _render(snapshot, group, count, since, fmt, now())
        if out is None:
            _write_stdout(chunks)
        else:
            _write_atomically(out, chunks)
    return ExportResult(group, count)


def _render(
    snapshot: Snapshot, group: GroupInfo, count: int, since: float | None, fmt: str, exported: float
) -> Iterator[str]:
    """The output, a line at a time (each ending in ``\\n``)."""
    messages = snapshot.group_messages(group.id, since)
    if fmt == "jsonl":
        yield from jsonl_lines(group, messages)
    else:
        yield from text_header(group, count, since, exported)
        yield from text_lines(messages)


def text_header(group: GroupInfo, count: int, since: float | None, exported: float) -> Iterator[str]:
    """The text transcript's header: ``# key: value`` lines and a blank line.

    Args:
        group: the group.
        count: how many messages follow.
        since: the ``--since`` moment (UTC epoch seconds), or ``None``.
        exported: when the export ran (UTC epoch seconds).
    """
    yield f"# pollchat transcript of #{group.name}\n"
    yield f"# visibility: {group.visibility}\n"
    if group.topic:
        yield f"# topic: {_one_line(group.topic)}\n"
    if group.deleted is not None:
        yield f"# deleted: {format_time(group.deleted)} UTC\n"
    yield f"# exported: {format_time(exported)} UTC\n"
    yield f"# since: {format_time(since) + ' UTC' if since is not None else 'the beginning'}\n"
    yield f"# messages: {count}\n"
    yield "\n"


def text_lines(messages: Iterable[GroupMessage]) -> Iterator[str]:
    """``[YYYY-MM-DD HH:MM] alice: text`` for a chat line, ``[YYYY-MM-DD HH:MM] * alice
    text`` for an action (UTC), one per message."""
    for message in messages:
        when = format_time(message.ts)
        text = _one_line(message.text)
        if message.kind == "action":
            yield f"[{when}] * {message.sender} {text}\n"
        else:
            yield f"[{when}] {message.sender}: {text}\n"


def jsonl_lines(group: GroupInfo, messages: Iterable[GroupMessage]) -> Iterator[str]:
    """One JSON object per message: ``{"ts": "...Z", "group": NAME, "kind": "chat" |
    "action", "sender": NAME, "text": TEXT}`` (``ts`` as
    :func:`~pollchat.protocol.render.format_ts`; the group name without ``#``)."""
    for message in messages:
        record = {
            "ts": format_ts(message.ts),
            "group": group.name,
            "kind": message.kind,
            "sender": message.sender,
            "text": message.text,
        }
        yield json.dumps(record, ensure_ascii=False) + "\n"


def _one_line(text: str) -> str:
    # The server never stores control characters, but a transcript line must stay one
    # line and must not drive the terminal of whoever reads it: replace any, just in case.
    return "".join("\ufffd" if unicodedata.category(ch) == "Cc" else ch for ch in text)


def _check_destination(out: Path, db_path: Path) -> None:
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file name")
    if not out.parent.is_dir():
        raise ConfigError(f"cannot write {out}: directory {out.parent} does not exist")
    protected = [db_path.with_name(db_path.name + suffix) for suffix in ("", "-wal", "-shm")]
    for path in protected:
        if _same_file(out, path):
            raise ConfigError(f"--out {out} is the database itself; choose another file")


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def _write_atomically(out: Path, chunks: Iterable[str]) -> None:
    """Write ``chunks`` (UTF-8) to a temporary file beside ``out`` (mode 0600), fsync it,
    rename it to ``out`` and fsync the directory; on any error remove the temporary file.

    Raises:
        StoreError: the file cannot be written.
    """
    try:
        fd, partial_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    except OSError as exc:
        raise StoreError(f"cannot write {out}: {exc.strerror or exc}") from None
    partial = Path(partial_name)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), FILE_MODE)  # mkstemp's default already; say it outright
            _write_chunks(file, chunks)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, out)
        fsync_directory(out.parent)
    except OSError as exc:
        raise StoreError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def _write_stdout(chunks: Iterable[str]) -> None:
    """Write ``chunks`` to stdout as UTF-8, whatever the locale."""
    sys.stdout.flush()
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:  # a text-only stream (tests): it takes str
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    _write_chunks(stream, chunks)
    stream.flush()


def _write_chunks(file: BinaryIO, chunks: Iterable[str]) -> None:
    file.writelines(chunk.encode("utf-8", "replace") for chunk in chunks)
