"""The browser front end over loopback (issue 12): a real server process, a real
WebSocket client library (``websockets``) and plain TCP clients in one chat, under one
seat budget; the page and its headers; the Origin check; limits shared with TCP."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.loopback.test_cli import ServerProcess, server_args, start_server

TIMEOUT = 5.0
WEB_RE = re.compile(r"web client: (http://127\.0\.0\.1:(\d+)/)")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    """A server with two seats for registered accounts and the web listener on a free port."""
    args = server_args(tmp_path / "data", "--max-users", "2", "--max-connections-per-address", "0", "--rate-limit", "0")
    with start_server(args, tmp_path) as proc:
        proc.wait_listening()
        line = proc.out.readline()
        match = WEB_RE.fullmatch(line or "")
        assert match, f"no 'web client: URL' line after 'listening on': {line!r}"
        yield proc, match.group(1)
        assert proc.stop() == 0


def ws_url(page: str) -> str:
    return page.replace("http://", "ws://") + "ws"


def open_ws(page: str, **kwargs: Any) -> ClientConnection:
    return connect(ws_url(page), open_timeout=TIMEOUT, close_timeout=TIMEOUT, **kwargs)


def event(ws: ClientConnection) -> dict[str, Any]:
    message = ws.recv(timeout=TIMEOUT)
    assert isinstance(message, str) and "\n" not in message
    return json.loads(message)


def events_until(ws: ClientConnection, kind: str) -> list[dict[str, Any]]:
    got = [event(ws)]
    while got[-1]["type"] != kind:
        got.append(event(ws))
    return got


def test_a_browser_user_and_a_tcp_user_share_the_chat(server: tuple[ServerProcess, str]) -> None:
    proc, page = server
    with open_ws(page) as ws:
        assert event(ws)["type"] == "greeting"  # the endpoint starts in JSON mode
        ws.send("register")
        ws.send("alice,secret")
        welcome = event(ws)
        assert (welcome["type"], welcome["users"]) == ("welcome", ["alice"])
        tcp = proc.client()
        tcp.send(b"register\nbob,pw\n")
        assert tcp.readline() == b"Access Provided"
        assert tcp.readline() == b"active users are: alice bob"
        entered = events_until(ws, "entered")[-1]
        assert entered["name"] == "bob"
        tcp.send(b"hello from netcat\n")
        message = events_until(ws, "message")[-1]
        assert (message["sender"], message["text"]) == ("bob", "hello from netcat")
        ws.send("hello from the browser")
        assert tcp.readline() == b"alice: hello from the browser"
        ws.send("/msg bob a secret")
        assert tcp.readline() == b"[private] alice: a secret"
        assert events_until(ws, "private")[-1]["outgoing"] is True
        # one seat budget: two seats, both taken, a third user is refused on either side
        with open_ws(page) as third:
            event(third)
            third.send("register")
            third.send("carol,pw")
            refusal = event(third)
            assert (refusal["type"], refusal["text"]) == ("error", "Max number of chat users")
    assert tcp.readline() == b"alice has left the chat"


def test_the_page_and_its_headers(server: tuple[ServerProcess, str]) -> None:
    _, page = server
    with urllib.request.urlopen(page, timeout=TIMEOUT) as response:
        body = response.read()
        headers = response.headers
    assert b"<html" in body.lower()
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    etag = headers["ETag"]
    request = urllib.request.Request(page, headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(request, timeout=TIMEOUT)
    assert not_modified.value.code == 304
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(page + "nope.txt", timeout=TIMEOUT)
    assert missing.value.code == 404


def test_another_sites_page_may_not_open_the_websocket(server: tuple[ServerProcess, str]) -> None:
    _, page = server
    with pytest.raises(InvalidStatus) as refused:
        open_ws(page, origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    own = page.rstrip("/")
    with open_ws(page, origin=own) as ws:  # type: ignore[arg-type]
        assert event(ws)["type"] == "greeting"


def test_a_multi_line_message_is_refused_in_one_line_and_the_socket_goes_on(server: tuple[ServerProcess, str]) -> None:
    _, page = server
    with open_ws(page) as ws:
        event(ws)
        ws.send("register")
        ws.send("dora,pw")
        assert event(ws)["type"] == "welcome"
        ws.send("one\ntwo")
        error = events_until(ws, "error")[-1]
        assert "one line" in error["text"]
        ws.send("/who")
        assert events_until(ws, "who")[-1]["users"][0]["name"] == "dora"


def test_plain_http_to_the_line_port_is_not_the_web_port(server: tuple[ServerProcess, str]) -> None:
    proc, _ = server
    with socket.create_connection(("127.0.0.1", proc.port), timeout=TIMEOUT) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"type login or register")


def test_with_a_certificate_the_web_port_speaks_https_and_wss(tmp_path: Path) -> None:
    """Issue 15: the web port serves HTTPS and WSS with the TLS listener's certificate."""
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    args = server_args(
        tmp_path / "data", "--max-users", "2", "--tls-port", "0",
        "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"),
    )  # fmt: skip
    with start_server(args, tmp_path) as proc:
        proc.wait_listening()
        assert (proc.out.readline() or "").startswith("tls: listening on 127.0.0.1:")
        line = proc.out.readline() or ""
        assert line.startswith("web client: https://127.0.0.1:"), line
        page = line.removeprefix("web client: ")
        context = ssl.create_default_context()
        ca.configure_trust(context)
        with urllib.request.urlopen(page, timeout=TIMEOUT, context=context) as response:
            assert b"<html" in response.read().lower()
        with connect(page.replace("https://", "wss://") + "ws", ssl=context, open_timeout=TIMEOUT) as ws:
            assert event(ws)["type"] == "greeting"
        assert proc.stop() == 0


