"""The client's settings file (pollchat.client.config): where it is, round trips, atomic
writes, tolerance of bad files, and that a password is never stored, even after a full
login through the App."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pollchat.client.app import App
from pollchat.client.config import (
    MAX_SERVERS,
    ClientConfig,
    ServerEntry,
    config_path,
    dump_config,
    load_config,
    save_config,
)
from pollchat.client.requests import PROBE_LINE
from pollchat.client.ui import Key
from pollchat.protocol.events import ModeSwitched, Welcome
from tests.tui.tui_scenes import feed, type_text


def test_path_follows_xdg() -> None:
    assert config_path({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/a"}) == Path("/x/cfg/pollchat/client.toml")
    assert config_path({"HOME": "/home/a"}) == Path("/home/a/.config/pollchat/client.toml")
    assert config_path({"XDG_CONFIG_HOME": "relative", "HOME": "/home/a"}) == Path("/home/a/.config/pollchat/client.toml")


def test_round_trip(tmp_path: Path) -> None:
    config = ClientConfig(
        bell=False,
        servers=(ServerEntry("chat.example.org", 3490, "José", ("bob", "李小龙")), ServerEntry('we"ird\\host', 1)),
    )
    path = tmp_path / "pollchat" / "client.toml"
    save_config(path, config)
    assert load_config(path) == (config, None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["client.toml"]  # no temporary file left


@given(
    st.lists(
        st.tuples(
            st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20),
            st.integers(1, 65535),
            st.text(max_size=10),
        ),
        max_size=4,
    )
)
def test_dump_is_toml_that_reads_back(entries: list[tuple[str, int, str]]) -> None:
    config = ClientConfig(servers=tuple(ServerEntry(h, p, u) for h, p, u in entries))
    data = tomllib.loads(dump_config(config))
    assert [(s["host"], s["port"], s["user"]) for s in data.get("server", [])] == entries


def test_missing_and_broken_files_give_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "none.toml") == (ClientConfig(), None)
    bad = tmp_path / "bad.toml"
    bad.write_text("bell = [unclosed\n")
    config, warning = load_config(bad)
    assert config == ClientConfig() and warning and "ignored" in warning
    odd = tmp_path / "odd.toml"
    odd.write_text('bell = "yes"\nfuture = 1\n[[server]]\nhost = "h"\nport = "x"\n[[server]]\nhost = "ok"\nport = 7\n')
    config, warning = load_config(odd)
    assert warning is None and config.bell is True and config.servers == (ServerEntry("ok", 7),)


def test_remember_moves_to_front_and_is_bounded() -> None:
    config = ClientConfig()
    for port in range(1, MAX_SERVERS + 3):
        config = config.remember("h", port, user=f"u{port}")
    assert len(config.servers) == MAX_SERVERS
    config = config.remember("h", 5, pinned=("bob",))
    assert config.servers[0] == ServerEntry("h", 5, "u5", ("bob",))


def test_a_login_never_stores_the_password(tmp_path: Path) -> None:
    password = "pa55,word ✓"
    app = App("127.0.0.1", 3490, ClientConfig(), "alice")
    type_text(app, password, 0.0)
    app.key(Key.ENTER, 0.0)
    app.connecting()
    app.connected(1.0)
    assert app.drain().lines == ["mode json", PROBE_LINE, "login", f"alice,{password}"]
    feed(app, ModeSwitched("json"), 2.0)
    feed(app, Welcome("alice", ("alice",)), 2.0)
    out = app.drain()
    assert out.save_config
    path = tmp_path / "client.toml"
    save_config(path, app.config)
    stored = path.read_bytes()
    assert password.encode() not in stored and b"pa55" not in stored
    assert load_config(path)[0].server("127.0.0.1", 3490) == ServerEntry("127.0.0.1", 3490, "alice")
    assert "password" not in ClientConfig.__dataclass_fields__ and "password" not in ServerEntry.__dataclass_fields__
    assert os.listdir(tmp_path) == ["client.toml"]
