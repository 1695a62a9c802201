"""Every ``pollchat-server`` flag reaches the :class:`ServerConfig` (``config_from_args``),
the defaults are ServerConfig's own, and bad values are one-line usage errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pollchat.config import ServerConfig, default_data_dir
from pollchat.core.passwords import DEFAULT_ITERATIONS, MAX_ITERATIONS
from pollchat.server.cli import CONFIG_FLAGS, ConfigFlag, build_parser, config_from_args, flag_default

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
    ("--max-connections", "500", "max_connections", 500),
    ("--max-output-total", "0", "max_output_total", 0),
    ("--login-timeout", "2.5", "login_timeout", 2.5),
    ("--rate-limit", "0.5", "rate_limit", 0.5),
    ("--rate-burst", "4", "rate_burst", 4),
    ("--keepalive", "0", "keepalive", 0.0),
    ("--throttle-after", "0", "throttle_after", 0),
    ("--lockout-after", "5", "lockout_after", 5),
    ("--address-lockout-after", "0", "address_lockout_after", 0),
    ("--lockout-seconds", "60", "lockout_seconds", 60.0),
    ("--account-throttle-after", "0", "account_throttle_after", 0),
    ("--register-rate", "0", "register_rate", 0),
    ("--max-accounts", "3", "max_accounts", 3),
    ("--backup-every", "0.02", "backup_every", 0.02),
    ("--backup-keep", "0", "backup_keep", 0),
    ("--log-file", "/var/log/pollchat.log", "log_file", Path("/var/log/pollchat.log")),
    ("--max-groups-per-owner", "2", "max_groups_per_owner", 2),
    ("--max-group-members", "0", "max_group_members", 0),
    ("--max-group-requests", "5", "max_group_requests", 5),
    ("--tls-cert", "/etc/chat/cert.pem", "tls_cert", Path("/etc/chat/cert.pem")),
    ("--tls-key", "/etc/chat/key.pem", "tls_key", Path("/etc/chat/key.pem")),
    ("--tls-port", "6697", "tls_port", 6697),
    ("--tls-only", None, "tls_only", True),
    ("--web-port", "8080", "web_port", 8080),
    ("--web-host", "127.0.0.2", "web_host", "127.0.0.2"),
    ("--no-web", None, "web", False),
    ("--web-allow-origin", "https://chat.example.org", "web_allow_origins", ("https://chat.example.org",)),
    ("--web-host-name", "chat.lan", "web_host_names", ("chat.lan",)),
    ("--proxy-protocol-from", "10.0.0.5, 2001:db8::/32", "proxy_protocol_from", ("10.0.0.5/32", "2001:db8::/32")),
    ("--min-password-length", "12", "min_password_length", 12),
    ("--private-keep", "0", "private_keep", 0),
    ("--group-keep", "7", "group_keep", 7),
    ("--offline-quota", "0", "offline_quota", 0),
    ("--sessions-per-account", "3", "sessions_per_account", 3),
    ("--announce-limit", "1000", "announce_limit", 1000),
    ("--input-budget", "0", "input_budget", 0.0),
    ("--address-input-budget", "250.5", "address_input_budget", 250.5),
    ("--irc-port", "7000", "irc_port", 7000),
    ("--irc-tls-port", "7001", "irc_tls_port", 7001),
    ("--no-irc", None, "irc", False),
    ("--irc-guests", None, "irc_guests", True),
    ("--irc-server-name", "irc.example", "irc_server_name", "irc.example"),
    ("--irc-main-channel", "#main", "irc_main_channel", "#main"),
    ("--no-irc-autojoin", None, "irc_autojoin", False),
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


def test_every_row_of_the_flag_table_is_tested_here() -> None:
    """A flag added to CONFIG_FLAGS must be added to FLAGS above too."""
    assert {row.flag for row in CONFIG_FLAGS} <= {flag for flag, _, _, _ in FLAGS}
    assert len({row.field for row in CONFIG_FLAGS}) == len(CONFIG_FLAGS)


@pytest.mark.parametrize("row", CONFIG_FLAGS, ids=lambda row: row.flag)
def test_table_defaults_are_the_config_defaults_as_typed(row: ConfigFlag) -> None:
    default = getattr(ServerConfig(max_users=1), row.field)
    if default is None:  # worked out at start (--max-connections); --help says how
        assert flag_default(row) is None and "(default: the " in row.help
        return
    assert flag_default(row) == default and type(flag_default(row)) in (int, float)
    assert row.help.endswith("(default: %(default)s)"), "--help must show the default"


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


@pytest.mark.parametrize(
    ("argv", "dest"),
    [
        (["--kdf-iterations"], "kdf_iterations"),
        (["hash-password", "--iterations"], "iterations"),
        (["accounts", "accounts.toml", "add", "bob", "--iterations"], "iterations"),
        (["accounts", "accounts.toml", "passwd", "bob", "--iterations"], "iterations"),
    ],
)
def test_every_password_tool_takes_the_same_iteration_counts(
    argv: list[str], dest: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One declaration (pollchat.cliargs.kdf_iterations_argument) behind every flag that
    sets the PBKDF2 iterations of new hashes: same range, same default."""
    parser = build_parser()
    assert getattr(parser.parse_args([*argv, str(MAX_ITERATIONS)]), dest) == MAX_ITERATIONS
    assert getattr(parser.parse_args(argv[:-1]), dest) == DEFAULT_ITERATIONS
    for bad in ("0", str(MAX_ITERATIONS + 1), "many"):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([*argv, bad])
        assert exit_info.value.code == 2
        assert argv[-1] in capsys.readouterr().err


def test_the_server_and_the_tools_hash_with_the_same_default() -> None:
    # ServerConfig (bottom layer) cannot import pollchat.core, so the number is written twice.
    assert ServerConfig(max_users=1).kdf_iterations == DEFAULT_ITERATIONS


def test_proxy_protocol_from_is_repeatable_and_checked() -> None:
    args = build_parser().parse_args(["--proxy-protocol-from", "127.0.0.1", "--proxy-protocol-from", "10.1.2.3/8"])
    assert config_from_args(args, 2).proxy_protocol_from == ("127.0.0.1/32", "10.0.0.0/8")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--proxy-protocol-from", "haproxy.lan"])