def test_a_wildcard_web_listener_also_prints_addresses_other_machines_can_use(tmp_path: Path) -> None:
    # 127.0.0.1 is this machine only: a friend needs the host name or a network address.
    args = server_args(tmp_path / "data", "--max-users", "2", "--web-host", "0.0.0.0")
    with start_server(args, tmp_path) as proc:
        proc.wait_listening()
        match = WEB_RE.fullmatch(proc.out.readline() or "")
        assert match, "the first web line stays the address for this machine"
        port = match.group(2)
        line = proc.out.readline() or ""
        assert line.startswith("web client from other machines: "), line
        urls = line.removeprefix("web client from other machines: ").split()
        assert urls[0] == f"http://{socket.gethostname()}:{port}/"
        assert all(url.endswith(f":{port}/") and "127.0.0.1" not in url for url in urls)
        assert proc.stop() == 0


def test_a_loopback_web_listener_prints_no_address_for_other_machines(tmp_path: Path) -> None:
    args = server_args(tmp_path / "data", "--max-users", "2")
    with start_server(args, tmp_path) as proc:
        proc.wait_listening()
        assert WEB_RE.fullmatch(proc.out.readline() or "")
        assert proc.stop() == 0
        rest = iter(proc.out.readline, None)
        assert [line for line in rest if "other machines" in line] == []


def test_every_json_client_learns_of_a_rename_also_one_that_was_away(tmp_path: Path) -> None:
    # A client keeps the people it knows (its offline contacts) across reconnects: one that
    # was away when bob became robert would keep a contact "bob" who no longer exists.
    args = server_args(tmp_path / "data", "--max-users", "5", "--max-connections-per-address", "0", "--rate-limit", "0")
    with start_server(args, tmp_path) as proc:
        proc.wait_listening()
        match = WEB_RE.fullmatch(proc.out.readline() or "")
        assert match
        page = match.group(1)
        with open_ws(page) as away:  # carol, in a browser, is there first, then leaves
            event(away)
            away.send("register")
            away.send("carol,pw")
            assert event(away)["type"] == "welcome"
        bob = proc.client()
        bob.send(b"register\nbob,pw\n")
        assert bob.readline() == b"Access Provided"
        bob.readline()  # active users
        dave = proc.client()  # the bundled client's JSON mode over TCP
        dave.send(b"mode json\nregister\ndave,pw\n")
        with open_ws(page) as erin:
            event(erin)
            erin.send("register")
            erin.send("erin,pw")
            events_until(erin, "welcome")
            bob.send(b"/nick robert\n")
            assert bob.readline() == b"dave has entered the chat"
            assert bob.readline() == b"erin has entered the chat"
            assert bob.readline() == b"bob is now known as robert"
            renamed = events_until(erin, "renamed")[-1]
            assert (renamed["old"], renamed["new"], "history" in renamed) == ("bob", "robert", False)
            for line in iter(dave.readline, b""):
                if json.loads(line)["type"] == "renamed":
                    assert json.loads(line)["new"] == "robert"
                    break
            with open_ws(page) as back:  # carol's page reconnects
                event(back)
                back.send("login")
                back.send("carol,pw")
                assert event(back)["type"] == "welcome"
                missed = events_until(back, "renamed")[-1]
                assert (missed["old"], missed["new"], missed["history"]) == ("bob", "robert", True)
        assert proc.stop() == 0
