"""Backups, restore, rotating snapshots and the data-directory lock (issue 5).

Real server processes (``python -m pollchat.server``) on 127.0.0.1, port 0, with private
data directories; every subprocess and socket wait is bounded; every server is killed
on the way out if it is still running (``tests.loopback.test_cli.start_server``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

from pollchat.core.accounts import Account
from pollchat.core.passwords import hash_password
from pollchat.core.seats import AccountKind
from pollchat.server import backups
from pollchat.server.backups import BackupScheduler, snapshot_name, snapshots_to_delete
from pollchat.server.timers import Timers
from pollchat.store.database import (
    APPLICATION_ID,
    DATABASE_NAME,
    SCHEMA_VERSION,
    Database,
)
from pollchat.store.lock import LOCK_NAME, DataDirInUse, DataDirLock
from tests.loopback.test_cli import Client, ServerProcess, run_cli, server_args, start_server

TIMEOUT = 20
HISTORY_END = b"--- end of history ---"
# The protection limits are for the open internet; a test opens many loopback
# connections quickly, so they are turned off (0) where they could get in the way.
OPEN = ("--max-connections-per-address", "0", "--rate-limit", "0")


def test_args(data_dir: Path, *extra: str) -> list[str]:
    return server_args(data_dir, "--max-users", "50", *OPEN, *extra)


test_args.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file directly in ``directory``, name -> content."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def db_facts(path: Path) -> tuple[int, int, list[str], list[str]]:
    """(application_id, user_version, registered names, message texts) of a database file,
    read through a private copy so the file itself is never touched."""
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        names = [r[0] for r in db.execute("SELECT name FROM account WHERE kind = 'registered' ORDER BY id")]
        texts = [r[0] for r in db.execute("SELECT text FROM message ORDER BY id")]
    return app_id, version, names, texts


def make_database(path: Path, *names: str) -> None:
    """A pollchat database with registered accounts ``names`` (password: the name)."""
    with Database.open(path) as db:
        for name in names:
            db.create(Account(name, hash_password(name, 1000), AccountKind.REGISTERED))


def login(server: ServerProcess, verb: str, name: str, password: str) -> Client:
    client = server.client()
    client.send(f"{verb}\n{name},{password}\n".encode())
    assert client.readline() == b"Access Provided", name
    return client


def read_history(client: Client) -> list[bytes]:
    """Ask for the whole history and return its lines (the reply also proves every line
    sent before it is stored: /history flushes the pass's messages first)."""
    client.send(b"/history 500\n")
    return client.read_until(HISTORY_END, limit=2000)


# --- the pure snapshot-rotation helper ---------------------------------------------------


def test_snapshot_names_sort_by_time() -> None:
    assert snapshot_name(0) == "pollchat-19700101-000000.db"
    assert snapshot_name(86_400 + 3_661, 2) == "pollchat-19700102-010101-2.db"


def test_snapshots_to_delete_keeps_the_newest() -> None:
    names = [
        "pollchat-20240102-000000.db",
        "pollchat-20240101-120000.db",
        "pollchat-20240101-120000-2.db",  # same second, taken after the one above
        "pollchat-20231231-235959.db",
        "notes.txt",  # never counted, never deleted
        "pollchat.db",
        ".pollchat-20240103-000000.db.x.partial",
        "pollchat-2024-01-01.db",
    ]
    assert snapshots_to_delete(names, 2) == ["pollchat-20231231-235959.db", "pollchat-20240101-120000.db"]
    assert snapshots_to_delete(names, 1) == [
        "pollchat-20231231-235959.db",
        "pollchat-20240101-120000.db",
        "pollchat-20240101-120000-2.db",
    ]
    assert snapshots_to_delete(names, 4) == []
    assert snapshots_to_delete(names, 0) == []  # 0: keep them all
    assert snapshots_to_delete([], 3) == []


# --- the data-directory lock ---------------------------------------------------------------


def test_lock_is_exclusive_and_leaves_nothing_behind(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    lock = DataDirLock.acquire(data_dir)
    assert (data_dir / LOCK_NAME).read_text().strip() == str(os.getpid())
    with pytest.raises(DataDirInUse) as refused:
        DataDirLock.acquire(data_dir)  # flock locks are per open file: refused here too
    assert refused.value.pid == os.getpid()
    assert f"another pollchat server is using {data_dir} (pid {os.getpid()})" == str(refused.value)
    lock.release()
    lock.release()  # idempotent
    assert not (data_dir / LOCK_NAME).exists()
    with DataDirLock.acquire(data_dir):  # free again
        pass


def test_a_stale_lock_file_does_not_block(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / LOCK_NAME).write_text("999999\n")  # left by a SIGKILLed server: nobody holds it
    with DataDirLock.acquire(data_dir) as lock:
        assert lock.held
        assert (data_dir / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_second_server_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with start_server(test_args(data_dir), tmp_path) as first:
        first.wait_listening()
        result = run_cli(*test_args(data_dir))
        lines = result.stderr.decode().splitlines()
        assert result.returncode == 2, result
        assert lines == [f"pollchat-server: another pollchat server is using {data_dir} (pid {first.proc.pid})"]
        assert b"listening on" not in result.stdout
        # the first server is unharmed and still holds the lock
        client = login(first, "register", "still", "here")
        client.close()
        assert (data_dir / LOCK_NAME).read_text().strip() == str(first.proc.pid)
        assert first.stop() == 0, first.stderr()
    assert not (data_dir / LOCK_NAME).exists()
    # once it has stopped, the data directory is free
    with start_server(test_args(data_dir), tmp_path) as again:
        again.wait_listening()
        login(again, "login", "still", "here").close()
        assert again.stop() == 0


# --- backup under write load, restore, and everything committed is there ------------------


class Writer(threading.Thread):
    """Registers accounts one after another; each sends a few lines, then /history, so
    that when the reply arrives its account and lines are committed."""

    def __init__(self, server: ServerProcess, limit: int = 40) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.limit = limit
        self.stop = threading.Event()
        self.guard = threading.Lock()
        self.committed: list[tuple[str, list[str]]] = []  # (name, its lines), in commit order
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            for i in range(self.limit):
                if self.stop.is_set():
                    return
                name = f"writer{i}"
                client = login(self.server, "register", name, f"pw-{i}")
                try:
                    lines = [f"line {j} from {name}" for j in range(3)]
                    client.send("".join(f"{line}\n" for line in lines).encode())
                    read_history(client)
                finally:
                    client.close()
                with self.guard:
                    self.committed.append((name, lines))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def committed_so_far(self) -> list[tuple[str, list[str]]]:
        with self.guard:
            return list(self.committed)


def test_backup_under_write_load_then_restore(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    dest = tmp_path / "backups" / "copy.db"
    dest.parent.mkdir()
    with start_server(test_args(data_dir), tmp_path) as server:
        server.wait_listening()
        writer = Writer(server)
        writer.start()
        try:
            deadline = time.monotonic() + TIMEOUT
            while len(writer.committed_so_far()) < 5:
                assert writer.error is None, writer.error
                assert writer.is_alive(), "the writer stopped early"
                assert time.monotonic() < deadline, "the writer made no progress"
                time.sleep(0.02)
            before = writer.committed_so_far()  # all of this is committed before the backup starts
            result = run_cli("backup", str(dest), "--data-dir", str(data_dir))
        finally:
            writer.stop.set()
            writer.join(TIMEOUT)
        assert writer.error is None, writer.error
        assert result.returncode == 0, result.stderr
        out = result.stdout.decode().splitlines()
        assert len(out) == 1 and out[0].startswith(f"backed up {data_dir / DATABASE_NAME} to {dest} ("), out
        assert result.stderr == b""
        assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.db"]  # no temporary file left

        # restore refuses while the server holds the data directory
        fresh = tmp_path / "fresh"
        refused = run_cli("restore", str(dest), "--data-dir", str(data_dir))
        assert refused.returncode == 2, refused
        assert refused.stderr.decode().splitlines() == [
            f"pollchat-server: another pollchat server is using {data_dir} (pid {server.proc.pid}); stop it before restoring"
        ]
        assert server.stop() == 0, server.stderr()

    # the copy is a self-contained, checked pollchat database
    app_id, version, names, _ = db_facts(dest)
    assert (app_id, version) == (APPLICATION_ID, SCHEMA_VERSION)
    assert {name for name, _ in before} <= set(names)
    assert not Path(f"{dest}-wal").exists()

    restored = run_cli("restore", str(dest), "--data-dir", str(fresh))
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.decode().startswith(f"restored {dest} to {fresh / DATABASE_NAME} (")
    assert (fresh / DATABASE_NAME).read_bytes() == dest.read_bytes()
    assert sorted(p.name for p in fresh.iterdir()) == [DATABASE_NAME]  # no lock, no temporary file

    with start_server(test_args(fresh), tmp_path) as server:
        server.wait_listening()
        for i, (name, _) in enumerate(before):
            login(server, "login", name, f"pw-{i}").close()
        reader = login(server, "register", "reader", "pw")
        try:
            history = b"\n".join(read_history(reader)).decode()
        finally:
            reader.close()
        for name, lines in before:
            for line in lines:
                assert f"{name}: {line}" in history
        assert server.stop() == 0, server.stderr()


# --- restore: the previous database is kept; refusals change nothing ---------------------------


def test_restore_keeps_the_previous_database_with_its_wal(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # The data directory as a SIGKILLed server leaves it: the last account is in the WAL only.
    staging = tmp_path / "staging" / DATABASE_NAME
    make_database(staging, "old1")
    with Database.open(staging) as live:
        live.create(Account("old2", hash_password("old2", 1000), AccountKind.REGISTERED))
        for suffix in ("", "-wal", "-shm"):
            shutil.copyfile(f"{staging}{suffix}", f"{data_dir / DATABASE_NAME}{suffix}")
    assert (data_dir / f"{DATABASE_NAME}-wal").stat().st_size > 0

    src = tmp_path / "src.db"
    make_database(src, "new1")
    src_bytes = src.read_bytes()
    result = run_cli("restore", str(src), "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    kept = data_dir / f"{DATABASE_NAME}.before-restore"
    assert result.stdout.decode().strip().endswith(f"the previous database is kept as {kept}")
    assert src.read_bytes() == src_bytes
    assert not (data_dir / f"{DATABASE_NAME}-wal").exists()
    assert not (data_dir / f"{DATABASE_NAME}-shm").exists()
    assert db_facts(data_dir / DATABASE_NAME)[2] == ["new1"]
    # the old database with its WAL: nothing of it lost
    assert Database.open(kept).find("old2") is not None

    again = run_cli("restore", str(src), "--data-dir", str(data_dir))
    assert again.returncode == 0, again.stderr
    assert (data_dir / f"{DATABASE_NAME}.before-restore-2").is_file()
    assert sorted(p.name for p in data_dir.iterdir() if not p.name.startswith(f"{DATABASE_NAME}.before-restore")) == [
        DATABASE_NAME
    ]


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"my shopping list\nmilk\neggs\n" * 200)


def _other_program(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, title TEXT)")
        db.execute("INSERT INTO recipes (title) VALUES ('soup')")
    db.close()


def _newer_schema(path: Path) -> None:
    make_database(path, "future")
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()


def _damaged(path: Path) -> None:
    make_database(path, *(f"user{i}" for i in range(300)))
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page : 3 * page] = b"\xa5" * page  # a b-tree page overwritten with garbage
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("make_src", "status", "message"),
    [
        (_not_sqlite, 1, "is not a pollchat database"),
        (_other_program, 1, "is not a pollchat database"),
        (_newer_schema, 1, f"has schema version {SCHEMA_VERSION + 1}, newer than this pollchat"),
        (_damaged, 1, "is damaged"),
        (None, 2, "no backup file at"),
    ],
    ids=["not-sqlite", "other-program", "newer-schema", "damaged", "missing"],
)
def test_restore_refusals_change_nothing(tmp_path: Path, make_src, status: int, message: str) -> None:
    src = tmp_path / "src.db"
    if make_src is not None:
        make_src(src)
    src_before = src.read_bytes() if src.exists() else None
    data_dir = tmp_path / "data"
    make_database(data_dir / DATABASE_NAME, "current")
    before = snapshot(data_dir)
    nowhere = tmp_path / "not-yet"

    for target in (data_dir, nowhere):
        result = run_cli("restore", str(src), "--data-dir", str(target))
        lines = result.stderr.decode().splitlines()
        assert result.returncode == status, result
        assert len(lines) == 1 and lines[0].startswith("pollchat-server: "), lines
        assert str(src) in lines[0] and message in lines[0]
        assert "Traceback" not in lines[0]
        assert result.stdout == b""
    assert snapshot(data_dir) == before
    assert not nowhere.exists()
    assert (src.read_bytes() if src.exists() else None) == src_before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["data", *(["src.db"] if make_src else [])])


def test_backup_refusals(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    nothing = run_cli("backup", str(tmp_path / "b.db"), "--data-dir", str(data_dir))
    assert nothing.returncode == 2 and b"no database at" in nothing.stderr
    assert not data_dir.exists() and not (tmp_path / "b.db").exists()

    make_database(data_dir / DATABASE_NAME, "someone")
    missing_dir = run_cli("backup", str(tmp_path / "no" / "b.db"), "--data-dir", str(data_dir))
    assert missing_dir.returncode == 2 and b"does not exist" in missing_dir.stderr
    onto_itself = run_cli("backup", str(data_dir / DATABASE_NAME), "--data-dir", str(data_dir))
    assert onto_itself.returncode == 2 and b"live database itself" in onto_itself.stderr
    assert db_facts(data_dir / DATABASE_NAME)[2] == ["someone"]

    # a directory as DEST gets a dated snapshot name
    into_dir = run_cli("backup", str(tmp_path), "--data-dir", str(data_dir))
    assert into_dir.returncode == 0, into_dir.stderr
    made = [p for p in tmp_path.iterdir() if re.fullmatch(r"pollchat-\d{8}-\d{6}\.db", p.name)]
    assert len(made) == 1 and db_facts(made[0])[2] == ["someone"]


# --- rotating snapshots taken by the server itself ---------------------------------------------


def test_backup_every_takes_rotating_snapshots(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    backup_dir = data_dir / "backups"
    seen: set[str] = set()
    # 0.02 minutes: a snapshot every 1.2 s; keep the newest 2
    with start_server(test_args(data_dir, "--backup-every", "0.02", "--backup-keep", "2"), tmp_path) as server:
        server.wait_listening()
        login(server, "register", "snap", "pw").close()
        deadline = time.monotonic() + TIMEOUT
        while len(seen) < 3:
            assert time.monotonic() < deadline, f"snapshots seen: {sorted(seen)}; {server.stderr()}"
            assert server.proc.poll() is None, server.stderr()
            if backup_dir.is_dir():
                seen.update(p.name for p in backup_dir.iterdir() if p.name.endswith(".db") and not p.name.startswith("."))
            time.sleep(0.1)
        assert server.stop() == 0, server.stderr()
        log_text = (data_dir / "pollchat.log").read_text("utf-8")
    left = sorted((p.name for p in backup_dir.iterdir()), key=snapshot_sort_key)
    assert len(left) == 2, left  # the keep limit applied, no temporary file left behind
    assert left == sorted(seen | set(left), key=snapshot_sort_key)[-2:]  # the newest ones
    for name in left:
        app_id, version, names, _ = db_facts(backup_dir / name)
        assert (app_id, version, names) == (APPLICATION_ID, SCHEMA_VERSION, ["snap"])
    assert "deleted old snapshot" in log_text
    assert "failed" not in log_text


def snapshot_sort_key(name: str) -> tuple[str, int]:
    match = re.fullmatch(r"pollchat-(\d{8}-\d{6})(?:-(\d+))?\.db", name)
    assert match, name
    return match.group(1), int(match.group(2) or 1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def scheduler_with_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str) -> tuple[BackupScheduler, FakeClock, Timers]:
    """A scheduler (every minute, keep 2) whose child runs ``code`` instead of a backup,
    on a timer queue driven by hand."""
    monkeypatch.setattr(backups, "backup_command", lambda dest, data_dir: [sys.executable, "-c", code])
    clock = FakeClock()
    timers = Timers(clock=clock)
    scheduler = BackupScheduler(timers, tmp_path / "data", every_minutes=1, keep=2)
    scheduler.start()
    return scheduler, clock, timers


def test_scheduler_skips_a_tick_while_the_child_runs_and_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler, clock, timers = scheduler_with_child(tmp_path, monkeypatch, "import time; time.sleep(30)")
    try:
        timers.run_due()
        assert not scheduler.running  # nothing before the first interval
        clock.now = 60
        timers.run_due()
        assert scheduler.running
        child = scheduler._proc
        assert child is not None
        with caplog.at_level(logging.WARNING, logger="pollchat.server.backups"):
            clock.now = 120
            timers.run_due()  # the next tick comes while the child still runs
        assert scheduler._proc is child
        assert "still being written; skipping" in caplog.text
    finally:
        scheduler.stop(timeout=5)
    assert not scheduler.running
    assert child.returncode is not None  # terminated and reaped, not left running
    clock.now = 600
    timers.run_due()
    assert not scheduler.running  # stopped: no more ticks


def test_scheduler_logs_a_failed_child_and_removes_its_leftovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler, clock, timers = scheduler_with_child(
        tmp_path, monkeypatch, "import sys; print('pollchat-server: disk full'); sys.exit(3)"
    )
    leftover = tmp_path / "data" / "backups" / ".pollchat-20240101-000000.db.abc.partial"
    try:
        with caplog.at_level(logging.INFO, logger="pollchat.server.backups"):
            clock.now = 60
            timers.run_due()
            leftover.write_bytes(b"half a copy")  # as a killed child would leave it
            deadline = time.monotonic() + TIMEOUT
            while scheduler.running:  # the loop's poll timer, run by hand
                assert time.monotonic() < deadline
                time.sleep(0.05)
                clock.now += 1
                timers.run_due()
    finally:
        scheduler.stop(timeout=5)
    assert "failed (exit status 3): pollchat-server: disk full" in caplog.text
    assert not leftover.exists()


def test_stopping_while_a_finished_child_lingers_still_applies_the_keep_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child renames its snapshot into place, then takes a moment to exit; a server
    stopped in that moment interrupts it. That snapshot is complete, so the keep limit
    applies to it at stop (this left one snapshot too many under load)."""
    backup_dir = tmp_path / "data" / "backups"
    backup_dir.mkdir(parents=True)
    for old in ("pollchat-20240101-000000.db", "pollchat-20240102-000000.db"):
        (backup_dir / old).write_bytes(b"old")
    code = "import sys, time; open(sys.argv[1], 'wb').write(b'new'); time.sleep(30)"
    monkeypatch.setattr(backups, "backup_command", lambda dest, data_dir: [sys.executable, "-c", code, str(dest)])
    clock = FakeClock()
    timers = Timers(clock=clock)
    scheduler = BackupScheduler(timers, tmp_path / "data", every_minutes=1, keep=2)
    scheduler.start()
    try:
        clock.now = 60
        timers.run_due()
        destination = scheduler._destination
        assert destination is not None
        deadline = time.monotonic() + TIMEOUT
        while not destination.exists():  # written under its final name; the child lingers
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert scheduler.running
    finally:
        scheduler.stop(timeout=5)
    left = sorted(p.name for p in backup_dir.iterdir())
    assert left == sorted(["pollchat-20240102-000000.db", destination.name])
