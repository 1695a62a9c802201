"""``pollchat-server --announce-limit N`` with real sockets: a netcat (text) user, an IRC
user and a browser (WebSocket, JSON) user in one chat of at most 2 announced users.
Past the limit, logins are not announced (no ``has entered``, no JSON ``entered``, no IRC
``JOIN``), everyone is told once (a text line, a JSON ``notice``, an IRC ``NOTICE``), the
newcomer after its welcome; an announced user's leave is still announced; once the count
is back within the limit the next unannounced login tells everyone again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from tests.loopback.test_cli import server_args, start_server
from tests.loopback.test_server_irc import TIMEOUT, event, events_until, irc_register, web_and_irc

OFF = "more than 2 users are online: entered and left notices are off while so many are (/who lists who is online)"


def test_past_the_limit_logins_are_quiet_on_every_front_end_and_announced_users_still_leave(tmp_path: Path) -> None:
    args = server_args(
        tmp_path / "data", "--max-users", "10", "--max-connections-per-address", "0", "--rate-limit", "0",
        "--irc-server-name", "irc.test", "--announce-limit", "2",
    )
    with start_server(args, tmp_path) as proc:
        page, irc_port = web_and_irc(proc)

        bob = proc.client()
        bob.send(b"register\nbob,pw\n")
        assert bob.readline() == b"Access Provided"
        assert bob.readline() == b"active users are: bob"

        alice = irc_register(irc_port, "alice", "secret")  # 2 online: announced
        alice.expect(r" 366 alice #lobby ")
        assert bob.readline() == b"alice has entered the chat"

        with connect(page.replace("http://", "ws://") + "ws", open_timeout=TIMEOUT) as ws:
            event(ws)
            ws.send("register")
            ws.send("carol,pw")  # 3 online: past the limit
            assert events_until(ws, "welcome")["users"] == ["bob", "alice", "carol"]
            notice = event(ws)  # right after the welcome
            assert (notice["type"], notice["code"], notice["text"]) == ("notice", "announcements_off", OFF)
            assert bob.readline() == OFF.encode()
            assert alice.expect("NOTICE") == f":*pollchat!pollchat@irc.test NOTICE alice :{OFF}"

            bob.send(b"first\n")  # nobody was shown carol arriving: the line comes next
            assert alice.line() == ":bob!bob@pollchat PRIVMSG #lobby first"
            seen: list[dict[str, Any]] = []
            while not seen or seen[-1]["type"] != "message":
                seen.append(event(ws))
            assert seen[-1]["text"] == "first"
            assert not [e for e in seen if e["type"] in ("entered", "notice")]

            # alice's entry was announced: so is her leave, with 3 online
            alice.send("QUIT :bye")
            alice.expect("^ERROR ")
            alice.close()
            assert bob.readline() == b"alice has left the chat (bye)"
            assert events_until(ws, "left")["name"] == "alice"

            # 2 online now (within the limit): the next quiet login tells everyone again
            dan = proc.client()
            dan.send(b"register\ndan,pw\n")
            assert dan.readline() == b"Access Provided"
            assert dan.readline() == b"active users are: bob carol dan"
            assert dan.readline() == OFF.encode()
            assert bob.readline() == OFF.encode()
            assert events_until(ws, "notice")["code"] == "announcements_off"

            # carol was never announced: with 3 online her leave is not either
            ws.close()
        dan.send(b"after\n")
        assert bob.readline() == b"dan: after"
        bob.send(b"/who\n")
        assert bob.readline() == b"online users (2):"
        assert proc.stop() == 0
