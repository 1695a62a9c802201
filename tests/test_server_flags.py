"""Every ``pollchat-server`` flag reaches the :class:`ServerConfig` (``config_from_args``),
the defaults are ServerConfig's own, and bad values are one-line usage errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pollchat.config import ServerConfig, default_data_dir
from pollchat.server.cli import build_parser, config_from_args

# flag, value given, expected config field and value (all differ from the defaults)
FLAGS = [
    ("--host", "127.0.0.1", "host", "127.0.0.1"),
    ("--port", "0", "port", 0),
    ("--data-dir", "/srv/chat", "data_dir", Path("/srv/chat")),
    ("--kdf-iterations", "1000", "kdf_iterations", 1000),
    ("--max-output", "2048", "max_output", 2048),
    ("--idle-after", "7", "idle_after", 7),
    ("--replay", "0", "replay", 0),
    ("--no-game", None, "games", False),
    ("--history-keep", "50", "history_keep", 50),
    ("--max-connections-per-address", "3", "max_connections_per_address", 3),
    ("--login-timeout", "2.5", "login_timeout", 2.5),
    ("--rate-limit", "0.5", "rate_limit", 0.5),
    ("--rate-burst", "4", "rate_burst", 4),
    ("--keepalive", "0", "keepalive", 0.0),
    ("--throttle-after", "0", "throttle_after", 0),
    ("--lockout-after", "5", "lockout_after", 5),
    ("--address-lockout-after", "0", "address_lockout_after", 0),
    ("--lockout-seconds", "60", "lockout_seconds", 60.0),
    ("--backup-every", "0.02", "backup_every", 0.02),
    ("--backup-keep", "0", "backup_keep", 0),
    ("--log-file", "/var/log/pollchat.log", "log_file", Path("/var/log/pollchat.log")),
    ("--max-groups-per-owner", "2", "max_groups_per_owner", 2),
    ("--max-group-members", "0", "max_group_members", 0),
    ("--max-group-requests", "5", "max_group_requests", 5),
    ("--min-password-length", "12", "min_password_length", 12),
    ("--private-keep", "0", "private_keep", 0),
    ("--group-keep", "7", "group_keep", 7),
    ("--offline-quota", "0", "offline_quota", 0),
]


def test_every_flag_reaches_the_config() -> None:
    argv = ["--max-users", "9"]
    for flag, value, _, _ in FLAGS:
        argv += [flag] if value is None else [flag, value]
    config = config_from_args(build_parser().parse_args(argv), 9)
    defaults = ServerConfig(max_users=9)
    for flag, _, field, expected in FLAGS:
        assert getattr(config, field) == expected, flag
        assert getattr(defaults, field) != expected, f"{flag}: pick a value that differs from the default"
    assert config.max_users == 9


def test_defaults_are_the_config_defaults() -> None:
    config = config_from_args(build_parser().parse_args([]), 3)
    fields_set_by_the_cli = {field for _, _, field, _ in FLAGS}
    expected = ServerConfig(max_users=3, data_dir=default_data_dir())
    for field in dataclasses.fields(ServerConfig):
        if field.name in fields_set_by_the_cli or field.name == "max_users":
            assert getattr(config, field.name) == getattr(expected, field.name), field.name


def test_every_new_config_field_has_a_flag() -> None:
    """A ServerConfig field added later without a flag shows up here."""
    without_flag = {"max_users", "max_line", "max_failures", "hash_workers", "linger"}
    with_flag = {field for _, _, field, _ in FLAGS}
    assert {f.name for f in dataclasses.fields(ServerConfig)} - without_flag <= with_flag


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--max-connections-per-address", "-1"),
        ("--login-timeout", "-0.5"),
        ("--login-timeout", "nan"),
        ("--rate-limit", "inf"),
        ("--rate-limit", "fast"),
        ("--rate-burst", "0"),
        ("--keepalive", "-1"),
        ("--throttle-after", "1.5"),
        ("--lockout-after", "-2"),
        ("--address-lockout-after", "x"),
        ("--lockout-seconds", "-1"),
        ("--backup-every", "-0.1"),
        ("--backup-keep", "-1"),
        ("--max-group-members", "-1"),
        ("--max-groups-per-owner", "many"),
    ],
)
def test_bad_values_are_one_line_usage_errors(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--max-users", "2", flag, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("pollchat-server: argument ") and flag in err[0], err


def test_help_documents_defaults_and_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = " ".join(capsys.readouterr().out.split())  # undo the line wrapping
    for flag, _, _, _ in FLAGS:
        assert flag in out
    assert "0 turns it off (default: 20)" in out  # --max-connections-per-address
    assert "0 keeps them all (default: 7)" in out  # --backup-keep
