"""``pollchat-server accounts FILE ACTION``: the accounts-file editor.

Most cases call :func:`pollchat.server.cli.main` in-process (fast); a few run
``python -m pollchat.server accounts ...`` as an operator would, and one starts a real
server with the edited file and logs in. Every subprocess and socket wait is bounded.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import socket
import stat
import subprocess
import sys
import time
import tomllib
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from pollchat.core.passwords import parse_hash, verify_password
from pollchat.server.accounts_file import load_accounts_file
from pollchat.server.cli import main
from tests import REPO_ROOT
TIMEOUT = 15
ITERATIONS = "1000"
LISTENING_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
GREETING = b"type login or register and then give user,password"


# --- helpers ---------------------------------------------------------------------------------


def accounts(capsys: pytest.CaptureFixture[str], path: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """Run ``accounts PATH ARGS`` in-process; (status, stdout, stderr)."""
    capsys.readouterr()
    status = main(["accounts", str(path), *args], stdin=io.StringIO(stdin))
    out, err = capsys.readouterr()
    return status, out, err


def add(capsys: pytest.CaptureFixture[str], path: Path, name: str, password: str = "pw", *extra: str) -> str:
    status, out, err = accounts(capsys, path, "add", name, "--iterations", ITERATIONS, *extra, stdin=password + "\n")
    assert (status, err) == (0, ""), err
    return out


def assert_refused(result: tuple[int, str, str]) -> str:
    """Exit 2, nothing on stdout, one line on stderr; returns that line."""
    status, out, err = result
    assert status == 2, result
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("pollchat-server: ")
    return lines[0]


def hashes(path: Path) -> dict[str, str]:
    return {entry["name"]: entry["password_hash"] for entry in tomllib.loads(path.read_text("utf-8"))["account"]}


def env() -> dict[str, str]:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = str(REPO_ROOT)
    environment.pop("PYTHONIOENCODING", None)
    environment["PYTHONUTF8"] = "1"
    return environment


def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pollchat.server", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO_ROOT,
        env=env(),
        timeout=TIMEOUT,
    )


HASH = "pbkdf2_sha256$1000$testsalt$" + "A" * 43 + "="  # well-formed: 32 bytes of base64
GOOD_FILE = f'# keep me?\n[[account]]\nname = "alice"\npassword_hash = "{HASH}"\n'
BROKEN_FILES = {
    "invalid-toml": '[[account]]\nname = "unterminated\n',
    "plain-password": '[[account]]\nname = "alice"\npassword = "123"\n',
    "bad-role": f'[[account]]\nname = "alice"\nrole = "root"\npassword_hash = "{HASH}"\n',
    "duplicate": f'[[account]]\nname = "a"\npassword_hash = "{HASH}"\n[[account]]\nname = "A"\npassword_hash = "{HASH}"\n',
    "bad-hash": '[[account]]\nname = "alice"\npassword_hash = "md5$1$x$y"\n',
}


# --- add ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["pw", "a,b,,c", "pässwörd ☃ 密码,x", " spaced out ", 'quo"te\\back'],
    ids=["plain", "commas", "unicode", "spaces", "quote-backslash"],
)
def test_add_creates_a_private_file_whose_hash_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str
) -> None:
    path = tmp_path / "accounts.toml"
    out = add(capsys, path, "alice", password, "--role", "admin")
    assert out == f"added admin account alice to {path}; restart the server to apply\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    [account] = load_accounts_file(path)
    assert (account.name, account.admin) == ("alice", True)
    assert verify_password(password, account.password_hash)
    assert not verify_password(password + "x", account.password_hash)
    assert parse_hash(account.password_hash).iterations == 1000
    # Outside the hash (whose random base64 may contain "pw" by chance), no trace of it.
    assert password not in path.read_text("utf-8").replace(account.password_hash, "")


def test_add_appends_with_the_default_role_and_keeps_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(GOOD_FILE, encoding="utf-8")
    os.chmod(path, 0o640)
    out = add(capsys, path, "Bob")
    assert out.startswith("added user account Bob to ")
    assert [(a.name, a.admin) for a in load_accounts_file(path)] == [("alice", False), ("Bob", False)]
    assert hashes(path)["alice"] == HASH  # untouched
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640  # the mode is kept
    assert "# keep me?" not in path.read_text("utf-8")  # comments are not kept (documented)


@pytest.mark.parametrize("spelling", ["alice", "ALICE", "Alice", "aLiCe"])
def test_add_of_an_existing_name_in_any_case_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spelling: str
) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(GOOD_FILE, encoding="utf-8")
    before = path.read_bytes()
    line = assert_refused(accounts(capsys, path, "add", spelling, "--iterations", ITERATIONS, stdin="pw\n"))
    assert "'alice'" in line and "already" in line
    assert path.read_bytes() == before


def test_add_normalises_the_name_and_compares_case_insensitively(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "accounts.toml"
    add(capsys, path, unicodedata.normalize("NFD", "José"))
    assert [a.name for a in load_accounts_file(path)] == [unicodedata.normalize("NFC", "José")]
    assert_refused(accounts(capsys, path, "add", "JOSÉ", "--iterations", ITERATIONS, stdin="pw\n"))


@pytest.mark.parametrize("name", ["a b", "x,y", "n" * 33, "", 'quo"te', "back\\slash"])
def test_add_of_an_invalid_name_is_refused_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / "accounts.toml"
    line = assert_refused(accounts(capsys, path, "add", name, "--iterations", ITERATIONS, stdin="pw\n"))
    assert "invalid account name" in line
    assert not path.exists()


@pytest.mark.parametrize("stdin", ["", "\n", "bad\x01pw\n"], ids=["eof", "empty", "control-char"])
def test_add_with_a_bad_password_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], stdin: str) -> None:
    path = tmp_path / "accounts.toml"
    assert_refused(accounts(capsys, path, "add", "alice", "--iterations", ITERATIONS, stdin=stdin))
    assert list(tmp_path.iterdir()) == []


# --- list --------------------------------------------------------------------------------------


def test_list_shows_names_and_roles_never_hashes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "accounts.toml"
    add(capsys, path, "alice", "pw", "--role", "admin")
    add(capsys, path, "Zoë")
    status, out, err = accounts(capsys, path, "list")
    assert (status, err) == (0, "")
    assert [line.split() for line in out.splitlines()] == [["alice", "admin"], ["Zoë", "user"]]
    for password_hash in hashes(path).values():
        salt, digest = password_hash.split("$")[2:]
        assert salt not in out and digest not in out
    assert "pbkdf2" not in out


def test_list_of_an_empty_file_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert accounts(capsys, path, "list") == (0, "", "")


def test_list_of_a_missing_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.toml"
    assert str(path) in assert_refused(accounts(capsys, path, "list"))
    assert not path.exists()


# --- remove, set-role, passwd --------------------------------------------------------------------


def test_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "accounts.toml"
    add(capsys, path, "alice")
    add(capsys, path, "bob")
    status, out, err = accounts(capsys, path, "remove", "ALICE")
    assert (status, err) == (0, "")
    assert out == f"removed account alice from {path}; restart the server to apply\n"
    assert [a.name for a in load_accounts_file(path)] == ["bob"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_set_role_both_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "accounts.toml"
    add(capsys, path, "alice")
    add(capsys, path, "bob")
    before = hashes(path)
    status, out, _ = accounts(capsys, path, "set-role", "Alice", "admin")
    assert status == 0 and out == f"alice is now an admin in {path}; restart the server to apply\n"
    assert [(a.name, a.admin) for a in load_accounts_file(path)] == [("alice", True), ("bob", False)]
    status, out, _ = accounts(capsys, path, "set-role", "alice", "user")
    assert status == 0 and "alice is now a user" in out
    assert [(a.name, a.admin) for a in load_accounts_file(path)] == [("alice", False), ("bob", False)]
    assert hashes(path) == before


def test_set_role_to_the_same_role_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "accounts.toml"
    add(capsys, path, "alice", "pw", "--role", "admin")
    inode = os.stat(path).st_ino
    status, out, _ = accounts(capsys, path, "set-role", "alice", "admin")
    assert status == 0 and "already an admin" in out
    assert os.stat(path).st_ino == inode


def test_passwd_changes_only_that_hash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "accounts.toml"
    add(capsys, path, "alice", "old", "--role", "admin")
    add(capsys, path, "bob", "bobs")
    before = hashes(path)
    status, out, err = accounts(capsys, path, "passwd", "ALICE", "--iterations", "1001", stdin="new, ünïcode\n")
    assert (status, err) == (0, "")
    assert out == f"changed the password of alice in {path}; restart the server to apply\n"
    after = hashes(path)
    assert verify_password("new, ünïcode", after["alice"])
    assert not verify_password("old", after["alice"])
    assert parse_hash(after["alice"]).iterations == 1001
    assert after["bob"] == before["bob"]
    assert [(a.name, a.admin) for a in load_accounts_file(path)] == [("alice", True), ("bob", False)]


@pytest.mark.parametrize(
    "action",
    [["remove", "carol"], ["set-role", "carol", "admin"], ["passwd", "carol"], ["remove", "a b"]],
    ids=["remove", "set-role", "passwd", "invalid-name"],
)
def test_missing_account_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], action: list[str]) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(GOOD_FILE, encoding="utf-8")
    before = path.read_bytes()
    line = assert_refused(accounts(capsys, path, *action, stdin="pw\n"))
    assert repr(action[1]) in line
    assert path.read_bytes() == before


@pytest.mark.parametrize("action", [["remove", "alice"], ["set-role", "alice", "admin"], ["passwd", "alice"]])
def test_actions_other_than_add_do_not_create_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: list[str]
) -> None:
    path = tmp_path / "accounts.toml"
    assert str(path) in assert_refused(accounts(capsys, path, *action, stdin="pw\n"))
    assert list(tmp_path.iterdir()) == []


# --- atomicity and refusing broken files --------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [["add", "bob"], ["remove", "alice"], ["set-role", "alice", "admin"], ["passwd", "alice"]],
    ids=["add", "remove", "set-role", "passwd"],
)
def test_every_change_replaces_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], action: list[str]) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(GOOD_FILE, encoding="utf-8")
    os.chmod(path, 0o604)
    inode = os.stat(path).st_ino
    if action[0] in ("add", "passwd"):
        action = [*action, "--iterations", ITERATIONS]
    status, _, err = accounts(capsys, path, *action, stdin="pw\n")
    assert (status, err) == (0, "")
    assert os.stat(path).st_ino != inode
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o604
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.toml"]  # no temporary file left
    load_accounts_file(path)  # still loads


@pytest.mark.parametrize("content", list(BROKEN_FILES.values()), ids=list(BROKEN_FILES))
@pytest.mark.parametrize(
    "action",
    [["add", "bob"], ["remove", "alice"], ["set-role", "alice", "admin"], ["passwd", "alice"], ["list"]],
    ids=["add", "remove", "set-role", "passwd", "list"],
)
def test_a_file_that_does_not_load_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, action: list[str]
) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(content, encoding="utf-8")
    before, inode = path.read_bytes(), os.stat(path).st_ino
    line = assert_refused(accounts(capsys, path, *action, stdin="pw\n"))
    assert str(path) in line
    assert path.read_bytes() == before
    assert os.stat(path).st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.toml"]


# --- as an operator runs it: subprocesses ----------------------------------------------------


def test_help_documents_the_actions_and_examples() -> None:
    result = run_cli("accounts", "--help")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode("utf-8")
    for text in ("add", "list", "remove", "set-role", "passwd", "examples:", "comments", "restart", "0600"):
        assert text in out.lower(), text
    assert "pollchat-server accounts accounts.toml add alice --role admin" in out
    result = run_cli("accounts", "x.toml", "add", "--help")
    assert result.returncode == 0 and b"--role" in result.stdout and b"--iterations" in result.stdout


def test_usage_errors_are_one_line() -> None:
    for args in (
        ["accounts"],
        ["accounts", "x.toml"],
        ["accounts", "x.toml", "frob"],
        ["accounts", "x.toml", "set-role", "a", "root"],
    ):
        result = run_cli(*args)
        lines = result.stderr.decode("utf-8").splitlines()
        assert result.returncode == 2, args
        assert len(lines) == 1 and lines[0].startswith("pollchat-server"), lines


def test_subprocess_session_then_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    steps = [
        (["add", "alice", "--role", "admin", "--iterations", ITERATIONS], "pw1\n", "added admin account alice"),
        (["add", "bob", "--iterations", ITERATIONS], "pw2\n", "added user account bob"),
        (["set-role", "bob", "admin"], "", "bob is now an admin"),
        (["passwd", "bob", "--iterations", ITERATIONS], "pw3\n", "changed the password of bob"),
        (["remove", "alice"], "", "removed account alice"),
    ]
    for args, stdin, expected in steps:
        result = run_cli("accounts", str(path), *args, stdin=stdin.encode())
        assert result.returncode == 0, result.stderr
        assert result.stderr == b""
        lines = result.stdout.decode("utf-8").splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), lines
    result = run_cli("accounts", str(path), "list")
    assert result.stdout.decode("utf-8").split() == ["bob", "admin"]
    assert verify_password("pw3", hashes(path)["bob"])

    path.write_bytes(path.read_bytes() + b"\n[[account]]\nname = 'x'\npassword = 'plain'\n")
    before = path.read_bytes()
    result = run_cli("accounts", str(path), "add", "carol", "--iterations", ITERATIONS, stdin=b"pw\n")
    lines = result.stderr.decode("utf-8").splitlines()
    assert result.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("pollchat-server: ") and str(path) in lines[0]
    assert result.stdout == b""
    assert path.read_bytes() == before


@contextlib.contextmanager
def running_server(tmp_path: Path, accounts_file: Path) -> Iterator[int]:
    """A real server using ``accounts_file``; yields its port; always killed."""
    stderr_path = tmp_path / "server-stderr.log"
    with open(stderr_path, "wb") as stderr_file:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "pollchat.server", "--max-users", "4", "--port", "0", "--host", "127.0.0.1",
                "--data-dir", str(tmp_path / "data"), "--kdf-iterations", ITERATIONS, "--replay", "0", "--no-game",
                "--web-port", "0", "--irc-port", "0", "--irc-tls-port", "0", "--register-rate", "0", "--accounts", str(accounts_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            cwd=REPO_ROOT,
            env=env(),
        )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + TIMEOUT
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no 'listening on' line: {buffer!r} {stderr_path.read_text('utf-8', 'replace')}"
            ready, _, _ = select.select([proc.stdout], [], [], remaining)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                assert chunk, f"server ended: {stderr_path.read_text('utf-8', 'replace')}"
                buffer += chunk
        match = LISTENING_RE.fullmatch(buffer.split(b"\n", 1)[0].decode("utf-8"))
        assert match, buffer
        yield int(match.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()


def login(port: int, name: str, password: str) -> bytes:
    """Log in; the server's first answer line."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock, sock.makefile("rb") as lines:
        assert lines.readline() == GREETING + b"\n"
        sock.sendall(b"login\n" + f"{name},{password}\n".encode())
        return lines.readline().removesuffix(b"\n")


def test_a_server_started_with_the_edited_file_accepts_the_new_accounts(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    password = "pä,ss wörd,☃"
    for name, secret, role in (("Zoë", password, "admin"), ("bob", "pw", "user")):
        result = run_cli("accounts", str(path), "add", name, "--role", role, "--iterations", ITERATIONS,
                         stdin=secret.encode() + b"\n")
        assert result.returncode == 0, result.stderr
    with running_server(tmp_path, path) as port:
        assert login(port, "zoë", "wrong") == b"Wrong Password"
        assert login(port, "zoë", password) == b"Access Provided"
        assert login(port, "BOB", "pw") == b"Access Provided"
