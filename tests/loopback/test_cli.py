"""Subprocess tests of the real entry point, ``python -m pollchat.server``.

Each test runs the server (or ``hash-password``) as a separate process, as an operator
would, and checks what it prints, its exit status and what it leaves on disk. Servers
listen on 127.0.0.1 with port 0; every wait is bounded; every process is killed in a
``finally`` if it is still running.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import REPO_ROOT

TIMEOUT = 15
"""Bound of every subprocess and socket wait, seconds."""
ITERATIONS = "1000"
"""PBKDF2 iterations for test servers (the server hashes a dummy password at start)."""
PROG_PREFIX = "pollchat-server: "
GREETING = b"type login or register and then give user,password"
LISTENING_RE = re.compile(r"listening on [\d.]+:(\d+)")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT)
    # Deterministic text encoding of the pipes, whatever the caller's locale: UTF-8 mode
    # (stdin decodes with surrogateescape, as under any UTF-8 locale).
    env.pop("PYTHONIOENCODING", None)
    env["PYTHONUTF8"] = "1"
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pollchat.server", *args]


def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m pollchat.server ARGS`` to completion, stdin from ``stdin``."""
    return subprocess.run(
        _command(*args),
        input=stdin,
        capture_output=True,
        cwd=REPO_ROOT,
        env=_env(),
        timeout=TIMEOUT,
    )


def server_args(data_dir: Path, *extra: str) -> list[str]:
    """Safe defaults for a test server: loopback, free port, a private data dir, and the
    foundation's byte-exact login flow (no history replay, no game offer) with its short
    passwords (--min-password-length 1)."""
    return [
        "--port", "0", "--host", "127.0.0.1", "--data-dir", str(data_dir), "--kdf-iterations", ITERATIONS,
        "--replay", "0", "--no-game", "--web-port", "0", "--irc-port", "0", "--irc-tls-port", "0", "--register-rate", "0", "--min-password-length", "1", *extra,
    ]


def stderr_lines(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    return result.stderr.decode("utf-8").splitlines()


def assert_one_line_error(
    result: subprocess.CompletedProcess[bytes], status: int = 2, prefix: str = PROG_PREFIX
) -> str:
    """The process failed with ``status`` and exactly one prefixed line on stderr."""
    lines = stderr_lines(result)
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith(prefix), lines
    assert "Traceback" not in lines[0]
    assert b"listening on" not in result.stdout
    return lines[0]


# --- helpers: line reading with a deadline -----------------------------------------------


class PipeLines:
    """Read lines from a pipe with a deadline (no thread, no blocking read)."""

    def __init__(self, pipe) -> None:  # noqa: ANN001 - a binary file object
        self.fd = pipe.fileno()
        self.buf = b""
        self.eof = False

    def readline(self, timeout: float = TIMEOUT) -> str | None:
        """The next line without its newline, or ``None`` at end of file."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf and not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no complete line within {timeout}s; got so far: {self.buf!r}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                chunk = os.read(self.fd, 65536)
                if chunk:
                    self.buf += chunk
                else:
                    self.eof = True
        if b"\n" in self.buf:
            line, _, self.buf = self.buf.partition(b"\n")
        elif self.buf:
            line, self.buf = self.buf, b""
        else:
            return None
        return line.decode("utf-8")


class Client:
    """A line-protocol client on a blocking socket with a timeout."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.settimeout(TIMEOUT)
        self.file = self.sock.makefile("rb")

    def readline(self) -> bytes:
        """The next line without ``\\n``; ``b""`` only at end of stream."""
        line = self.file.readline()
        assert line == b"" or line.endswith(b"\n"), line
        return line.removesuffix(b"\n")

    def read_until(self, wanted: bytes, limit: int = 20) -> list[bytes]:
        """Lines up to and including ``wanted`` (fails at EOF or after ``limit`` lines)."""
        seen = []
        for _ in range(limit):
            line = self.readline()
            seen.append(line)
            if line == wanted:
                return seen
            if line == b"":
                break
        raise AssertionError(f"{wanted!r} not received; got {seen!r}")

    def read_all(self) -> list[bytes]:
        """Every line until the server closes the connection."""
        data = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.split(b"\n")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class ServerProcess:
    """A running ``python -m pollchat.server``; see :func:`start_server`."""

    def __init__(self, proc: subprocess.Popen[bytes], out: PipeLines, stderr_path: Path | None) -> None:
        self.proc = proc
        self.out = out
        self.stderr_path = stderr_path
        self.port = 0
        self.head: list[str] = []
        """stdout lines read before (and including) the 'listening on' line."""

    def wait_listening(self, max_lines: int = 10) -> int:
        for _ in range(max_lines):
            line = self.out.readline()
            if line is None:
                raise AssertionError(f"server ended before listening: {self.head!r}; {self.stderr()}")
            self.head.append(line)
            match = LISTENING_RE.fullmatch(line)
            if match:
                self.port = int(match.group(1))
                return self.port
        raise AssertionError(f"no 'listening on' line in {self.head!r}")

    def stderr(self) -> str:
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text("utf-8", errors="replace")

    def client(self) -> Client:
        """A connected client that has already read the greeting."""
        client = Client(self.port)
        assert client.readline() == GREETING
        return client

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=TIMEOUT)


