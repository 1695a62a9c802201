"""``pollchat-server export``: a group's conversation saved to a file (seed 001, issue 4).

Databases are made directly (``Database.open`` + ``create_group`` + ``append_messages``)
for byte-exact output, through the in-process harness for renames and deletes made by
real commands, and through a real server process (holding the data-directory lock, with
clients connected) for the export-while-running guarantee. Everything runs on 127.0.0.1
and every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pollchat.core.accounts import Account
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreError
from pollchat.server import cli
from pollchat.server.subcommands import export
from pollchat.server.subcommands.export import export_group, since_argument
from pollchat.store.database import APPLICATION_ID, DATABASE_NAME, MIGRATIONS, Database
from pollchat.store.lock import LOCK_NAME, DataDirInUse, DataDirLock
from pollchat.store.transcript import open_read_only
from tests.harness import Harness
from tests.loopback.test_cli import Client, ServerProcess, run_cli, server_args, start_server

T0 = datetime(2026, 11, 21, 9, 15, tzinfo=UTC).timestamp()
EXPORTED_AT = datetime(2026, 11, 23, 0, 0, 30, tzinfo=UTC).timestamp()
DEADLINE = 10.0

TEXT = """\
# pollchat transcript of #Family
# visibility: private
# topic: weekend plans
# exported: 2026-11-23 00:00 UTC
# since: the beginning
# messages: 3

[2026-11-21 09:15] alice: lunch at noon?
[2026-11-21 09:16] * bob nods
[2026-11-22 09:15] José: olá 👋 "quoted"
"""

JSONL = """\
{"ts": "2026-11-21T09:15:00.000Z", "group": "Family", "kind": "chat", "sender": "alice", "text": "lunch at noon?"}
{"ts": "2026-11-21T09:16:00.000Z", "group": "Family", "kind": "action", "sender": "bob", "text": "nods"}
{"ts": "2026-11-22T09:15:00.250Z", "group": "Family", "kind": "chat", "sender": "José", "text": "olá 👋 \\"quoted\\""}
"""


def make_family(data_dir: Path) -> int:
    """A database with group #Family (private, a topic, three messages) among messages of
    another group, the main chat and a private conversation; returns #Family's id."""
    with Database.open(data_dir / DATABASE_NAME) as db:
        family = db.create_group("Family", "private", 1, T0 - 3600)
        db.set_topic(family, "weekend plans")
        other = db.create_group("other", "public", 2, T0 - 60)
        db.append_messages(
            [
                HistoryRecord(T0, RecordKind.CHAT, 1, "alice", "lunch at noon?", group_id=family),
                HistoryRecord(T0 + 5, RecordKind.CHAT, 2, "bob", "elsewhere", group_id=other),
                HistoryRecord(T0 + 30, RecordKind.CHAT, 1, "alice", "in the main chat"),
                HistoryRecord(T0 + 60, RecordKind.ACTION, 2, "bob", "nods", group_id=family),
                HistoryRecord(T0 + 90, RecordKind.PRIVATE, 1, "alice", "secret", recipient_id=2, recipient="bob"),
                HistoryRecord(T0 + 86400.25, RecordKind.CHAT, 3, "José", 'olá 👋 "quoted"', group_id=family),
            ]
        )
    return family


