"""The rotating log file (issue 5, "Logs"): where it goes, what it says, what it never says.

Real server processes on 127.0.0.1, port 0; every wait is bounded.
"""

from __future__ import annotations

import errno
import io
import logging.handlers
import os
import stat
from pathlib import Path

from pollchat.config import ServerConfig
from pollchat.server import cli
from tests.loopback.test_cli import run_cli, server_args, start_server

PASSWORD = "Corr3ct-H0rse-Battery"
WRONG = "Wr0ng-Staple-Guess"
OPEN = ("--max-connections-per-address", "0", "--rate-limit", "0")


def exercise(args: list[str], tmp_path: Path) -> str:
    """Run a server, register ``alice``, fail one login from another connection, log in
    again, stop it; return its stderr."""
    with start_server(args, tmp_path) as server:
        server.wait_listening()
        alice = server.client()
        intruder = server.client()
        try:
            alice.send(f"register\nalice,{PASSWORD}\n".encode())
            assert alice.readline() == b"Access Provided"
            intruder.send(f"login\nalice,{WRONG}\n".encode())
            assert intruder.readline() == b"Wrong Password"
            intruder.send(f"login\nnobody,{WRONG}\n".encode())
            assert intruder.readline() != b"Access Provided"
        finally:
            alice.close()
            intruder.close()
        again = server.client()
        try:
            again.send(f"login\nALICE,{PASSWORD}\n".encode())
            assert again.readline() == b"Access Provided"
        finally:
            again.close()
        assert server.stop() == 0, server.stderr()
        return server.stderr()


def test_log_file_in_the_data_dir_has_logins_and_failures_but_no_password(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stderr = exercise(server_args(data_dir, "--max-users", "5", *OPEN), tmp_path)
    log_file = data_dir / "pollchat.log"
    text = log_file.read_text("utf-8")
    lines = text.splitlines()
    # start and stop
    assert any("listening on 127.0.0.1:" in line for line in lines)
    assert "stopped" in lines[-1]
    # the registration and the login, each with a connection id and the peer address
    assert any("alice registered and logged in (connection #" in line and "127.0.0.1" in line for line in lines)
    assert any("ALICE logged in (connection #" in line and "127.0.0.1" in line for line in lines)
    # the failed logins, with the account name and the peer address
    failed = [line for line in lines if "login refused" in line]
    assert any("'alice'" in line and "127.0.0.1" in line for line in failed), failed
    assert any("'nobody'" in line and "127.0.0.1" in line for line in failed), failed
    # never a password, right or wrong, in the file or on stderr
    for secret in (PASSWORD, WRONG):
        assert secret not in text
        assert secret not in stderr
        assert secret.encode() not in log_file.read_bytes()
    # the same records go to stderr
    assert "alice registered and logged in" in stderr


def test_log_file_flag_and_level(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log_file = tmp_path / "elsewhere" / "chat.log"
    log_file.parent.mkdir()
    exercise(server_args(data_dir, "--max-users", "5", *OPEN, "--log-file", str(log_file)), tmp_path)
    assert not (data_dir / "pollchat.log").exists()
    text = log_file.read_text("utf-8")
    assert "alice registered and logged in" in text
    assert PASSWORD not in text and WRONG not in text

    quiet = tmp_path / "quiet.log"
    exercise(server_args(tmp_path / "data2", "--max-users", "5", *OPEN, "--log-file", str(quiet), "--log-level", "warning"), tmp_path)
    assert "logged in" not in quiet.read_text("utf-8")  # INFO records filtered out


def test_log_file_that_cannot_be_opened(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log_file = tmp_path / "missing-dir" / "chat.log"
    result = run_cli(*server_args(data_dir, "--max-users", "5", "--log-file", str(log_file)))
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 2, result
    assert lines == [lines[0]] and lines[0].startswith(f"pollchat-server: cannot open the log file {log_file}")
    assert b"listening on" not in result.stdout
    assert not (data_dir / "pollchat.lock").exists()  # the data directory is free again


def test_rotation_settings(tmp_path: Path) -> None:
    config = ServerConfig(max_users=1, data_dir=tmp_path)
    assert cli.log_file_path(config) == tmp_path / "pollchat.log"
    assert cli.log_file_path(ServerConfig(max_users=1, data_dir=tmp_path, log_file=tmp_path / "x.log")) == tmp_path / "x.log"
    handler = cli.file_log_handler(tmp_path / "pollchat.log")
    try:
        assert isinstance(handler, logging.handlers.RotatingFileHandler)
        assert handler.maxBytes == 5 * 1024 * 1024
        assert handler.backupCount == 5
        assert handler.encoding == "utf-8"
        assert handler.formatter is not None and handler.formatter._fmt == cli.LOG_FORMAT
        # rotation really happens at maxBytes and keeps backupCount old files
        handler.maxBytes = 200
        logger = logging.getLogger("pollchat.test_logs.rotation")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            for i in range(100):
                logger.warning("line %d ünïcode", i)
        finally:
            logger.removeHandler(handler)
    finally:
        handler.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["pollchat.log", *(f"pollchat.log.{n}" for n in range(1, 6))]
    assert "ünïcode" in (tmp_path / "pollchat.log").read_text("utf-8")


def test_log_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    """The log names accounts and addresses: the file and its rotated copies are 0600."""
    old = os.umask(0o022)
    try:
        handler = cli.file_log_handler(tmp_path / "pollchat.log")
        handler.maxBytes = 200
        logger = logging.getLogger("pollchat.test_logs.private")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            for i in range(20):
                logger.warning("line %d", i)
        finally:
            logger.removeHandler(handler)
            handler.close()
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert len(modes) > 2 and set(modes.values()) == {0o600}, modes


class _FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_log_file_on_a_full_disk_is_reported_once_not_per_record(tmp_path: Path, capsys) -> None:
    """Logging to a full disk must not flood stderr with a traceback per record: one line
    says the file cannot be written, one more when it works again."""
    handler = cli.file_log_handler(tmp_path / "pollchat.log")
    logger = logging.getLogger("pollchat.test_logs.full")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        handler.stream = _FullDisk()
        handler._open = _FullDisk  # type: ignore[method-assign]  # reopening does not help either
        for i in range(50):
            logger.warning("record %d", i)
        failed = capsys.readouterr().err.splitlines()
        assert len(failed) == 1, failed
        assert failed[0].startswith(f"pollchat-server: cannot write the log file {tmp_path / 'pollchat.log'}: ")
        assert "No space left on device" in failed[0] and "Traceback" not in failed[0]
        del handler._open  # space again: the real file is reopened at the next record
        logger.warning("after")
        recovered = capsys.readouterr().err.splitlines()
        assert recovered == [f"pollchat-server: the log file {tmp_path / 'pollchat.log'} is written again (50 record(s) lost)"]
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert (tmp_path / "pollchat.log").read_text("utf-8").splitlines()[-1].endswith("after")


def test_a_data_directory_others_can_read_is_warned_about_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    stderr = exercise(server_args(data_dir, "--max-users", "5", *OPEN), tmp_path)
    warnings = [line for line in stderr.splitlines() if " WARNING " in line]
    assert any(f"the data directory {data_dir} can be read by other users (mode 0755)" in line for line in warnings), stderr
    assert any("chmod 700" in line for line in warnings)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    stderr = exercise(server_args(private, "--max-users", "5", *OPEN), tmp_path)
    assert "can be read by other users" not in stderr
    assert stat.S_IMODE((private / "pollchat.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((private / "pollchat.db").stat().st_mode) == 0o600