@contextlib.contextmanager
def start_server(args: list[str], tmp_path: Path, stdin: bytes = b"", merge: bool = False) -> Iterator[ServerProcess]:
    """Start a server; yield it (not yet waited for); always kill it on the way out.

    ``merge`` sends stderr into stdout (as a shell's ``2>&1``); otherwise stderr goes to
    a file (never an unread pipe, which could fill up and stall the server).
    """
    stderr_path = None if merge else tmp_path / f"stderr-{time.monotonic_ns()}.log"
    stderr_file = subprocess.STDOUT if merge else open(stderr_path, "wb")  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            _command(*args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            cwd=REPO_ROOT,
            env=_env(),
        )
    finally:
        if not merge:
            stderr_file.close()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        yield ServerProcess(proc, PipeLines(proc.stdout), stderr_path)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()


def pbkdf2_hash(password: str, salt: str = "testsalt", iterations: int = 1000) -> str:
    """An independent Django-format hash, for accounts files."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("utf-8"), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def write_accounts(path: Path, *entries: str) -> Path:
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def account_entry(name: str, password_hash: str | None = None, **extra: str) -> str:
    lines = ["[[account]]", f"name = {_toml_string(name)}"]
    if password_hash is not None:
        lines.append(f"password_hash = {_toml_string(password_hash)}")
    lines += [f"{key} = {_toml_string(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


GOOD_HASH = pbkdf2_hash("pw")


# --- --help and --version -----------------------------------------------------------------


def test_help_shows_the_examples_epilog() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode("utf-8")
    assert "examples:" in out
    assert "printf '4\\n' | pollchat-server" in out
    assert "pollchat-server hash-password" in out
    assert "nc localhost 3490" in out
    for flag in ("--max-users", "--port", "--host", "--accounts", "--data-dir", "--kdf-iterations"):
        assert flag in out


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").strip() == "pollchat-server 0.1.0"


@pytest.mark.parametrize("script", ["pollchat-server", "pollchat-client"])
def test_console_scripts_are_installed(script: str) -> None:
    # The README's commands install into a venv and run the tests with its python, so
    # the scripts sit beside sys.executable; elsewhere look on PATH.
    beside = Path(sys.executable).parent / script
    exe = str(beside) if beside.exists() else shutil.which(script)
    if exe is None:
        pytest.skip(f"the {script} console script is not installed (pip install -e .)")
    result = subprocess.run([exe, "--version"], capture_output=True, timeout=TIMEOUT, env=_env(), cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").strip() == f"{script} 0.1.0"


# --- the max-users prompt through a pipe, and shutdown by signal --------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_prompt_through_a_pipe_then_signal_shutdown(tmp_path: Path, signum: int) -> None:
    with start_server(server_args(tmp_path / "data"), tmp_path, stdin=b"2\n") as server:
        assert server.out.readline() == "enter the number of people the chat can have"
        second = server.out.readline()
        assert second is not None
        match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)", second)
        assert match, second
        server.port = int(match.group(1))
        assert server.port > 0

        client = server.client()  # the greeting also proves the loop (and its handlers) runs
        try:
            status = server.stop(signum)
            lines = client.read_all()
        finally:
            client.close()
        assert status == 0, server.stderr()
        assert b"server is shutting down" in lines
        assert "Traceback" not in server.stderr()
    # the database was created and closed cleanly
    assert (tmp_path / "data" / "pollchat.db").is_file()


def test_signal_shutdown_tells_logged_in_users_too(tmp_path: Path) -> None:
    with start_server(server_args(tmp_path / "data", "--max-users", "3"), tmp_path) as server:
        server.wait_listening()
        alice = server.client()
        waiting = server.client()
        try:
            alice.send(b"register\nalice,pw\n")
            assert alice.readline() == b"Access Provided"
            assert alice.readline() == b"active users are: alice"
            assert server.stop(signal.SIGTERM) == 0, server.stderr()
            assert alice.read_all()[0] == b"server is shutting down"
            assert waiting.read_all()[0] == b"server is shutting down"
        finally:
            alice.close()
            waiting.close()


@pytest.mark.parametrize(
    "answer",
    [b"", b"abc\n", b"0\n", b"-3\n", b"\n", b"2.5\n", b"\xff\n"],
    ids=["eof", "abc", "zero", "negative", "blank", "fraction", "not-utf8"],
)
def test_prompt_errors(tmp_path: Path, answer: bytes) -> None:
    data_dir = tmp_path / "data"
    result = run_cli(*server_args(data_dir), stdin=answer)
    assert result.stdout.decode("utf-8").splitlines() == ["enter the number of people the chat can have"]
    assert_one_line_error(result)
    assert not data_dir.exists(), "nothing may be written to disk before the answer is checked"


@pytest.mark.parametrize("value", ["0", "x", "-1", ""])
def test_max_users_flag_errors(tmp_path: Path, value: str) -> None:
    data_dir = tmp_path / "data"
    result = run_cli(*server_args(data_dir, "--max-users", value))
    line = assert_one_line_error(result)
    assert "--max-users" in line
    assert result.stdout == b""  # no prompt when the flag is given (even a bad one)
    assert not data_dir.exists()


# --- too few seats for the accounts file ------------------------------------------------------


def _three_accounts(tmp_path: Path) -> Path:
    return write_accounts(
        tmp_path / "accounts.toml",
        account_entry("user1", GOOD_HASH),
        account_entry("user2", GOOD_HASH),
        account_entry("user3", GOOD_HASH),
    )


def test_too_few_seats_for_the_accounts_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = run_cli(*server_args(data_dir, "--max-users", "2", "--accounts", str(_three_accounts(tmp_path))))
    assert result.returncode == 2
    output = (result.stdout + result.stderr).decode("utf-8")
    assert "login users > max users, change settings" in output
    assert "listening on" not in output
    assert not data_dir.exists()


def test_too_few_seats_from_the_prompt(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = run_cli(*server_args(data_dir, "--accounts", str(_three_accounts(tmp_path))), stdin=b"2\n")
    assert result.returncode == 2
    output = (result.stdout + result.stderr).decode("utf-8")
    assert "login users > max users, change settings" in output
    assert "listening on" not in output


def test_exactly_enough_seats_starts(tmp_path: Path) -> None:
    args = server_args(tmp_path / "data", "--max-users", "3", "--accounts", str(_three_accounts(tmp_path)))
    with start_server(args, tmp_path) as server:
        server.wait_listening()
        client = server.client()
        try:
            client.send(b"login\nUSER2,pw\n")
            assert client.readline() == b"Access Provided"
            assert client.readline() == b"active users are: user2"
        finally:
            client.close()
        assert server.stop() == 0


# --- accounts file errors ---------------------------------------------------------------------

_BAD_ACCOUNTS = {
    "plain-password": ([account_entry("user1", password="123")], "user1"),
    "plain-password-and-hash": ([account_entry("user1", GOOD_HASH, password="123")], "user1"),
    "not-pbkdf2": ([account_entry("user1", "md5$1000$salt$" + GOOD_HASH.rsplit("$", 1)[1])], "user1"),
    "bcrypt-like": ([account_entry("user1", "$2b$12$abcdefghijklmnopqrstuv")], "user1"),
    "iterations-not-a-number": ([account_entry("user1", GOOD_HASH.replace("$1000$", "$many$"))], "user1"),
    "iterations-zero": ([account_entry("user1", GOOD_HASH.replace("$1000$", "$0$"))], "user1"),
    "bad-base64": ([account_entry("user1", GOOD_HASH.rsplit("$", 1)[0] + "$not*base64!")], "user1"),
    "short-digest": (
        [account_entry("user1", GOOD_HASH.rsplit("$", 1)[0] + "$" + base64.b64encode(b"x" * 16).decode())],
        "user1",
    ),
    "too-few-fields": ([account_entry("user1", "pbkdf2_sha256$1000$salt")], "user1"),
    "no-hash": ([account_entry("user1")], "user1"),
    "second-account-bad": (
        [account_entry("good1", GOOD_HASH), account_entry("user2", "pbkdf2_sha256$x$y$z")],
        "user2",
    ),
    "duplicate": ([account_entry("user1", GOOD_HASH), account_entry("user1", GOOD_HASH)], "user1"),
    "duplicate-case": ([account_entry("User1", GOOD_HASH), account_entry("user1", GOOD_HASH)], "user1"),
    "name-with-space": ([account_entry("a b", GOOD_HASH)], "a b"),
    "name-with-comma": ([account_entry("x,y", GOOD_HASH)], "x,y"),
    "name-33-chars": ([account_entry("n" * 33, GOOD_HASH)], "n" * 33),
    "empty-name": ([account_entry("", GOOD_HASH)], "''"),
    "unknown-key": ([account_entry("user1", GOOD_HASH, colour="blue")], "user1"),
}


@pytest.mark.parametrize(("entries", "account"), list(_BAD_ACCOUNTS.values()), ids=list(_BAD_ACCOUNTS))
def test_accounts_file_errors(tmp_path: Path, entries: list[str], account: str) -> None:
    path = write_accounts(tmp_path / "accounts.toml", *entries)
    data_dir = tmp_path / "data"
    result = run_cli(*server_args(data_dir, "--max-users", "5", "--accounts", str(path)))
    line = assert_one_line_error(result)
    assert str(path) in line
    assert account in line
    assert not data_dir.exists()


def test_accounts_file_error_mentions_both_spellings_of_a_duplicate(tmp_path: Path) -> None:
    path = write_accounts(tmp_path / "accounts.toml", account_entry("User1", GOOD_HASH), account_entry("user1", GOOD_HASH))
    line = assert_one_line_error(run_cli(*server_args(tmp_path / "data", "--max-users", "5", "--accounts", str(path))))
    assert "User1" in line and "'user1'" in line


def test_accounts_file_with_plain_password_does_not_echo_it(tmp_path: Path) -> None:
    path = write_accounts(tmp_path / "accounts.toml", account_entry("user1", password="s3cr3t-value"))
    result = run_cli(*server_args(tmp_path / "data", "--max-users", "5", "--accounts", str(path)))
    line = assert_one_line_error(result)
    assert "s3cr3t-value" not in line
    assert b"s3cr3t-value" not in result.stdout


def test_accounts_file_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text('[[account]]\nname = "user1\n', encoding="utf-8")
    line = assert_one_line_error(run_cli(*server_args(tmp_path / "data", "--max-users", "5", "--accounts", str(path))))
    assert str(path) in line
    assert "TOML" in line


def test_accounts_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_bytes(b'[[account]]\nname = "caf\xe9"\npassword_hash = "x"\n')  # Latin-1, not UTF-8
    data_dir = tmp_path / "data"
    line = assert_one_line_error(run_cli(*server_args(data_dir, "--max-users", "5", "--accounts", str(path))))
    assert str(path) in line
    assert not data_dir.exists()


def test_accounts_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "no-such-accounts.toml"
    data_dir = tmp_path / "data"
    line = assert_one_line_error(run_cli(*server_args(data_dir, "--max-users", "5", "--accounts", str(path))))
    assert str(path) in line
    assert not data_dir.exists()


def test_accounts_file_checked_before_the_prompt_answer_is_used(tmp_path: Path) -> None:
    path = write_accounts(tmp_path / "accounts.toml", account_entry("a b", GOOD_HASH))
    result = run_cli(*server_args(tmp_path / "data", "--accounts", str(path)), stdin=b"5\n")
    line = assert_one_line_error(result)
    assert str(path) in line


# --- data directory / database errors -------------------------------------------------------


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_database_that_is_a_text_file_is_refused_and_untouched(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "pollchat.db").write_bytes(b"my shopping list\nmilk\neggs\n" * 50)
    before = _snapshot(data_dir)
    result = run_cli(*server_args(data_dir, "--max-users", "2"))
    line = assert_one_line_error(result, status=1)
    assert "pollchat.db" in line
    assert _snapshot(data_dir) == before


def test_database_of_another_program_is_refused_and_untouched(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db = sqlite3.connect(data_dir / "pollchat.db")
    db.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, title TEXT)")
    db.execute("INSERT INTO recipes (title) VALUES ('soup')")
    db.commit()
    db.close()
    before = _snapshot(data_dir)
    result = run_cli(*server_args(data_dir, "--max-users", "2"))
    line = assert_one_line_error(result, status=1)
    assert "pollchat.db" in line
    assert "another program" in line
    assert _snapshot(data_dir) == before


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_bytes(b"a file, not a directory\n")
    result = run_cli(*server_args(not_a_dir, "--max-users", "2"))
    assert result.returncode in (1, 2)
    assert_one_line_error(result, status=result.returncode)
    assert not_a_dir.read_bytes() == b"a file, not a directory\n"


def test_port_in_use(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_cli(
            "--port", str(port), "--host", "127.0.0.1", "--data-dir", str(tmp_path / "data"),
            "--kdf-iterations", ITERATIONS, "--max-users", "2",
        )
    line = assert_one_line_error(result)
    assert f"127.0.0.1:{port}" in line


# --- hash-password ----------------------------------------------------------------------------

HASH_RE = re.compile(r"pbkdf2_sha256\$(\d+)\$([^$\s]+)\$([A-Za-z0-9+/]+={0,2})")


def hash_password_cli(stdin: bytes, iterations: str = ITERATIONS) -> str:
    result = run_cli("hash-password", "--iterations", iterations, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    lines = result.stdout.decode("utf-8").splitlines()
    assert len(lines) == 1, lines
    assert result.stdout.endswith(b"\n")
    return lines[0]


def check_independently(encoded: str, password: str, iterations: int = 1000) -> None:
    """Verify a hash string with hashlib alone (not pollchat's verify)."""
    match = HASH_RE.fullmatch(encoded)
    assert match, encoded
    assert int(match.group(1)) == iterations
    salt, b64 = match.group(2), match.group(3)
    expected = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("utf-8"), iterations)
    assert base64.b64decode(b64, validate=True) == expected
    assert b64 == base64.b64encode(expected).decode("ascii")


