"""The TUI client's small settings file: servers used, last user names, pins, alerts.

Where: ``$XDG_CONFIG_HOME/pollchat/client.toml``, else ``~/.config/pollchat/client.toml``
(XDG Base Directory). The client rewrites it after a successful login and when a chat is
pinned; a person may edit it too (it is TOML, read with :mod:`tomllib`). It never holds
a password: :class:`ClientConfig` has no field for one, and the writer only writes the
fields below.

Example::

    # pollchat-client settings (rewritten by the client; no password is ever stored)
    bell = true
    highlight = true
    links = "auto"

    [[server]]
    host = "chat.example.org"
    port = 3490
    user = "alice"
    pinned = ["bob"]

Reading is forgiving: an unknown key is ignored, a value of the wrong type falls back to
its default, and a file that is not TOML gives the defaults plus a warning (the client
still starts). Writing is atomic: a temporary file in the same directory, ``fsync``, then
``os.replace``, so a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pollchat.client.links import LINK_MODES

MAX_SERVERS = 10
"""Servers remembered; the least recently used is forgotten first."""
MAX_PINNED = 50
"""Pinned chats remembered per server."""
FILE_NAME = "client.toml"


@dataclass(frozen=True, slots=True)
class ServerEntry:
    """One remembered server.

    Attributes:
        host: the name or address as typed on the command line.
        port: the TCP port.
        user: the last user name that logged in there ("" if none yet).
        pinned: names of the private chats pinned to the top of the chats pane.
    """

    host: str
    port: int
    user: str = ""
    pinned: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything the client remembers between runs.

    Attributes:
        bell: ring the terminal bell on a mention or a private message.
        highlight: highlight mentions (and flash the notification bar) on screen.
        links: ``auto``, ``on`` or ``off``: write web links as OSC 8 hyperlinks
            (``auto``: on terminals known to draw them; see
            :func:`pollchat.client.links.links_wanted`). In the file, ``true`` and
            ``false`` mean ``on`` and ``off``.
        servers: most recently used first, at most :data:`MAX_SERVERS`.
    """

    bell: bool = True
    highlight: bool = True
    links: str = "auto"
    servers: tuple[ServerEntry, ...] = field(default_factory=tuple)

    def server(self, host: str, port: int) -> ServerEntry | None:
        """The entry for ``host:port``, or ``None``."""
        for entry in self.servers:
            if entry.host == host and entry.port == port:
                return entry
        return None

    def remember(self, host: str, port: int, user: str | None = None, pinned: tuple[str, ...] | None = None) -> ClientConfig:
        """A copy with ``host:port`` moved to the front, its user and pins updated when
        given (``None`` keeps the old value), and at most :data:`MAX_SERVERS` entries."""
        old = self.server(host, port) or ServerEntry(host, port)
        entry = replace(
            old,
            user=old.user if user is None else user,
            pinned=old.pinned if pinned is None else tuple(pinned)[:MAX_PINNED],
        )
        rest = tuple(e for e in self.servers if not (e.host == host and e.port == port))
        return replace(self, servers=(entry, *rest)[:MAX_SERVERS])


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/pollchat/client.toml``, else ``~/.config/pollchat/client.toml``.

    A relative ``XDG_CONFIG_HOME`` is ignored, as the XDG specification says."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME", "")
    if not base or not os.path.isabs(base):
        home = env.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, ".config")
    return Path(base) / "pollchat" / FILE_NAME


def load_config(path: Path) -> tuple[ClientConfig, str | None]:
    """Read the settings at ``path``.

    Returns:
        ``(config, warning)``: the defaults and ``None`` when the file does not exist;
        the defaults and a one-line warning when it cannot be read or is not TOML.
        Never raises for a bad file.
    """
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return ClientConfig(), None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return ClientConfig(), f"settings file {path} ignored: {reason}"
    return _from_dict(data), None


def _from_dict(data: dict[str, object]) -> ClientConfig:
    defaults = ClientConfig()
    bell = data.get("bell", defaults.bell)
    highlight = data.get("highlight", defaults.highlight)
    links = data.get("links", defaults.links)
    if isinstance(links, bool):
        links = "on" if links else "off"
    servers: list[ServerEntry] = []
    raw_servers = data.get("server", [])
    for raw in raw_servers if isinstance(raw_servers, list) else []:
        if not isinstance(raw, dict):
            continue
        host, port = raw.get("host"), raw.get("port")
        if not isinstance(host, str) or not host or isinstance(port, bool) or not isinstance(port, int):
            continue
        if not 1 <= port <= 65535:
            continue
        user = raw.get("user", "")
        pinned = raw.get("pinned", [])
        servers.append(
            ServerEntry(
                host,
                port,
                user if isinstance(user, str) else "",
                tuple(p for p in pinned if isinstance(p, str))[:MAX_PINNED] if isinstance(pinned, list) else (),
            )
        )
    return ClientConfig(
        bell=bell if isinstance(bell, bool) else defaults.bell,
        highlight=highlight if isinstance(highlight, bool) else defaults.highlight,
        links=links if links in LINK_MODES else defaults.links,
        servers=tuple(servers[:MAX_SERVERS]),
    )


def _toml_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x20 or ch == "\x7f" or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{ord(ch) & 0xFFFF:04X}" if ord(ch) <= 0xFFFF else "?")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def dump_config(config: ClientConfig) -> str:
    """``config`` as TOML text (what :func:`save_config` writes). Holds no password."""
    lines = [
        "# pollchat-client settings (rewritten by the client; no password is ever stored)",
        f"bell = {'true' if config.bell else 'false'}",
        f"highlight = {'true' if config.highlight else 'false'}",
        f"links = {_toml_string(config.links)}",
    ]
    for entry in config.servers:
        lines += [
            "",
            "[[server]]",
            f"host = {_toml_string(entry.host)}",
            f"port = {int(entry.port)}",
            f"user = {_toml_string(entry.user)}",
            "pinned = [" + ", ".join(_toml_string(name) for name in entry.pinned) + "]",
        ]
    return "\n".join(lines) + "\n"


def save_config(path: Path, config: ClientConfig) -> None:
    """Write ``config`` to ``path`` atomically (mode 0600, directories created 0700).

    Raises:
        OSError: the directory cannot be created or the file cannot be written.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = dump_config(config).encode("utf-8")
    fd, tmp_name = tempfile.mkstemp(prefix=".client-", suffix=".toml.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
