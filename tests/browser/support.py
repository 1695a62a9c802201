"""Helpers of the browser tests that need only the standard library.

* :class:`ServerProcess`: the real ``python -m pollchat.server`` with its web endpoint,
  started as an operator would (``--port 0 --web-port 0``, or fixed ports to restart on),
  its start-up lines parsed (``listening on HOST:PORT`` and ``web client: http://...``);
* :class:`TcpUser`: a netcat-like user in text mode on the TCP port, reading lines with
  a deadline.

Every wait is bounded; the server is stopped with SIGTERM (then killed) on the way out.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pollchat.config import ServerConfig

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
TIMEOUT = 15.0
"""Bound of every wait on a process or a socket, seconds."""
LISTENING_RE = re.compile(r"^listening on ([\d.]+):(\d+)\b")  # the TCP port's, not "irc: listening on"
WEB_CLIENT_RE = re.compile(r"web client: (https?://\S+?)/?$")


def web_endpoint_wired() -> bool:
    """Whether the server has a web endpoint yet (``ServerConfig.web_port``)."""
    return "web_port" in {field.name for field in dataclasses.fields(ServerConfig)}


def server_command(*args: str) -> list[str]:
    """The command line of the server under test."""
    return [sys.executable, "-m", "pollchat.server", *args]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server that must restart on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.pop("PYTHONIOENCODING", None)
    env["PYTHONUTF8"] = "1"
    return env


class ServerProcess:
    """A ``pollchat-server`` with its web client, on 127.0.0.1.

    Args:
        data_dir: the data directory (kept across :meth:`restart`).
        port, web_port: 0 picks free ports; give fixed ones to restart on the same.

    Attributes:
        port: the TCP port (after :meth:`start`).
        url: the page's address, ``http://127.0.0.1:PORT/``.
        output: every line the process printed (stdout and stderr), for failure messages.
    """

    def __init__(self, data_dir: Path, port: int = 0, web_port: int = 0) -> None:
        self.data_dir = data_dir
        self.want_port = port
        self.want_web_port = web_port
        self.port = 0
        self.url = ""
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()

    def args(self) -> list[str]:
        return [
            "--max-users", "10",
            "--host", "127.0.0.1",
            "--port", str(self.want_port),
            "--web-port", str(self.want_web_port),
            "--data-dir", str(self.data_dir),
            "--kdf-iterations", "1000",
            "--no-game",
            "--max-connections-per-address", "0", "--register-rate", "0", "--min-password-length", "1",
            "--throttle-after", "0",
            "--rate-limit", "0",
            # free ports for the IRC gateway too: its default 6667 may be taken by
            # another server on the machine (tests running side by side)
            "--irc-port", "0", "--irc-tls-port", "0",
        ]

    def start(self) -> ServerProcess:
        """Start the server and wait for its two start-up lines."""
        self._lines = queue.Queue()
        # stdout and stderr each drained by a thread (a full pipe never stalls the server),
        # line by line: the start-up lines may come on either, and two streams merged into
        # one pipe could interleave within a line
        self.proc = subprocess.Popen(
            server_command(*self.args()),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO_ROOT,
            env=_env(),
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()
        ended = 0
        deadline = time.monotonic() + TIMEOUT
        self.port, self.url = 0, ""
        while not (self.port and self.url):
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise AssertionError(f"no start-up lines within {TIMEOUT}s: {self.output!r}") from None
            if line is None:
                ended += 1
                if ended == 2:
                    raise AssertionError(f"the server ended before listening: {self.output!r}")
                continue
            if match := LISTENING_RE.search(line):
                self.port = int(match.group(2))
            if match := WEB_CLIENT_RE.search(line):
                self.url = match.group(1) + "/"
        return self

    def _drain(self, stream: Any) -> None:
        for line in stream:
            line = line.rstrip("\n")
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end within the timeout."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=TIMEOUT)

    def restart(self) -> ServerProcess:
        """Stop, then start again on the same data directory and ports."""
        self.want_port, self.want_web_port = self.port, int(self.url.rsplit(":", 1)[1].strip("/"))
        self.stop()
        return self.start()


class TcpUser:
    """A user on the TCP port in text mode, as with ``nc``."""

    def __init__(self, port: int, name: str, password: str, register: bool = True) -> None:
        self.name = name
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.seen: list[str] = []
        self.send("register" if register else "login", f"{name},{password}")
        self.expect("Access Provided")

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\n" for line in lines).encode("utf-8"))

    def expect(self, text: str, timeout: float = TIMEOUT) -> str:
        """Read lines until one contains ``text``; return it (fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                line = raw.decode("utf-8")
                self.seen.append(line)
                if text in line:
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name} never received {text!r}; got {self.seen[-20:]!r}")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, socket.timeout):
                continue
            if not data:
                raise AssertionError(f"{self.name}: connection closed while waiting for {text!r}; got {self.seen[-20:]!r}")
            self.buf += data

    def close(self) -> None:
        self.sock.close()
