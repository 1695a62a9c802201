"""Two (or three) ``pollchat-server --cluster`` processes over one Redis and one
PostgreSQL (tests/redis.py, tests/postgres.py): the "done means" scenario of
docs/scaling.md and the fault rows of its failure table, with real processes.

Nodes run with a short heartbeat (0.2 s) and expiry (1 s) so the suite stays short.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import REPO_ROOT
from tests.loopback.test_cli import (
    TIMEOUT,
    Client,
    ServerProcess,
    _env,
    assert_one_line_error,
    run_cli,
    server_args,
    start_server,
)
from tests.loopback.test_server_irc import IRC_RE, irc_register
from tests.redis import RedisServer

pytest.importorskip("psycopg", reason="pip install 'pollchat[postgres]'")
pytest.importorskip("hiredis", reason="pip install 'pollchat[cluster]'")

HEARTBEAT = "0.2"
EXPIRY = 1.0
SYNCED = "in sync with the engine"


def wait_for_log(server: ServerProcess, text: str, count: int = 1, timeout: float = TIMEOUT) -> None:
    """Wait until ``text`` appears ``count`` times in the node's log (stderr)."""
    deadline = time.monotonic() + timeout
    while server.stderr().count(text) < count:
        if time.monotonic() > deadline or server.proc.poll() is not None:
            raise AssertionError(f"{text!r} not logged; log: {server.stderr()}")
        time.sleep(0.02)


@contextlib.contextmanager
def node(tmp_path: Path, name: str, pg_url: str, redis_url: str, *extra: str, irc: bool = False) -> Iterator[ServerProcess]:
    """A cluster node, listening and in sync with the engine (with ``irc``, its IRC
    gateway's port is ``server.irc_port``)."""
    args = server_args(
        tmp_path / name, "--max-users", "50", "--database", pg_url, "--cluster", redis_url, "--node-name", name,
        "--cluster-heartbeat", HEARTBEAT, "--cluster-expiry", str(EXPIRY), "--no-web", *([] if irc else ["--no-irc"]),
        *extra,
    )
    with start_server(args, tmp_path) as server:
        server.wait_listening()
        if irc:
            line = server.out.readline() or ""
            match = IRC_RE.fullmatch(line)
            assert match is not None, line
            server.irc_port = int(match.group(1))  # type: ignore[attr-defined]
        wait_for_log(server, SYNCED)
        yield server


def login(server: ServerProcess, name: str, verb: bytes = b"register") -> tuple[Client, list[bytes]]:
    client = server.client()
    client.send(verb + b"\n" + name.encode() + b",secret\n")
    lines = [client.readline()]
    if lines[0] == b"Access Provided":
        lines.append(client.readline())
    return client, lines


def test_two_nodes_one_chat_and_a_dead_node_s_users_leave(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url) as b:
        amy, lines = login(a, "amy")
        assert lines == [b"Access Provided", b"active users are: amy"]
        bob, lines = login(b, "bob")
        assert lines == [b"Access Provided", b"active users are: amy bob"]  # amy is on the other node
        assert amy.readline() == b"bob has entered the chat"  # once: the next line is bob's
        bob.send(b"hello from b\n")
        assert amy.readline() == b"bob: hello from b"
        amy.send(b"hello from a\n")
        assert bob.readline() == b"amy: hello from a"
        for client, other in ((amy, b"bob"), (bob, b"amy")):
            client.send(b"/who\n")
            who = [client.readline() for _ in range(3)]
            assert who[0] == b"online users (2):" and any(line.startswith(b"  " + other + b" - ") for line in who), who
        # private messages go to the node that holds the recipient; statuses follow
        amy.send(b"/msg bob are you on node b?\n")
        assert amy.readline() == b"[private to bob] are you on node b?"
        assert bob.readline() == b"[private] amy: are you on node b?"
        bob.send(b"/away lunch\n")
        assert amy.readline() == b"bob is now away: lunch"
        amy.send(b"/who\n")
        who = [amy.readline() for _ in range(3)]
        assert who[0] == b"online users (2):" and any(line.startswith(b"  bob - away: lunch, idle ") for line in who), who
        # a second login of one account on the other node
        again, lines = login(a, "bob", b"login")
        assert lines == [b"Password already used"]
        again.close()
        # kill -9 of node b: bob leaves on a within twice the expiry, and his seat is free
        started = time.monotonic()
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(timeout=TIMEOUT)
        assert amy.readline() == b"bob has left the chat"
        assert time.monotonic() - started < 2 * EXPIRY + 1.0  # the heartbeat's period on top
        back, lines = login(a, "bob", b"login")
        assert lines == [b"Access Provided", b"active users are: amy bob"]
        assert amy.readline() == b"bob has entered the chat"
        back.close()
        amy.close()


def test_a_user_whose_node_died_is_told_only_of_the_mail_that_came_after(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    """bob reads amy's private message on node b; node b is killed (``kill -9``), so
    nobody records bob's logout: the heartbeat that reaps him records his last seen
    as node b's last heartbeat. At his next login (node a) only the message sent after
    that counts as arrived while he was away."""
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url) as b:
        amy, _ = login(a, "amy")
        bob, _ = login(b, "bob")
        assert amy.readline() == b"bob has entered the chat"
        amy.send(b"/msg bob read this\n")
        assert bob.readline() == b"[private] amy: read this"
        time.sleep(3 * float(HEARTBEAT))  # node b beats again after bob read it
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(timeout=TIMEOUT)
        assert amy.read_until(b"bob has left the chat")[-1] == b"bob has left the chat"
        amy.send(b"/msg bob while you were away\n")
        assert amy.readline() == b"[private to bob] while you were away"
        back, lines = login(a, "bob", b"login")
        assert lines == [b"Access Provided", b"active users are: amy bob"]
        assert back.readline() == b"1 private message(s) arrived while you were away: type /history to read them"
        for client in (amy, back):
            client.close()