@pytest.mark.parametrize(
    ("stdin", "password"),
    [
        (b"secret\n", "secret"),
        (b"secret", "secret"),
        (b"secret\r\n", "secret"),
        (b"a,b,,c\n", "a,b,,c"),
        ("pässwörd ☃ 密码,x\n".encode(), "pässwörd ☃ 密码,x"),
        (b" spaced out \n", " spaced out "),
    ],
    ids=["plain", "no-newline", "crlf", "commas", "unicode", "spaces"],
)
def test_hash_password_verified_independently(stdin: bytes, password: str) -> None:
    check_independently(hash_password_cli(stdin), password)


def test_hash_password_reads_only_the_first_line() -> None:
    check_independently(hash_password_cli(b"first\nsecond\n"), "first")


def test_hash_password_salts_differ() -> None:
    first = HASH_RE.fullmatch(hash_password_cli(b"secret\n"))
    second = HASH_RE.fullmatch(hash_password_cli(b"secret\n"))
    assert first and second
    assert first.group(2) != second.group(2)
    assert first.group(3) != second.group(3)
    # 16 random bytes, URL-safe base64: 22 characters, never '$'
    assert len(first.group(2)) >= 22


def test_hash_password_iterations_flag() -> None:
    check_independently(hash_password_cli(b"secret\n", iterations="1234"), "secret", iterations=1234)