def main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``pollchat-server ARGS`` in-process through the real entry point; (status,
    stdout, stderr). A usage error (``SystemExit``) gives its exit code."""
    try:
        status = cli.main(list(args))
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


def export_args(data_dir: Path, *extra: str) -> list[str]:
    return ["export", "--data-dir", str(data_dir), *extra]


# --- output -----------------------------------------------------------------------------------


def test_text_transcript_is_byte_exact(tmp_path: Path) -> None:
    make_family(tmp_path)
    out = tmp_path / "family.txt"
    result = export_group(tmp_path / DATABASE_NAME, "#family", out, now=lambda: EXPORTED_AT)
    assert out.read_bytes() == TEXT.encode("utf-8")
    assert (result.group.name, result.count) == ("Family", 3)


def test_text_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_family(tmp_path)
    out = tmp_path / "family.txt"
    status, stdout, stderr = main(capsys, *export_args(tmp_path, "--group", "#FAMILY", "--out", str(out)))
    assert status == 0, stderr
    assert stdout == ""
    assert stderr == f"exported 3 message(s) of #Family to {out}\n"
    lines = out.read_text("utf-8").splitlines(keepends=True)
    expected = TEXT.splitlines(keepends=True)
    assert lines[3].startswith("# exported: ") and lines[3].endswith(" UTC\n")
    assert lines[:3] + lines[4:] == expected[:3] + expected[4:]


def test_jsonl_is_byte_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_family(tmp_path)
    out = tmp_path / "family.jsonl"
    args = export_args(tmp_path, "--group", "family", "--format", "jsonl", "--out", str(out))
    status, _, stderr = main(capsys, *args)
    assert status == 0, stderr
    assert out.read_bytes() == JSONL.encode("utf-8")  # ensure_ascii=False: José, not Jos\u00e9
    assert [json.loads(line)["kind"] for line in out.read_text("utf-8").splitlines()] == ["chat", "action", "chat"]


def test_out_dash_writes_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_family(tmp_path)
    args = export_args(tmp_path, "--group", "#Family", "--format", "jsonl", "--out", "-")
    status, stdout, stderr = main(capsys, *args)
    assert status == 0, stderr
    assert stdout == JSONL
    assert stderr == "exported 3 message(s) of #Family to standard output\n"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(DATABASE_NAME)) == []


def test_empty_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Database.open(tmp_path / DATABASE_NAME) as db:
        db.create_group("quiet", "public", 1, T0)
    status, stdout, stderr = main(capsys, *export_args(tmp_path, "--group", "#quiet", "--out", "-"))
    assert status == 0, stderr
    assert "# visibility: public\n" in stdout and "# topic" not in stdout
    assert stdout.endswith("# messages: 0\n\n")
    assert stderr == "exported 0 message(s) of #quiet to standard output\n"


def test_control_characters_cannot_break_a_text_line(tmp_path: Path) -> None:
    with Database.open(tmp_path / DATABASE_NAME) as db:
        gid = db.create_group("g", "public", 1, T0)
        db.append_messages([HistoryRecord(T0, RecordKind.CHAT, 1, "eve", "a\nb\x1b[2Jc", group_id=gid)])
    out = tmp_path / "g.txt"
    export_group(tmp_path / DATABASE_NAME, "g", out, now=lambda: T0)
    assert out.read_text("utf-8").splitlines()[-1] == "[2026-11-21 09:15] eve: a\ufffdb\ufffd[2Jc"


def test_output_file_is_private_and_replaced_atomically(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_family(tmp_path)
    out = tmp_path / "family.txt"
    out.write_text("old contents\n")
    out.chmod(0o644)
    old_umask = os.umask(0)  # even with the most permissive umask
    try:
        status, _, stderr = main(capsys, *export_args(tmp_path, "--group", "family", "--out", str(out)))
    finally:
        os.umask(old_umask)
    assert status == 0, stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text("utf-8").startswith("# pollchat transcript of #Family\n")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert leftovers == []


def test_a_large_group_is_streamed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 20_000
    with Database.open(tmp_path / DATABASE_NAME) as db:
        gid = db.create_group("big", "public", 1, T0)
        db.append_messages(
            [HistoryRecord(T0 + i, RecordKind.CHAT, 1, "alice", f"line {i}", group_id=gid) for i in range(n)]
        )
    with open_read_only(tmp_path / DATABASE_NAME) as snapshot:
        messages = snapshot.group_messages(gid)
        assert not isinstance(messages, list | tuple)  # an iterator over the cursor
        assert next(messages).text == "line 0"
        assert sum(1 for _ in messages) == n - 1
    out = tmp_path / "big.jsonl"
    status, _, stderr = main(capsys, *export_args(tmp_path, "--group", "big", "--format", "jsonl", "--out", str(out)))
    assert status == 0, stderr
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == n
    assert json.loads(lines[-1])["text"] == f"line {n - 1}"


# --- --since --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "texts"),
    [
        ("2026-11-21", ["lunch at noon?", "nods", 'olá 👋 "quoted"']),
        ("2026-11-22", ['olá 👋 "quoted"']),
        ("2026-11-21T09:16", ["nods", 'olá 👋 "quoted"']),  # inclusive, naive = UTC
        ("2026-11-21T09:15:01", ["nods", 'olá 👋 "quoted"']),
        ("2026-11-21T10:16+01:00", ["nods", 'olá 👋 "quoted"']),  # 09:16 UTC
        ("2026-11-21T09:16:00Z", ["nods", 'olá 👋 "quoted"']),
        ("2026-11-23", []),
    ],
)
def test_since(tmp_path: Path, capsys: pytest.CaptureFixture[str], since: str, texts: list[str]) -> None:
    make_family(tmp_path)
    status, stdout, stderr = main(
        capsys, *export_args(tmp_path, "--group", "family", "--since", since, "--format", "jsonl", "--out", "-")
    )
    assert status == 0, stderr
    assert [json.loads(line)["text"] for line in stdout.splitlines()] == texts
    assert stderr == f"exported {len(texts)} message(s) of #Family to standard output\n"


def test_since_in_the_text_header(tmp_path: Path) -> None:
    make_family(tmp_path)
    out = tmp_path / "t.txt"
    export_group(tmp_path / DATABASE_NAME, "family", out, since=since_argument("2026-11-22"), now=lambda: EXPORTED_AT)
    text = out.read_text("utf-8")
    assert "# since: 2026-11-22 00:00 UTC\n# messages: 1\n\n[2026-11-22 09:15] José" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21", datetime(2026, 11, 21, tzinfo=UTC)),
        ("2026-11-21T10:00", datetime(2026, 11, 21, 10, tzinfo=UTC)),
        ("2026-11-21 10:00:30", datetime(2026, 11, 21, 10, 0, 30, tzinfo=UTC)),
        ("2026-11-21T10:00Z", datetime(2026, 11, 21, 10, tzinfo=UTC)),
        ("2026-11-21T10:00:00.5+02:00", datetime(2026, 11, 21, 8, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-21T10:00-0130", datetime(2026, 11, 21, 11, 30, tzinfo=UTC)),
    ],
)
def test_since_forms(text: str, expected: datetime) -> None:
    assert since_argument(text) == expected.timestamp()


@pytest.mark.parametrize(
    "text", ["yesterday", "21/11/2026", "2026-11-31", "2026-13-01", "20261121", "2026-11-21T25:00", "2026-11-21T10", ""]
)
def test_bad_since_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        since_argument(text)
    make_family(tmp_path)
    status, stdout, stderr = main(capsys, *export_args(tmp_path, "--group", "family", "--since", text, "--out", "-"))
    assert status == 2
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert stderr.startswith(f"pollchat-server export: argument --since: invalid date {text!r}: use YYYY-MM-DD or ")
    assert "(see --help)" in stderr


# --- finding the group --------------------------------------------------------------------------


def _group_lines(h: Harness, *lines: str) -> None:
    """Send ``lines`` as user1 (alone in its groups: nothing comes back) and let the
    server store them."""
    client = h.online[0]
    for line in lines:
        client.send(f"{line}\n".encode())
    h.pump(5)


def test_a_renamed_group_keeps_its_whole_history(
    make_harness: Callable[..., Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    h = make_harness()
    a = h.login("user1", "123")
    a.send(b"/create #fam\n")
    assert a.line() == "[#fam] public group created: others join with /join #fam"
    _group_lines(h, "#fam before", "/rename #fam #Familia")
    assert a.line() == "[#fam] the group is now #Familia (renamed by user1)"
    _group_lines(h, "#familia after")
    args = export_args(h.data_dir, "--group", "#FAMILIA", "--format", "jsonl", "--out", "-")
    status, stdout, stderr = main(capsys, *args)
    assert status == 0, stderr
    records = [json.loads(line) for line in stdout.splitlines()]
    assert [(r["group"], r["sender"], r["text"]) for r in records] == [
        ("Familia", "user1", "before"),
        ("Familia", "user1", "after"),
    ]
    # the old name is free: nothing is found under it
    status, _, stderr = main(capsys, *export_args(h.data_dir, "--group", "#fam", "--out", "-"))
    assert status == 2
    assert stderr == f"pollchat-server: no group #fam in {h.data_dir / DATABASE_NAME}\n"


def test_a_deleted_group_is_exported_with_a_note(
    make_harness: Callable[..., Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    h = make_harness()
    a = h.login("user1", "123")
    a.send(b"/create #fam\n")
    a.line()
    _group_lines(h, "#fam first life", "/delete #fam")
    assert a.line() == "[#fam] the group was deleted by user1"
    deleted_at = open_read_only(h.data_dir / DATABASE_NAME)
    with deleted_at:
        group = deleted_at.groups_named("fam")[0]
        assert group is not None and group.deleted is not None
    when = datetime.fromtimestamp(group.deleted, UTC).strftime("%Y-%m-%d %H:%M")

    status, stdout, stderr = main(capsys, *export_args(h.data_dir, "--group", "fam", "--out", "-"))
    assert status == 0, stderr
    assert stderr.splitlines() == [
        f"pollchat-server: note: #fam was deleted at {when} UTC; exporting its messages",
        "exported 1 message(s) of #fam to standard output",
    ]
    assert f"# deleted: {when} UTC\n" in stdout
    assert stdout.endswith(" user1: first life\n")

    # a new live group of that name wins over the deleted one
    a.send(b"/create #fam\n")
    a.line()
    _group_lines(h, "#fam second life")
    status, stdout, stderr = main(capsys, *export_args(h.data_dir, "--group", "fam", "--out", "-"))
    assert status == 0, stderr
    assert "was deleted" not in stderr and "# deleted" not in stdout
    assert "other groups were also called #fam: id 1" in stderr  # the old one can still be picked
    assert stdout.endswith(" user1: second life\n") and "first life" not in stdout


def test_the_most_recently_deleted_group_of_a_name_is_chosen(tmp_path: Path) -> None:
    with Database.open(tmp_path / DATABASE_NAME) as db:
        for n, deleted in enumerate((T0 + 100, T0 + 300, T0 + 200)):
            gid = db.create_group("fam", "public", 1, T0 + n)
            db.append_messages([HistoryRecord(T0 + n, RecordKind.CHAT, 1, "alice", f"life {n}", group_id=gid)])
            db.delete_group(gid, deleted)
    with open_read_only(tmp_path / DATABASE_NAME) as snapshot:
        group = snapshot.groups_named("#FAM")[0]
        assert group is not None and group.deleted == T0 + 300
        assert [m.text for m in snapshot.group_messages(group.id)] == ["life 1"]


def test_unknown_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_family(tmp_path)
    out = tmp_path / "x.txt"
    status, stdout, stderr = main(capsys, *export_args(tmp_path, "--group", "#nope", "--out", str(out)))
    assert (status, stdout) == (2, "")
    assert stderr == f"pollchat-server: no group #nope in {tmp_path / DATABASE_NAME}\n"
    assert not out.exists()


def test_invalid_group_name_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, stderr = main(capsys, *export_args(tmp_path, "--group", "#two words", "--out", "-"))
    assert status == 2
    assert stderr.startswith("pollchat-server export: argument --group: invalid group name '#two words'")


# --- databases that cannot be exported ----------------------------------------------------------


def test_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "nowhere"
    status, stdout, stderr = main(capsys, *export_args(data_dir, "--group", "fam", "--out", str(tmp_path / "x")))
    assert (status, stdout) == (2, "")
    assert stderr == f"pollchat-server: no database at {data_dir / DATABASE_NAME} (see --data-dir)\n"
    assert not data_dir.exists()  # nothing created
    with pytest.raises(StoreError, match="no database at"):
        open_read_only(data_dir / DATABASE_NAME)


def test_a_text_file_is_not_a_pollchat_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / DATABASE_NAME
    db.write_bytes(b"hello, I am not SQLite\n" * 100)
    before = db.read_bytes()
    status, _, stderr = main(capsys, *export_args(tmp_path, "--group", "fam", "--out", "-"))
    assert status == 1
    assert stderr.startswith(f"pollchat-server: {db} is not a pollchat database")
    assert stderr.count("\n") == 1
    assert db.read_bytes() == before


def test_another_programs_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / DATABASE_NAME
    with sqlite3.connect(db) as other:
        other.execute("CREATE TABLE chat_group (key TEXT)")
    other.close()
    status, _, stderr = main(capsys, *export_args(tmp_path, "--group", "fam", "--out", "-"))
    assert status == 1
    assert stderr == f"pollchat-server: {db} is not a pollchat database\n"


def test_a_database_from_before_groups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / DATABASE_NAME
    old = sqlite3.connect(db, isolation_level=None)
    for migration in MIGRATIONS[:3]:
        old.executescript(migration)
    old.execute(f"PRAGMA application_id={APPLICATION_ID}")
    old.execute("PRAGMA user_version=3")
    old.close()
    before = db.read_bytes()
    status, _, stderr = main(capsys, *export_args(tmp_path, "--group", "fam", "--out", "-"))
    assert status == 1
    assert stderr == (
        "pollchat-server: no groups in this database (schema 3); start the new server once to upgrade it "
        f"({db})\n"
    )
    assert db.read_bytes() == before  # never migrated by an export


def test_refuses_to_write_over_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_family(tmp_path)
    db = tmp_path / DATABASE_NAME
    before = db.read_bytes()
    link = tmp_path / "link.db"
    link.symlink_to(db)
    for target in (db, link, tmp_path / ".." / tmp_path.name / DATABASE_NAME):
        status, _, stderr = main(capsys, *export_args(tmp_path, "--group", "family", "--out", str(target)))
        assert status == 2
        assert stderr == f"pollchat-server: --out {target} is the database itself; choose another file\n"
    assert db.read_bytes() == before


def test_out_in_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_family(tmp_path)
    out = tmp_path / "missing" / "x.txt"
    status, _, stderr = main(capsys, *export_args(tmp_path, "--group", "family", "--out", str(out)))
    assert status == 2
    assert stderr == f"pollchat-server: cannot write {out}: directory {out.parent} does not exist\n"


def test_help_explains_every_option_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, _ = main(capsys, "export", "--help")
    assert status == 0
    for option in ("--group", "--since", "--format", "--out", "--data-dir", "jsonl", "YYYY-MM-DD", "0600"):
        assert option in stdout
    assert "examples:" in stdout
    assert "pollchat-server export --group '#family' --out family.txt" in stdout
    status, stdout, _ = main(capsys, "--help")
    assert "export" in stdout


# --- never locks, never blocks -------------------------------------------------------------------


def test_export_takes_no_lock_and_writes_nothing_to_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_family(tmp_path)
    db = tmp_path / DATABASE_NAME
    before = db.read_bytes()
    with DataDirLock.acquire(tmp_path):  # as a running server holds it
        status, _, stderr = main(capsys, *export_args(tmp_path, "--group", "family", "--out", "-"))
        assert status == 0, stderr
    assert db.read_bytes() == before
    assert not (tmp_path / LOCK_NAME).exists()


def test_export_does_not_wait_for_a_writer_and_reads_one_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gid = make_family(tmp_path)
    writer = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    try:
        # A write transaction in progress (as the server's, mid-batch): the export neither
        # waits for it nor sees its rows.
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO message (ts, kind, sender_id, sender, text, group_id) VALUES (?, 'chat', 1, 'alice', ?, ?)",
            (T0 + 100, "uncommitted", gid),
        )
        started = time.monotonic()
        status, stdout, stderr = main(capsys, *export_args(tmp_path, "--group", "family", "--out", "-"))
        assert time.monotonic() - started < 2
        assert status == 0, stderr
        assert "uncommitted" not in stdout and "# messages: 3\n" in stdout

        # While a snapshot is open the writer commits without waiting; the snapshot keeps
        # its view (header count and rows agree), a new one sees the commit.
        with open_read_only(tmp_path / DATABASE_NAME) as snapshot:
            count = snapshot.count_messages(gid)
            started = time.monotonic()
            writer.execute("COMMIT")
            writer.execute(
                "INSERT INTO message (ts, kind, sender_id, sender, text, group_id)"
                " VALUES (?, 'chat', 1, 'alice', 'more', ?)",
                (T0 + 200, gid),
            )
            assert time.monotonic() - started < 2
            assert count == 3
            assert [m.text for m in snapshot.group_messages(gid)] == ["lunch at noon?", "nods", 'olá 👋 "quoted"']
        with open_read_only(tmp_path / DATABASE_NAME) as fresh:
            assert fresh.count_messages(gid) == 5
    finally:
        writer.close()


def test_a_snapshot_never_holds_up_the_in_process_server(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    a = h.login("user1", "123")
    b = h.login("user2", "345")
    a.send(b"/create #fam\n")
    a.line()
    b.send(b"/join #fam\n")
    a.expect("[#fam] user2 has joined the group")
    b.line()
    a.send(b"#fam one\n")
    assert b.line() == "[#fam] user1: one"
    h.pump(3)
    with open_read_only(h.data_dir / DATABASE_NAME) as snapshot:
        group = snapshot.groups_named("fam")[0]
        assert group is not None
        assert snapshot.count_messages(group.id) == 1
        for text in ("two", "three"):
            a.send(f"#fam {text}\n".encode())
            assert b.line() == f"[#fam] user1: {text}"
        h.pump(3)
        assert [r.text for r in h.server.database.group_messages(group.id, 10)] == ["one", "two", "three"]
        assert [m.text for m in snapshot.group_messages(group.id)] == ["one"]


# --- a real server process, running, with clients and its lock --------------------------------


def _login(server: ServerProcess, name: str) -> Client:
    client = server.client()
    client.send(f"register\n{name},pw-{name}\n".encode())
    assert client.readline() == b"Access Provided"
    return client


def _export_until(data_dir: Path, out: Path, wanted: str) -> str:
    """Export #fam with the real entry point as a separate process (as an operator would)
    until ``wanted`` is in the file: messages are committed once per server loop pass."""
    deadline = time.monotonic() + DEADLINE
    while True:
        result = run_cli("export", "--data-dir", str(data_dir), "--group", "#fam", "--out", str(out))
        assert result.returncode == 0, result.stderr
        text = out.read_text("utf-8")
        if wanted in text:
            return text
        assert time.monotonic() < deadline, f"{wanted!r} never exported; last: {text!r}"
        time.sleep(0.05)


def test_export_while_the_server_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    args = server_args(data_dir, "--max-users", "10", "--max-connections-per-address", "0", "--rate-limit", "0")
    with start_server(args, tmp_path) as server:
        server.wait_listening()
        alice = _login(server, "alice")
        bob = _login(server, "bob")
        alice.read_until(b"bob has entered the chat")
        alice.send(b"/create #fam\n")
        alice.read_until(b"[#fam] public group created: others join with /join #fam")
        bob.send(b"/join #fam\n")
        alice.read_until(b"[#fam] bob has joined the group")
        alice.send(b"#fam hello\n")
        bob.read_until(b"[#fam] alice: hello")
        alice.send(b"/me #fam waves\n")
        bob.read_until(b"[#fam] * alice waves")

        # the server holds the data-directory lock and both connections are open
        lock_file = data_dir / LOCK_NAME
        assert lock_file.read_text().strip() == str(server.proc.pid)
        with pytest.raises(DataDirInUse):
            DataDirLock.acquire(data_dir)

        out = tmp_path / "fam.txt"
        text = _export_until(data_dir, out, "* alice waves")
        assert text.index("] alice: hello\n") < text.index("] * alice waves\n")
        assert "# pollchat transcript of #fam\n" in text
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert lock_file.read_text().strip() == str(server.proc.pid)  # the lock was never touched

        # the server goes on as before: messages, and a new login
        bob.send(b"#fam after the export\n")
        alice.read_until(b"[#fam] bob: after the export")
        _login(server, "carol").close()
        text = _export_until(data_dir, out, "bob: after the export")
        assert text.index("* alice waves") < text.index("bob: after the export")
        assert "# messages: 3\n" in text

        alice.close()
        bob.close()
        assert server.stop() == 0, server.stderr()


def test_export_module_is_registered() -> None:
    from pollchat.server.subcommands import MODULES

    assert export in MODULES


def test_an_ambiguous_name_lists_the_other_groups_and_group_id_picks_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_path = tmp_path / DATABASE_NAME
    with Database.open(db_path) as db:
        owner = db.create(Account("ann", "x" * 10, AccountKind.REGISTERED))
        assert owner is not None
        old = db.create_group("old", "public", owner.id, 1_700_000_000.0)
        db.append_messages([HistoryRecord(1_700_000_001.0, RecordKind.CHAT, owner.id, "ann", "first life", group_id=old)])
        db.delete_group(old, 1_700_000_100.0)
        new = db.create_group("old", "public", owner.id, 1_700_000_200.0)
        db.append_messages([HistoryRecord(1_700_000_201.0, RecordKind.CHAT, owner.id, "ann", "second life", group_id=new)])
    out = tmp_path / "live.txt"
    assert cli.main(["export", "--data-dir", str(tmp_path), "--group", "#old", "--out", str(out)]) == 0
    assert "second life" in out.read_text() and "first life" not in out.read_text()
    err = capsys.readouterr().err
    assert f"other groups were also called #old: id {old} (deleted 2023-11-14 22:15 UTC)" in err
    assert "--group-id ID" in err
    first = tmp_path / "first.txt"
    assert cli.main(["export", "--data-dir", str(tmp_path), "--group-id", str(old), "--out", str(first)]) == 0
    assert "first life" in first.read_text() and "second life" not in first.read_text()
    assert cli.main(["export", "--data-dir", str(tmp_path), "--group-id", "99", "--out", str(first)]) == 2
    assert "no group with id 99" in capsys.readouterr().err