def test_cluster_without_postgresql_is_one_line(tmp_path: Path) -> None:
    result = run_cli(*server_args(tmp_path, "--max-users", "2", "--cluster", "redis://127.0.0.1:1/0"))
    assert "--cluster needs --database postgresql://" in assert_one_line_error(result)


def test_a_node_of_another_bus_format_refuses_to_start_until_every_node_is_stopped(
    tmp_path: Path, pg_url: str, redis_server: RedisServer, redis_url: str
) -> None:
    """Nodes of two versions cannot share a cluster: a node refuses to start (one line,
    exit 2) while live nodes of another bus format use the engine, whether they wrote
    the format key or predate it; once every one of them is stopped, it starts and
    the cluster's format is its own."""
    from pollchat.server.cluster.scripts import BUS_FORMAT

    args = server_args(tmp_path / "a", "--max-users", "5", "--database", pg_url, "--cluster", redis_url, "--no-web", "--no-irc")
    redis_server.command("ZADD", "pollchat:nodes", int(time.time()) + 3600, "old:3490#1")  # a live node, no format key
    for theirs in ("1", "99"):
        if theirs != "1":
            redis_server.command("SET", "pollchat:format", theirs)
        line = assert_one_line_error(run_cli(*args))
        assert f"runs nodes of bus format {theirs}, and this pollchat" in line and f"speaks format {BUS_FORMAT}" in line
        assert line.endswith("rolling upgrades are not supported): stop every node, upgrade them all, then start them")
    redis_server.command("ZADD", "pollchat:nodes", 0, "old:3490#1")  # stopped (as a stopping node marks itself)
    with node(tmp_path, "b", pg_url, redis_url) as b:
        amy, lines = login(b, "amy")
        assert lines[0] == b"Access Provided"
        assert redis_server.command("GET", "pollchat:format") == BUS_FORMAT.encode()
        amy.close()


def test_without_hiredis_the_error_names_the_extra(tmp_path: Path) -> None:
    code = "import sys; sys.modules['hiredis'] = None; from pollchat.server.cli import main; sys.exit(main())"
    args = server_args(tmp_path, "--max-users", "2", "--database", "postgresql://u@127.0.0.1/db", "--cluster", "redis://127.0.0.1/0")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, cwd=REPO_ROOT, env=_env(), timeout=60)
    assert "pip install 'pollchat[cluster]'" in assert_one_line_error(result)