@pytest.mark.parametrize("stdin", [b"\n", b"", b"\r\n"], ids=["empty-line", "eof", "crlf-only"])
def test_hash_password_empty_password(stdin: bytes) -> None:
    result = run_cli("hash-password", "--iterations", ITERATIONS, stdin=stdin)
    assert_one_line_error(result)
    assert result.stdout == b""


def test_hash_password_not_utf8() -> None:
    """Bytes that are not UTF-8 cannot be typed at login either: one-line error, exit 2."""
    result = run_cli("hash-password", "--iterations", ITERATIONS, stdin=b"p\xffw\n")
    assert_one_line_error(result)
    assert result.stdout == b""


@pytest.mark.parametrize("iterations", ["0", "abc"])
def test_hash_password_bad_iterations(iterations: str) -> None:
    result = run_cli("hash-password", "--iterations", iterations, stdin=b"secret\n")
    # argparse names the subcommand in its usage errors
    line = assert_one_line_error(result, prefix="pollchat-server hash-password: ")
    assert "--iterations" in line
    assert result.stdout == b""


def test_hashed_password_logs_in_on_a_real_server(tmp_path: Path) -> None:
    secret_hash = hash_password_cli(b"secret\n")
    tricky_password = "pä,ss wörd,☃"
    tricky_hash = hash_password_cli(tricky_password.encode() + b"\n")
    path = write_accounts(
        tmp_path / "accounts.toml",
        account_entry("hasher", secret_hash),
        account_entry("Zoë", tricky_hash),
    )
    args = server_args(tmp_path / "data", "--max-users", "2", "--accounts", str(path))
    with start_server(args, tmp_path) as server:
        server.wait_listening()
        first = server.client()
        second = server.client()
        try:
            first.send(b"login\nhasher,wrong\n")
            assert first.readline() == b"Wrong Password"
            first.send(b"login\nhasher,secret\n")
            lines = first.read_until(b"Access Provided")
            assert b"Wrong Password" not in lines
            assert first.readline() == b"active users are: hasher"

            second.send(b"login\nzo\xc3\xab," + tricky_password.encode() + b"\n")
            assert second.readline() == b"Access Provided"
            assert second.readline() == "active users are: hasher Zoë".encode()
            assert first.readline() == "Zoë has entered the chat".encode()
        finally:
            first.close()
            second.close()
        assert server.stop() == 0
        assert "secret" not in server.stderr()
        assert tricky_password not in server.stderr()


# --- the README's smoke scenario --------------------------------------------------------------


def test_readme_smoke_scenario_and_registration_persists(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    args = server_args(data_dir, "--max-users", "3")
    with start_server(args, tmp_path, merge=True) as server:
        first = server.out.readline()
        assert first is not None
        match = LISTENING_RE.fullmatch(first)
        assert match, f"first line (stdout and stderr merged) is {first!r}"
        server.port = int(match.group(1))
        client = server.client()
        try:
            client.send(b"register\nsmoke,pw\n")
            assert client.readline() == b"Access Provided"
            assert client.readline() == b"active users are: smoke"
        finally:
            client.close()
        assert server.stop() == 0

    # the registration survives a restart (same data directory)
    with start_server(args, tmp_path) as server:
        server.wait_listening()
        client = server.client()
        try:
            client.send(b"register\nSMOKE,other\n")
            assert client.readline() == b"username is already used"
            client.send(b"login\nsmoke,pw\n")
            assert client.read_until(b"Access Provided")[-1] == b"Access Provided"
        finally:
            client.close()
        assert server.stop() == 0
