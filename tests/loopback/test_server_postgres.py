"""``pollchat-server --database postgresql://...``: the chat on the PostgreSQL engine
(a real server process and the test PostgreSQL of tests/postgres.py), and the one-line
refusals at start (no psycopg, a password in the URL, an unreachable server)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import REPO_ROOT
from tests.loopback.test_cli import _env, assert_one_line_error, run_cli, server_args, start_server

pytest.importorskip("psycopg", reason="pip install 'pollchat[postgres]'")


def test_accounts_and_history_live_in_postgresql_across_restarts(tmp_path: Path, pg_url: str) -> None:
    args = server_args(tmp_path / "data", "--max-users", "3", "--database", pg_url, "--replay", "5")
    with start_server(args, tmp_path) as server:
        server.wait_listening()
        amy = server.client()
        amy.send(b"register\namy,secret\n")
        assert amy.read_until(b"active users are: amy")[-1] == b"active users are: amy"
        bob = server.client()
        bob.send(b"register\nbob,secret\n")
        assert bob.read_until(b"active users are: amy bob")[-1] == b"active users are: amy bob"
        bob.send(b"hello from postgres\n")
        assert amy.read_until(b"bob: hello from postgres")[-1] == b"bob: hello from postgres"  # handled
        bob.close()
        amy.close()
        assert server.stop() == 0, server.stderr()
        assert pg_url in server.stderr() and "Traceback" not in server.stderr()
    assert not (tmp_path / "data" / "pollchat.db").exists()  # nothing went to SQLite
    with start_server(args, tmp_path) as server:
        server.wait_listening()
        again = server.client()
        again.send(b"login\nBOB,secret\n")  # amy's and bob's registrations were kept
        lines = again.read_until(b"--- end of history ---")
        assert lines[0] == b"Access Provided"
        assert lines[-2].endswith(b"] bob: hello from postgres"), lines
        again.close()
        assert server.stop() == 0, server.stderr()


def test_a_password_in_the_url_is_refused_in_one_line(tmp_path: Path) -> None:
    result = run_cli(*server_args(tmp_path, "--max-users", "2", "--database", "postgresql://u:hunter2@127.0.0.1/db"))
    line = assert_one_line_error(result)
    assert "PGPASSWORD" in line and "hunter2" not in line


def test_an_unreachable_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli(*server_args(tmp_path, "--max-users", "2", "--database", "postgresql://u@127.0.0.1:1/db"))
    assert "cannot connect to postgresql://u@127.0.0.1:1/db" in assert_one_line_error(result)


def test_without_psycopg_the_error_names_the_extra(tmp_path: Path) -> None:
    # sys.modules["psycopg"] = None makes "import psycopg" fail, as when it is not installed.
    code = "import sys; sys.modules['psycopg'] = None; from pollchat.server.cli import main; sys.exit(main())"
    args = server_args(tmp_path, "--max-users", "2", "--database", "postgresql://u@127.0.0.1/db")
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, cwd=REPO_ROOT, env=_env(), timeout=60
    )
    assert "pip install 'pollchat[postgres]'" in assert_one_line_error(result)