def test_every_node_shows_main_chat_lines_in_one_order(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    with node(tmp_path, "a", pg_url, redis_url, "--rate-limit", "0") as a, \
            node(tmp_path, "b", pg_url, redis_url, "--rate-limit", "0") as b:
        amy, _ = login(a, "amy")
        bob, _ = login(b, "bob")
        assert amy.readline() == b"bob has entered the chat"
        cid, _ = login(a, "cid")
        dan, _ = login(b, "dan")
        for watcher, expected in ((amy, [b"cid has entered the chat", b"dan has entered the chat"]),
                                  (bob, [b"cid has entered the chat", b"dan has entered the chat"])):
            assert [watcher.readline() for _ in expected] == expected
        assert cid.readline() == b"dan has entered the chat"
        # cid (node a) and dan (node b) talk at once; amy and bob (one on each node) see
        # the same interleaving, whatever it is
        n = 30
        lines = {cid: [b"c%d\n" % i for i in range(n)], dan: [b"d%d\n" % i for i in range(n)]}
        threads = [threading.Thread(target=lambda c=c: [c.send(line) for line in lines[c]]) for c in (cid, dan)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seen_amy = [amy.readline() for _ in range(2 * n)]
        seen_bob = [bob.readline() for _ in range(2 * n)]
        assert seen_amy == seen_bob
        assert sorted(seen_amy) == sorted([b"cid: c%d" % i for i in range(n)] + [b"dan: d%d" % i for i in range(n)])
        # a burst's entries came together, so the nodes linger on the next burst's first
        # entry (pollchat.server.cluster.linger); a lone line after it still arrives, once
        for sender, text in ((dan, b"alone"), (cid, b"alone too")):
            sender.send(text + b"\n")
            name = b"dan" if sender is dan else b"cid"
            assert amy.readline() == bob.readline() == name + b": " + text


def test_120_logins_over_two_nodes_with_50_seats_admit_exactly_50(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    with node(tmp_path, "a", pg_url, redis_url, "--max-connections-per-address", "0") as a, \
            node(tmp_path, "b", pg_url, redis_url, "--max-connections-per-address", "0") as b:
        clients = [Client(server.port) for server in (a, b) for _ in range(60)]
        for client in clients:
            assert client.readline().startswith(b"type login")
        for i, client in enumerate(clients):  # all sent before any answer is read
            client.send(b"register\nu%d,secret\n" % i)
        answers = [client.readline() for client in clients]
        assert answers.count(b"Access Provided") == 50
        assert answers.count(b"Max number of chat users") == 70
        assert int(redis_command_port(redis_url, "GET", "pollchat:registered")) == 50
        for client in clients:
            client.close()


def redis_command_port(url: str, *args: str) -> object:
    from tests.redis import redis_command

    return redis_command(int(url.rsplit(":", 1)[1].split("/")[0]), *args)


def test_an_engine_restart_refuses_logins_keeps_local_chat_and_rebuilds_presence(
    tmp_path: Path, pg_url: str, redis_server: RedisServer, redis_url: str
) -> None:
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url) as b:
        amy, _ = login(a, "amy")
        cid, _ = login(a, "cid")
        bob, _ = login(b, "bob")
        assert [amy.readline(), amy.readline()] == [b"cid has entered the chat", b"bob has entered the chat"]
        assert cid.readline() == b"bob has entered the chat"
        redis_server.kill()  # no persistence: everything the engine knew is gone
        wait_for_log(a, "engine unavailable")
        late, lines = login(a, "dan")
        assert lines == [b"the cluster is unavailable, try again shortly"]
        cid.send(b"still here\n")  # users of one node keep chatting
        assert amy.readline() == b"cid: still here"
        redis_server.start()
        wait_for_log(a, SYNCED, count=2)
        wait_for_log(b, SYNCED, count=2)
        # seats were put back by each node's sync: a second login of bob is still refused
        again, lines = login(a, "bob", b"login")
        assert lines == [b"Password already used"]
        late.send(b"register\ndan,secret\n")
        assert late.readline() == b"Access Provided"
        assert late.readline() == b"active users are: amy cid bob dan"
        assert bob.readline() == b"cid: still here"  # held on node a while the engine was away
        bob.send(b"back\n")
        assert amy.readline() == b"dan has entered the chat"
        assert amy.readline() == b"bob: back"
        for client in (amy, cid, bob, late, again):
            client.close()


def test_a_node_frozen_past_its_expiry_is_reaped_then_announces_its_users_again(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url) as b:
        amy, _ = login(a, "amy")
        bob, _ = login(b, "bob")
        assert amy.readline() == b"bob has entered the chat"
        b.proc.send_signal(signal.SIGSTOP)
        try:
            assert amy.readline() == b"bob has left the chat"  # reaped: seats freed
        finally:
            b.proc.send_signal(signal.SIGCONT)
        wait_for_log(b, "was reaped")
        assert amy.readline() == b"bob has entered the chat"  # it synced and said so
        bob.send(b"I was asleep\n")
        assert amy.readline() == b"bob: I was asleep"
        again, lines = login(a, "bob", b"login")
        assert lines == [b"Password already used"]
        for client in (amy, bob, again):
            client.close()


def test_a_node_stopped_with_sigterm_shows_its_users_leaving_on_the_others(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url) as b:
        amy, _ = login(a, "amy")
        bob, _ = login(b, "bob")
        assert amy.readline() == b"bob has entered the chat"
        assert b.stop() == 0, b.stderr()
        assert bob.readline() == b"server is shutting down"
        assert amy.readline() == b"bob has left the chat"
        back, lines = login(a, "bob", b"login")  # the seat was given back
        assert lines[0] == b"Access Provided"
        for client in (amy, bob, back):
            client.close()


def test_lost_engine_connections_are_reopened_and_nobody_is_dropped(
    tmp_path: Path, pg_url: str, redis_server: RedisServer, redis_url: str
) -> None:
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url) as b:
        amy, _ = login(a, "amy")  # registered: the engine first knew her without her id
        bob, _ = login(b, "bob")
        assert amy.readline() == b"bob has entered the chat"
        redis_server.command("CLIENT", "KILL", "TYPE", "normal")  # every node's links at once
        wait_for_log(a, SYNCED, count=2)
        wait_for_log(b, SYNCED, count=2)
        amy.send(b"still connected?\n")
        assert bob.readline() == b"amy: still connected?"
        bob.send(b"yes\n")
        assert amy.readline() == b"bob: yes"
        for client in (amy, bob):
            client.close()


def test_a_group_made_on_one_node_is_joined_and_used_from_another(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url) as b:
        amy, _ = login(a, "amy")
        bob, _ = login(b, "bob")
        assert amy.readline() == b"bob has entered the chat"
        amy.send(b"/create #familia public\n")
        assert amy.readline() == b"[#familia] public group created: others join with /join #familia"
        # at once: if node a's record has not reached node b yet, node b's view misses
        # the name and asks the database
        bob.send(b"/join #familia\n")
        assert bob.readline() == b"[#familia] bob has joined the group"
        assert amy.readline() == b"[#familia] bob has joined the group"
        bob.send(b"#familia hola\n")
        assert amy.readline() == b"[#familia] bob: hola"
        amy.send(b"#familia que tal\n")
        assert bob.readline() == b"[#familia] amy: que tal"
        # a JSON-mode client on node b gets node a's line as the JSON event, as on one node
        bot = b.client()
        bot.send(b"mode json\nregister\nbot,secret\n")
        assert json.loads(bot.readline())["type"] == "mode"
        assert json.loads(bot.readline())["users"] == ["amy", "bob", "bot"]
        assert amy.readline() == b"bot has entered the chat"
        amy.send(b"hello \xc3\xa9 bot\n")
        message = json.loads(bot.readline())
        assert {k: v for k, v in message.items() if k != "ts"} == {"type": "message", "sender": "amy", "text": "hello \u00e9 bot"}
        # offline mail: bot leaves node b, amy writes from node a, bot finds it on node a
        bot.close()
        assert amy.readline() == b"bot has left the chat"
        amy.send(b"/msg bot see you later\n")
        assert amy.readline() == b"[private to bot] see you later"
        back, lines = login(a, "bot", b"login")
        assert lines == [b"Access Provided", b"active users are: amy bob bot"]
        assert back.readline() == b"1 private message(s) arrived while you were away: type /history to read them"
        for client in (amy, bob, back):
            client.close()


def test_a_node_started_before_its_engine_refuses_logins_until_it_is_there(
    tmp_path: Path, pg_url: str, redis_server: RedisServer, redis_url: str
) -> None:
    redis_server.kill()
    args = server_args(
        tmp_path / "a", "--max-users", "5", "--database", pg_url, "--cluster", redis_url, "--node-name", "a",
        "--cluster-heartbeat", HEARTBEAT, "--cluster-expiry", str(EXPIRY), "--no-web", "--no-irc",
    )
    with start_server(args, tmp_path) as a:
        a.wait_listening()  # it serves at once
        amy, lines = login(a, "amy")
        assert lines == [b"the cluster is unavailable, try again shortly"]
        wait_for_log(a, "unreachable", count=2)  # one line per link, then quiet retries
        redis_server.start()
        wait_for_log(a, SYNCED)
        amy.send(b"register\namy,secret\n")
        assert amy.readline() == b"Access Provided"
        assert a.stderr().count("unreachable") == 2 and "connected again" in a.stderr()
        amy.close()


def test_an_irc_user_on_one_node_and_a_netcat_user_on_another(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url, irc=True) as b:
        amy, _ = login(a, "amy")
        irc = irc_register(b.irc_port, "bob", "secret")  # type: ignore[attr-defined]
        names = irc.expect(r" 353 bob = #lobby :")
        assert names.endswith(":amy bob"), names  # amy is on the other node
        assert amy.readline() == b"bob has entered the chat"
        amy.send(b"hello irc\n")
        assert irc.expect("PRIVMSG") == ":amy!amy@pollchat PRIVMSG #lobby :hello irc"
        irc.send("WHO #lobby", "WHOIS amy")  # looks at a session of another node
        irc.expect(r" 315 bob ")
        irc.expect(r" 318 bob ")
        irc.send("PRIVMSG #lobby :hi amy", "PRIVMSG amy :psst")
        assert amy.readline() == b"bob: hi amy"
        assert amy.readline() == b"[private] bob: psst"
        irc.close()
        amy.close()


def test_every_node_s_view_follows_the_others_and_a_miss_asks_the_database(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    """Each node answers from its own views (the PostgreSQL store): what one node writes
    reaches the others' views over the bus; an account neither view has (written to the
    database behind their backs, as if its bus records were lost) is looked up at login;
    a registration the database refuses (the name is taken there) is told so."""
    import psycopg

    from pollchat.core.passwords import hash_password

    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url) as b:
        amy, _ = login(a, "amy")
        amy.send(b"said on node a\n")
        bob, lines = login(b, "bob")
        assert lines == [b"Access Provided", b"active users are: amy bob"]
        assert amy.readline() == b"bob has entered the chat"
        bob.send(b"/history 5\n")  # node b's view of the main chat has node a's line
        history = [bob.readline() for _ in range(3)]
        assert any(b"amy: said on node a" in line for line in history), history
        with psycopg.connect(pg_url, autocommit=True) as conn:  # behind both nodes' backs
            for name in ("cleo", "dora", "emma"):
                conn.execute(
                    "INSERT INTO account (key, name, kind, password_hash, created_at, skeleton)"
                    " VALUES (%s, %s, 'registered', %s, '2026-01-01 00:00:00', %s)",
                    (name, name, hash_password("secret", 1000), name),
                )
        cleo, lines = login(b, "cleo", b"login")  # node b's view misses it: asks the database
        assert lines == [b"Access Provided", b"active users are: amy bob cleo"]
        dora, lines = login(a, "dora")  # node a's view says the name is free; the database does not
        assert lines == [b"username is already used"]  # as for any taken name: back at the login step
        dora.send(b"login\ndora,secret\n")  # on the same connection: node a's view now has the row
        assert [dora.readline(), dora.readline()] == [b"Access Provided", b"active users are: amy bob cleo dora"]
        amy.send(b"/msg emma offline mail\n/msg nobody at all\n")  # a /msg the view misses asks too
        seen = [amy.readline() for _ in range(4)]
        # the entered notices come through the bus and amy's own answers do not, so the two
        # kinds may interleave; each kind in its own order (a login's entered record
        # leaves before its welcome: cleo's before dora's), dora's notice once
        assert [line for line in seen if line.endswith(b"has entered the chat")] == [
            b"cleo has entered the chat",
            b"dora has entered the chat",  # once: the refused registration was never announced
        ]
        assert [line for line in seen if not line.endswith(b"has entered the chat")] == [
            b"[private to emma] offline mail",
            b"emma is offline; they will see your message when they log in",
        ]
        assert amy.readline() != b"[private to nobody] at all"  # an unknown name stays unknown
        for client in (amy, bob, cleo, dora):
            client.close()


def json_user(server: ServerProcess, name: str, verb: bytes = b"register") -> Client:
    """A JSON-mode client logged in as ``name`` (its welcome read)."""
    client = server.client()
    client.send(b"mode json\n" + verb + b"\n" + name.encode() + b",secret\n")
    assert json.loads(client.readline())["type"] == "mode"
    assert json.loads(client.readline())["type"] == "welcome"
    return client


def event(client: Client, wanted: str) -> dict[str, object]:
    """The next JSON event of type ``wanted`` (others before it skipped, at most 20)."""
    for _ in range(20):
        line = client.readline()
        assert line, "closed"
        found = json.loads(line)
        if found["type"] == wanted:
            return found  # type: ignore[no-any-return]
    raise AssertionError(f"no {wanted!r} event")


def test_an_ignore_list_holds_on_every_node(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    """amy on node a ignores bob on node b: none of bob's lines or private messages
    reach her, and on node b, where she logs in next, she has that list."""
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url) as b:
        amy, _ = login(a, "amy")
        bob, _ = login(b, "bob")
        cy, _ = login(b, "cy")
        assert amy.read_until(b"cy has entered the chat")[0] == b"bob has entered the chat"
        assert bob.readline() == b"cy has entered the chat"
        amy.send(b"/ignore bob\n")
        assert amy.readline().startswith(b"you ignore bob now")
        bob.send(b"can you hear me\n/msg amy hello?\n")
        assert cy.readline() == b"bob: can you hear me"
        assert bob.readline() == b"[private to amy] hello?"  # as if delivered
        bob.send(b"/me waves at @amy\n")
        assert cy.readline() == b"* bob waves at @amy"
        cy.send(b"I can\n")
        assert amy.readline() == b"cy: I can"  # the first line amy gets: nothing of bob's came before
        amy.send(b"/quit\n")
        assert amy.read_all()[-1] == b""
        assert cy.readline() == b"amy has left the chat"
        amy, _ = login(b, "amy", b"login")  # now on node b: the list came with her
        assert cy.readline() == b"amy has entered the chat"
        amy.send(b"/ignore\n")
        assert amy.readline() == b"you ignore: bob"
        bob.send(b"still nothing?\n")
        assert cy.readline() == b"bob: still nothing?"
        cy.send(b"nothing\n")
        assert amy.readline() == b"cy: nothing"
        amy.send(b"/unignore bob\n")  # taken back on node b: node a's view follows
        assert amy.readline() == b"you no longer ignore bob"
        dan, _ = login(a, "dan")
        bob.send(b"back\n")
        assert amy.readline() == b"dan has entered the chat"
        assert amy.readline() == b"bob: back"
        for client in (amy, bob, cy, dan):
            client.close()


def test_an_irc_guest_s_ignore_list_holds_for_senders_on_other_nodes(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    """gus, an IRC guest on node b (``--irc-guests``: his list is never stored), ignores
    amy on node a: node a cannot know it and sends her private message and mention, and
    node b holds them back; cy's, from the same node, reach him."""
    from tests.loopback.test_server_irc import IrcClient

    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url, "--irc-guests", irc=True) as b:
        amy, _ = login(a, "amy")
        cy, _ = login(a, "cy")
        assert amy.readline() == b"cy has entered the chat"
        gus = IrcClient(b.irc_port)  # type: ignore[attr-defined]
        gus.send("NICK gus", "USER u 0 * :Gus")
        gus.expect(r" 001 gus ")
        assert amy.readline() == cy.readline() == b"gus has entered the chat"
        gus.send("PRIVMSG *pollchat :/ignore amy")
        assert "you ignore amy now" in gus.expect(r"NOTICE gus :")
        amy.send(b"/msg gus psst\n@gus look\n")
        assert amy.readline() == b"[private to gus] psst"  # as if delivered, as on one node
        assert cy.readline() == b"amy: @gus look"
        cy.send(b"/msg gus hello\n")
        assert cy.readline() == b"[private to gus] hello"
        line = gus.expect(r" PRIVMSG gus ")
        assert line == ":cy!cy@pollchat PRIVMSG gus hello", line  # nothing of amy's came before
        assert not any("psst" in seen or "look" in seen for seen in gus.seen), gus.seen
        gus.close()
        amy.close()
        cy.close()


def test_a_read_receipt_reaches_the_sender_on_another_node(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    """bob reads amy's private message on node b: amy, on node a, gets the receipt, and
    again at her next login on node a (the read mark is in node a's view too); bob's
    ``/receipts off`` on node b holds on node a."""
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url) as b:
        amy = json_user(a, "amy")
        bob = json_user(b, "bob")
        assert event(amy, "entered")["name"] == "bob"
        amy.send(b"/msg bob lunch?\n")
        sent = event(amy, "private")
        seen = event(bob, "private")
        assert seen["text"] == "lunch?"
        bob.send(f"/read @amy {seen['ts']}\n".encode())
        receipt = event(amy, "receipt")
        assert receipt["name"] == "bob" and receipt["until"] >= sent["ts"]  # type: ignore[operator]
        amy.send(b"/quit\n")
        amy.read_all()
        amy = a.client()
        amy.send(b"mode json\nlogin\namy,secret\n")
        receipt = event(amy, "receipt")  # at login, from node a's view of bob's mark
        assert receipt["name"] == "bob"
        bob.send(b"/receipts off\n")
        assert event(bob, "notice")["code"] == "receipts_off"
        amy.send(b"/msg bob more?\n")
        seen = event(bob, "private")
        bob.send(f"/read @amy {seen['ts']}\n/whois amy\n".encode())
        event(bob, "whois")
        amy.send(b"/whois bob\n")
        assert event(amy, "whois")["name"] == "bob"  # and no receipt came before it
        amy.close()
        bob.close()


def test_sessions_per_account_count_on_every_node(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    """``--sessions-per-account 2`` over two nodes: amy's second device may log in on
    the other node (nobody is told: she is online already), a third login anywhere is
    refused with the limit named, a private message reaches both devices, and when
    one device's node dies amy stays online (no left notice) until her last one goes."""
    two = ("--sessions-per-account", "2")
    with node(tmp_path, "a", pg_url, redis_url, *two) as a, node(tmp_path, "b", pg_url, redis_url, *two) as b:
        bob, _ = login(a, "bob")
        phone, lines = login(a, "amy")
        assert lines == [b"Access Provided", b"active users are: bob amy"]
        assert bob.readline() == b"amy has entered the chat"
        laptop, lines = login(b, "amy", b"login")
        assert lines == [b"Access Provided", b"active users are: bob amy"]
        for third_node in (a, b):
            third, lines = login(third_node, "amy", b"login")
            assert lines == [b"this account is logged in on 2 devices already, the most allowed: log out on one of them first"]
            third.close()
        bob.send(b"/msg amy both?\n")
        assert bob.readline() == b"[private to amy] both?"  # not "amy has entered the chat": told once
        assert phone.readline() == b"[private] bob: both?"
        assert laptop.readline() == b"[private] bob: both?"
        b.proc.send_signal(signal.SIGKILL)  # the laptop's node dies: amy is still online
        b.proc.wait(timeout=TIMEOUT)
        time.sleep(2 * EXPIRY + 0.5)  # reaped meanwhile: no left notice came before the /who
        bob.send(b"/who\n")
        assert bob.readline() == b"online users (2):"
        again, lines = login(a, "amy", b"login")  # the laptop's place is free again
        assert lines[0] == b"Access Provided"
        phone.send(b"/quit\n")
        again.send(b"/quit\n")
        assert bob.read_until(b"amy has left the chat")[-1] == b"amy has left the chat"
        bob.send(b"/who\n")
        assert bob.readline() == b"online users (1):"
        for client in (bob, phone, laptop, again):
            client.close()


def test_an_admin_s_shutdown_stops_every_node(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    """root's ``/shutdown 2 upgrade`` on node a: the users of both nodes are warned as
    on one server, each node refuses logins meanwhile, then both tell their users and
    exit (nobody is told of the others leaving)."""
    from pollchat.core.passwords import hash_password

    accounts = tmp_path / "accounts.toml"
    accounts.write_text(f'[[account]]\nname = "root"\nrole = "admin"\npassword_hash = "{hash_password("toor", 1000)}"\n')
    extra = ("--accounts", str(accounts))
    with node(tmp_path, "a", pg_url, redis_url, *extra) as a, node(tmp_path, "b", pg_url, redis_url, *extra) as b:
        root = a.client()
        root.send(b"login\nroot,toor\n")
        assert root.readline() == b"Access Provided"
        root.readline()
        bob, _ = login(b, "bob")
        assert root.readline() == b"bob has entered the chat"
        root.send(b"/shutdown 2 upgrade\n")
        warning = b"*** the server shuts down in 2 second(s): upgrade"
        assert root.read_until(warning)[-1] == warning
        assert bob.readline() == warning  # once: node b's own countdown, not node a's too
        late, lines = login(b, "cy")
        assert lines == [b"the server is shutting down; try again later"]
        late.close()
        for client in (root, bob):
            rest = client.read_all()
            assert b"server is shutting down" in rest, rest
            assert not any(line.endswith(b"has left the chat") for line in rest), rest
        assert a.proc.wait(timeout=TIMEOUT) == 0
        assert b.proc.wait(timeout=TIMEOUT) == 0


def test_irc_who_and_names_list_the_users_of_every_node(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    with node(tmp_path, "a", pg_url, redis_url) as a, node(tmp_path, "b", pg_url, redis_url, irc=True) as b:
        amy, _ = login(a, "amy")
        cy, _ = login(b, "cy")
        irc = irc_register(b.irc_port, "bob", "secret")  # type: ignore[attr-defined]
        irc.expect(r" 366 bob ")
        irc.send("WHO #lobby")
        replies = []
        while not (line := irc.line()).split(" ")[1:2] == ["315"]:
            if line.split(" ")[1:2] == ["352"]:
                replies.append(line.split(" ")[7])
        assert sorted(replies) == ["amy", "bob", "cy"], replies
        irc.send("NAMES #lobby")
        names = irc.expect(r" 353 bob = #lobby :")
        assert sorted(names.split(":")[-1].split()) == ["amy", "bob", "cy"], names
        irc.send("WHO amy")
        who = irc.expect(r" 35[2] bob ")
        assert who.split(" ")[7] == "amy", who
        amy.send(b"/create #familia public\n")  # a group whose owner is on the other node
        assert amy.read_until(b"[#familia] public group created: others join with /join #familia")[:2] == [
            b"cy has entered the chat", b"bob has entered the chat"
        ]
        irc.send("JOIN #familia")  # node b's view has the group, or misses it and asks the database
        names = irc.expect(r" 353 bob = #familia :")
        assert sorted(names.split(":")[-1].split()) == ["@amy", "bob"], names
        irc.send("WHO #familia")
        replies = []
        while not (line := irc.line()).split(" ")[1:2] == ["315"]:
            if line.split(" ")[1:2] == ["352"]:
                replies.append((line.split(" ")[7], line.split(" ")[8]))
        assert sorted(replies) == [("amy", "H@"), ("bob", "H")], replies
        irc.close()
        amy.close()
        cy.close()


def waiting_locks(pg_url: str, count: int) -> None:
    """Wait until ``count`` PostgreSQL sessions wait for a lock (a node's transaction
    held at a known statement, so a race is not left to chance)."""
    import psycopg

    deadline = time.monotonic() + TIMEOUT
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0] < count:  # type: ignore[index]
            assert time.monotonic() < deadline, f"{count} waiting transactions never came"
            time.sleep(0.02)


@contextlib.contextmanager
def held_group_inserts(pg_url: str) -> Iterator[None]:
    """While inside, a group's creation stops after its ``chat_group`` row (the
    name's unique index entry taken, uncommitted) at its ``group_member`` row: a second
    node's lookup of that name finds nothing, its insert waits for the first one's
    outcome, and the first one wins."""
    import psycopg

    with psycopg.connect(pg_url) as conn:  # one transaction, committed when the block ends
        conn.execute("LOCK TABLE group_member IN SHARE ROW EXCLUSIVE MODE")
        yield


def test_a_group_name_another_node_took_a_moment_ago_is_answered_as_taken(
    tmp_path: Path, pg_url: str, redis_url: str, redis_server: RedisServer
) -> None:
    """Two nodes make one group name at once: node a's creation holds the name
    (uncommitted) when node b looks it up, finds nothing and makes its own (the
    transactions held at known points, the bus held back by ``CLIENT PAUSE ...
    WRITE``, so the race is not left to chance): the database keeps node a's; node
    b's text client is told ``#tea exists already`` (and that the line it said in its
    own ``#Tea`` meanwhile was not kept) and its IRC client's ``JOIN`` joins the group
    that exists; both stay connected and chat on."""
    slow = ("--cluster-expiry", "10")  # the pause must not look like a dead node
    with node(tmp_path, "a", pg_url, redis_url, *slow) as a, node(tmp_path, "b", pg_url, redis_url, *slow, irc=True) as b:
        amy, _ = login(a, "amy")
        bob, _ = login(b, "bob")
        assert amy.readline() == b"bob has entered the chat"
        irc = irc_register(b.irc_port, "ivy", "secret")  # type: ignore[attr-defined]
        assert amy.readline() == b"ivy has entered the chat"
        assert bob.readline() == b"ivy has entered the chat"
        bob_s = b"/create #Tea private\n#Tea said in my own #Tea\n"  # a line before the refusal: not kept
        for name, on_b in (("tea", lambda: bob.send(bob_s)), ("cafe", lambda: irc.send("JOIN #cafe"))):
            redis_server.command("CLIENT", "PAUSE", 3000, "WRITE")  # no node hears of the other's groups
            with held_group_inserts(pg_url):
                amy.send(b"/create #%s\n" % name.encode())
                waiting_locks(pg_url, 1)  # node a's insert holds the name
                on_b()
                waiting_locks(pg_url, 2)  # node b looked it up, found nothing, and waits to insert
            assert amy.readline() == b"[#%s] public group created: others join with /join #%s" % (name.encode(), name.encode())
        assert sorted([bob.readline(), bob.readline()]) == [  # in either order
            b"#tea exists already",  # the winner's name, never "created"
            b"1 line(s) you sent to #tea just now went to a group of that name another server had already made:"
            b" they were not kept; #tea is that group now, send them again there",
        ]
        assert irc.expect(r" JOIN #cafe") == ":ivy!ivy@pollchat JOIN #cafe"
        assert irc.expect(r" 353 ivy ").endswith(" #cafe :@amy ivy")  # amy's group: she owns it
        assert amy.readline() == b"[#cafe] ivy has joined the group"  # once the bus is back
        bob.send(b"/join #tea\n")
        assert bob.readline() == b"[#tea] bob has joined the group"
        assert amy.readline() == b"[#tea] bob has joined the group"
        bob.send(b"#tea still here\n")
        assert amy.readline() == b"[#tea] bob: still here"
        assert b.proc.poll() is None and b.stderr().count("another node made it first") == 2
        irc.close()
        bob.close()
        amy.close()


def test_a_group_another_node_made_a_moment_ago_is_found_in_the_database(
    tmp_path: Path, pg_url: str, redis_url: str, redis_server: RedisServer
) -> None:
    """amy makes groups on node a; before node b hears of them (the bus held back by
    ``CLIENT PAUSE ... WRITE``), its users name them: node b's view misses each name
    and asks the database, so ``/join #g``, a ``#g`` line and IRC ``JOIN #g`` find
    amy's group instead of answering ``no such group`` or making one of their own."""
    slow = ("--cluster-expiry", "10")  # the pause must not look like a dead node
    with node(tmp_path, "a", pg_url, redis_url, *slow) as a, node(tmp_path, "b", pg_url, redis_url, *slow, irc=True) as b:
        amy, _ = login(a, "amy")
        bob, _ = login(b, "bob")
        cy, _ = login(b, "cy")
        assert amy.read_until(b"cy has entered the chat")[0] == b"bob has entered the chat"
        irc = irc_register(b.irc_port, "ivy", "secret")  # type: ignore[attr-defined]
        for user in (amy, bob, cy):
            assert user.read_until(b"ivy has entered the chat")[-1] == b"ivy has entered the chat"
        redis_server.command("CLIENT", "PAUSE", 3000, "WRITE")  # node b hears nothing of node a
        amy.send(b"/create #tea\n/create #cafe private\n/create #pub\n")
        assert amy.readline() == b"[#tea] public group created: others join with /join #tea"
        assert amy.readline() == b"[#cafe] private group created: others join with /join #cafe"
        assert amy.readline() == b"[#pub] public group created: others join with /join #pub"
        bob.send(b"/join #tea\n")
        assert bob.readline() == b"[#tea] bob has joined the group"
        cy.send(b"#pub anyone?\n/join #cafe\n")
        assert cy.readline() == b"you are not a member of #pub; that line was not sent (/join #pub first)"
        assert cy.readline() == b"[#cafe] your request to join was sent to the owner: analysis in progress"
        irc.send("JOIN #pub")
        assert irc.expect(r" 353 ivy = #pub ").endswith(" #pub :@amy ivy")  # amy's group, not one of node b's own
        # once the bus is back, node a hears of what node b did with its groups
        seen = amy.read_until(b"[#pub] ivy has joined the group")
        assert b"[#tea] bob has joined the group" in seen
        assert any(b"cy" in line and b"#cafe" in line for line in seen), seen  # the request reached its owner
        bob.send(b"#tea on node b\n")
        assert amy.readline() == b"[#tea] bob: on node b"
        assert "another node made it first" not in b.stderr() and "Traceback" not in b.stderr()
        irc.close()
        for client in (amy, bob, cy):
            client.close()


def test_a_private_message_to_someone_who_just_left_another_node_is_offline_mail(
    tmp_path: Path, pg_url: str, redis_url: str, redis_server: RedisServer
) -> None:
    """bob leaves node b; before node a hears of it (the bus held back by ``CLIENT
    PAUSE ... WRITE``), amy's ``/msg bob`` goes to node b, which no longer holds him: the
    message waits as offline mail, and amy is told bob is offline, as on one node."""
    slow = ("--cluster-expiry", "10")  # the pause must not look like a dead node
    with node(tmp_path, "a", pg_url, redis_url, *slow) as a, node(tmp_path, "b", pg_url, redis_url, *slow) as b:
        amy, _ = login(a, "amy")
        bob, _ = login(b, "bob")
        assert amy.readline() == b"bob has entered the chat"
        redis_server.command("CLIENT", "PAUSE", 2000, "WRITE")
        bob.close()
        time.sleep(0.3)  # node b has let bob go; node a cannot hear of it yet
        amy.send(b"/msg bob are you there?\n")
        assert amy.readline() == b"[private to bob] are you there?"  # node a still shows bob online
        assert amy.readline() == b"bob has left the chat"  # once the bus is back
        assert amy.readline() == b"bob is offline; they will see your message when they log in"
        back, lines = login(b, "bob", b"login")
        assert lines == [b"Access Provided", b"active users are: amy bob"]
        assert back.readline() == b"1 private message(s) arrived while you were away: type /history to read them"
        back.close()
        amy.close()


def test_two_devices_arriving_or_leaving_at_once_on_two_nodes_are_told_once(
    tmp_path: Path, pg_url: str, redis_url: str, redis_server: RedisServer
) -> None:
    """``--sessions-per-account 2``: amy's two devices log in on two nodes at the same
    moment (neither node has heard of the other's: the seat scripts wait behind
    ``CLIENT PAUSE ... WRITE``), then leave at the same moment. Whether a login is the
    account's first session anywhere and a logout its last is the seat scripts' answer,
    so bob is told ``amy has entered the chat`` once and ``amy has left the chat`` once
    (each node's own view would have said twice, then never)."""
    options = ("--sessions-per-account", "2", "--cluster-expiry", "10")
    with node(tmp_path, "a", pg_url, redis_url, *options) as a, node(tmp_path, "b", pg_url, redis_url, *options) as b:
        bob, _ = login(a, "bob")
        amy, _ = login(a, "amy")
        assert bob.readline() == b"amy has entered the chat"
        amy.send(b"/quit\n")
        assert bob.readline() == b"amy has left the chat"
        redis_server.command("CLIENT", "PAUSE", 1500, "WRITE")
        phone, laptop = a.client(), b.client()
        phone.send(b"login\namy,secret\n")
        laptop.send(b"login\namy,secret\n")
        for device in (phone, laptop):
            assert device.readline() == b"Access Provided"
            device.readline()  # the list of who is online
        phone.send(b"one\n")
        assert bob.readline() == b"amy has entered the chat"
        assert bob.readline() == b"amy: one"  # not a second entered notice
        redis_server.command("CLIENT", "PAUSE", 1500, "WRITE")
        phone.close()
        laptop.close()
        assert bob.readline() == b"amy has left the chat"
        bob.send(b"/who\n")
        assert bob.readline() == b"online users (1):"  # not a second left notice
        assert a.stderr().count("Traceback") == b.stderr().count("Traceback") == 0
        bob.close()


def test_two_registrations_of_one_name_on_two_nodes_admit_one_and_the_other_may_try_again(
    tmp_path: Path, pg_url: str, redis_url: str, redis_server: RedisServer
) -> None:
    """zed registers on node a and on node b at the same moment (the seat scripts wait
    behind ``CLIENT PAUSE ... WRITE``, so neither node has heard of the other's): one is
    admitted, the other is told ``username is already used`` (the seed's line for a name
    that exists, not ``Password already used``) and stays at the login step; amy is told
    of one zed."""
    slow = ("--cluster-expiry", "10")
    with node(tmp_path, "a", pg_url, redis_url, *slow) as a, node(tmp_path, "b", pg_url, redis_url, *slow) as b:
        amy, _ = login(a, "amy")
        redis_server.command("CLIENT", "PAUSE", 1500, "WRITE")
        first, second = a.client(), b.client()
        first.send(b"register\nzed,secret\n")
        second.send(b"register\nzed,other\n")
        answers = {first: first.readline(), second: second.readline()}
        assert sorted(answers.values()) == [b"Access Provided", b"username is already used"], answers
        loser = first if answers[first] == b"username is already used" else second
        loser.send(b"register\nzoe,secret\n")  # on the same connection
        assert loser.readline() == b"Access Provided"
        assert amy.readline() == b"zed has entered the chat"
        assert amy.readline() == b"zoe has entered the chat"  # never a second zed
        for client in (first, second, amy):
            client.close()


def test_the_announce_limit_counts_the_users_of_every_node(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    """``--announce-limit 2`` over two nodes: the third login (on node a) counts bob on
    node b and is not announced; everyone on both nodes is told once; a fourth on node b
    is quiet too (b heard that everyone was told); when node b dies, its announced user's
    leave is shown and its quiet user's is not."""
    off = b"more than 2 users are online: entered and left notices are off while so many are (/who lists who is online)"
    with node(tmp_path, "a", pg_url, redis_url, "--announce-limit", "2") as a, \
            node(tmp_path, "b", pg_url, redis_url, "--announce-limit", "2") as b:
        amy, _ = login(a, "amy")
        bob, _ = login(b, "bob")
        assert amy.readline() == b"bob has entered the chat"
        cid, lines = login(a, "cid")
        assert lines == [b"Access Provided", b"active users are: amy bob cid"]
        assert cid.readline() == off
        assert amy.readline() == off
        assert bob.readline() == off  # through the bus: node b's users are told too
        dan, lines = login(b, "dan")
        assert lines == [b"Access Provided", b"active users are: amy bob cid dan"]
        assert dan.readline() == off
        dan.send(b"hi from b\n")  # nobody was shown dan arriving, nor told again
        for watcher in (amy, bob, cid):
            assert watcher.readline() == b"dan: hi from b"
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(timeout=TIMEOUT)
        assert amy.readline() == b"bob has left the chat"  # announced entry: announced leave
        cid.send(b"still here\n")
        assert amy.readline() == b"cid: still here"  # and nothing for dan
        for client in (amy, bob, cid, dan):
            client.close()
