"""Load generator: N logged-in clients, K senders, end-to-end latency and server cost.

    python -m bench.load --port 3490 --clients 1000 --senders 10 --window 8 --duration 10 \\
        --server-pid $(pgrep -f pollchat.server) --json

Opens ``--clients`` connections to an already running server (127.0.0.1 only), logs each
one in (``register`` as b0, b1, ... by default; ``--login`` for existing accounts; ``--irc``
for an IRC server: NICK/USER, JOIN #bench), waits until every ``has entered`` notice has
arrived, then lets ``--senders`` of them send 64-byte lines, each carrying its sender, a
sequence number and its send time (``time.monotonic_ns()``), either ``--rate`` lines per
second each or with at most ``--window`` own lines in flight. Every receiver counts the
lines it gets; a sample of receivers (``--probes``) also parses each line's send time for
the latency. At the end it reports deliveries expected and received, losses,
deliveries/s, latency percentiles, and, with ``--server-pid``, the server's CPU seconds
and RSS from ``/proc``. The connections are shared among ``--workers`` processes, each
with its own selectors loop; their CPU use is reported, and the report says when one of
them was saturated (then the numbers measure the load generator, not the server).

``--group NAME`` sends the lines to a group instead of the main chat: each client, right
behind its login, sends ``/create #NAME public`` (the first one creates it; the others
are told it exists) and ``/join #NAME``, the run waits for every ``has joined the group``
notice too, and the senders send ``#NAME`` and the same 64 bytes (the server must allow
that many members: ``--max-group-members 0``).

Front ends besides plain TCP: ``--ws-fraction F`` sends a share of the clients to the
web port (``--web-port``) as WebSocket clients (HTTP upgrade without ``Origin``, one
masked text frame per line, JSON events in server text frames), and ``--tls-fraction F``
puts a share of the line-protocol clients on the TLS port (``--tls-port``; ``--cafile``
to verify the server's certificate, ``--no-verify`` not to).

Loopback only; every phase is bounded in time. Not run in CI.
"""

from __future__ import annotations

import argparse
import array
import base64
import errno
import json
import multiprocessing as mp
import os
import re
import resource
import selectors
import socket
import ssl
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from pollchat.protocol.websocket import OP_TEXT, accept_key, encode_client_frame
from tests.wsclient import handshake  # the test suite's handshake builder (run from the repository root)

LINE_BYTES = 64
"""Bytes of every chat line a sender sends, newline included (IRC: the PRIVMSG text)."""
RECV_SIZE = 256 * 1024
PAD = b"xxxxxxxx"  # the tail of every bench line; PAD + end of line counts a delivery

# what the receivers look for, per protocol
MARKERS: dict[str, dict[str, bytes]] = {
    "text": {"ready": b"active users are:", "entered": b" has entered the chat\n", "delivery": PAD + b"\n",
             "joined": b" has joined the group\n"},
    "json": {"ready": b'"type":"welcome"', "entered": b'"type":"entered"', "delivery": PAD + b'"',
             "joined": b'"change":"joined"'},
    "irc": {"ready": b" 366 ", "entered": b" JOIN ", "delivery": PAD + b"\r\n"},
}
MARKERS["ws"] = MARKERS["json"]  # a WebSocket text frame holds one JSON event, as a JSON-mode line does
FAILURES: dict[str, re.Pattern[bytes]] = {
    "text": re.compile(rb"Wrong Password|username is already used|Max number of chat users|Type the format"
                       rb"|Password already used|too many|closing the connection"),
    "json": re.compile(rb'"type":"error"'),
    "irc": re.compile(rb"^(ERROR |:\S+ 4[0-9][0-9] )", re.MULTILINE),
    "ws": re.compile(rb'\AHTTP/1\.1 [2-5]|"type":"error"'),  # no 101, or a JSON error
}
SAMPLE = re.compile(rb'[ :"]([A-Za-z0-9_]+)-([0-9]+) ([0-9]+) x')
WS_EVENT = b'{"type":"'
"""How every server frame's payload starts (a JSON event's first key is its type)."""


def picked(i: int, fraction: float) -> bool:
    """Whether client ``i`` is in the ``fraction`` share (0.5: every other one, the odd ones)."""
    return bool(fraction) and int((i + 1) * fraction) > int(i * fraction)


def _ws_frame_at(data: bytes, p: int) -> tuple[int, int] | None:
    """(start, end) of the server text frame whose payload starts at ``p``, or ``None``
    when the bytes before ``p`` are not such a frame's header (unmasked, FIN, text)."""
    if p >= 2 and data[p - 2] == 0x81 and data[p - 1] < 126:
        return p - 2, p + data[p - 1]
    if p >= 4 and data[p - 4] == 0x81 and data[p - 3] == 126:
        return p - 4, p + int.from_bytes(data[p - 2 : p], "big")
    if p >= 10 and data[p - 10] == 0x81 and data[p - 9] == 127:
        return p - 10, p + int.from_bytes(data[p - 8 : p], "big")
    return None


def ws_cut(data: bytes) -> int:
    """How many leading bytes of ``data`` (which starts at a frame boundary) are whole
    server frames. The receivers count markers in whole frames only, as they count them
    in whole lines; instead of walking every frame header in Python (per delivery), the
    last payload start is found with ``rfind`` and only its header is read, so the cost
    per received chunk is the same C-speed scan as for a line client."""
    end = len(data)
    while True:
        p = data.rfind(WS_EVENT, 0, end)
        if p < 0:
            return 0
        frame = _ws_frame_at(data, p)
        if frame is None:  # an object nested in an event (a list entry), not a payload start
            end = p
            continue
        start, stop = frame
        return stop if stop <= len(data) else start

# control block (parent -> workers)
PHASE, RUN_START, RUN_END, STORM_AT = range(4)
LOGIN, SETTLE, RUN, DRAIN, STOP = range(1, 6)
# counters (worker -> parent), one row per worker
F_READY, F_FAILED, F_ENTERED, F_SENT, F_RECEIVED, F_STORM_READY, F_STORM_FAILED, F_SENDERS_DONE, \
    F_STORM_FIRST, F_STORM_LAST, F_DEAD, F_JOINED = range(12)
NFIELDS = 12


@dataclass
class Options:
    """What to run (the command-line options, also used by ``bench.suite``)."""

    host: str = "127.0.0.1"
    port: int = 3490
    clients: int = 100
    senders: int = 10
    rate: float | None = None
    window: int | None = 8
    duration: float = 10.0
    messages: int = 0
    server_pid: int | None = None
    protocol: str = "text"  # text or irc
    json_fraction: float = 0.0
    ws_fraction: float = 0.0
    web_port: int | None = None
    wss: bool = False
    tls_fraction: float = 0.0
    tls_port: int | None = None
    cafile: str | None = None
    verify: bool = True
    login: bool = False
    prefix: str = "b"
    password: str = "benchpw"
    workers: int = 2
    probes: int = 64
    login_concurrency: int = 64
    login_timeout: float = 120.0
    settle_timeout: float = 60.0
    drain_timeout: float = 10.0
    storm: int = 0
    storm_at: float = 2.0
    storm_prefix: str = "storm"
    storm_password: str = "stormpw"
    group: str = ""  # lines go to this group (created and joined by every client at login)
    irc_register: bool = False  # IRC clients register accounts (REGISTER, IRCv3 draft/account-registration)
    sources: int = 1  # client i connects from 127.0.0.(1 + i % sources): more than one port range's worth
    label: str = ""
    extra: dict = field(default_factory=dict)


# --- /proc ---------------------------------------------------------------------------------

def proc_stats(pid: int | None) -> tuple[float, int] | None:
    """(CPU seconds user+system, RSS bytes) of ``pid``, or None.

    The CPU time is ``utime + stime`` from ``/proc/PID/stat`` (10 ms ticks); where the
    kernel has schedstats, the nanosecond sum over the process's threads
    (``/proc/PID/task/*/schedstat``) is used instead, so short runs are measured too."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    try:
        ns = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns += int(f.read().split()[0])
        if abs(ns / 1e9 - cpu) < 0.05 + 0.05 * cpu:  # agrees with the ticks: use the precise figure
            cpu = ns / 1e9
    except (OSError, ValueError, IndexError):
        pass
    return cpu, int(fields[21]) * os.sysconf("SC_PAGE_SIZE")


def raise_nofile() -> int:
    """Raise the soft descriptor limit to the hard one; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


# --- a worker process ----------------------------------------------------------------------

class _Client:
    __slots__ = ("idx", "name", "sock", "state", "buf", "tail", "mode", "probe", "counted", "sender",
                 "out", "writing", "storm", "tls", "port", "key")

    def __init__(self, idx: int, name: str, mode: str, *, storm: bool = False, tls: bool = False,
                 port: int = 0) -> None:
        self.idx = idx
        self.name = name
        self.sock: socket.socket | None = None
        self.state = 0  # 0 waiting, 1 connecting, 2 logging in, 3 ready, 4 dead, 5 TLS handshake
        self.buf = b""
        self.tail = b""
        self.mode = mode
        self.probe = False
        self.counted = not storm
        self.sender: _Sender | None = None
        self.out = b""
        self.writing = False
        self.storm = storm
        self.tls = tls
        self.port = port
        self.key = ""  # Sec-WebSocket-Key


class _Sender:
    __slots__ = ("client", "seq", "acked", "next_ns", "done")

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.seq = 0
        self.acked = 0
        self.next_ns = 0
        self.done = False


def _ws_frame(payload: bytes) -> bytes:
    """One masked client text frame, with a fresh masking key (RFC 6455 section 5.3)."""
    return encode_client_frame(OP_TEXT, payload, os.urandom(4))


def _login_bytes(o: Options, c: _Client) -> bytes:
    if c.mode == "ws":  # the upgrade, then the login lines right behind it (no wait for the 101)
        c.key = base64.b64encode(os.urandom(16)).decode()
        request = handshake(host=f"{o.host}:{c.port}", origin=None, key=c.key)
        verb = b"login" if o.login else b"register"
        login = _ws_frame(verb) + _ws_frame(b"%s,%s" % (c.name.encode(), o.password.encode()))
        return request + login + b"".join(_ws_frame(line) for line in _group_lines(o))
    if c.mode == "irc":
        name = c.name.encode()
        if o.irc_register:  # an account of its own, as pollchat's gateway offers (draft/account-registration)
            return b"CAP LS 302\r\nNICK %s\r\nUSER %s 0 * :bench\r\nREGISTER * * %s\r\nCAP END\r\n" % (
                name, name, o.password.encode())
        return b"NICK %s\r\nUSER %s 0 * :bench\r\nJOIN #bench\r\n" % (name, name)
    if c.storm:
        return b"login\n%s,%s\n" % (c.name.encode(), o.storm_password.encode())
    verb = b"login" if o.login else b"register"
    head = b"mode json\n" if c.mode == "json" else b""
    return head + b"%s\n%s,%s\n" % (verb, c.name.encode(), o.password.encode()) + b"".join(
        line + b"\n" for line in _group_lines(o))


def _group_lines(o: Options) -> list[bytes]:
    """The commands that put a client in ``--group`` (nothing without it)."""
    if not o.group:
        return []
    name = o.group.removeprefix("#").encode()
    return [b"/create #%s public" % name, b"/join #%s" % name]


def _line(c: _Client, seq: int, to: bytes = b"") -> bytes:
    text = b"%s-%d %d " % (c.name.encode(), seq, time.monotonic_ns())
    text += b"x" * max(len(PAD), LINE_BYTES - 1 - len(text))
    text = to + text  # "#group " (--group): the same 64 bytes reach the members
    if c.mode == "irc":
        return b"PRIVMSG #bench :" + text + b"\r\n"
    if c.mode == "ws":
        return _ws_frame(text)
    return text + b"\n"


def client_kind(o: Options, i: int) -> tuple[str, bool, int]:
    """(mode, over TLS?, port) of client ``i``: ``ws`` clients go to the web port (over TLS
    with ``wss``); the others speak the line protocol, on the TLS port when picked by
    ``tls_fraction``."""
    if o.protocol == "irc":
        return "irc", False, o.port
    if picked(i, o.ws_fraction):
        return "ws", o.wss, o.web_port or 0
    mode = "json" if picked(i, o.json_fraction) else "text"
    if picked(i, o.tls_fraction):
        return mode, True, o.tls_port or 0
    return mode, False, o.port


def tls_recv(sock: ssl.SSLSocket, limit: int = RECV_SIZE) -> bytes:
    """Every whole record ``sock`` can decrypt now, up to about ``limit`` bytes of plaintext.

    ``SSLSocket.recv`` returns at most one record (OpenSSL's ``SSL_read``), and
    ``pending()`` counts only the rest of that record, while a plain receiver's one
    ``recv`` takes everything the kernel holds. Reading one record per readiness made a
    TLS receiver fall a record behind each time the server sent it two between two of its
    loop passes; in the closed-loop burst the acknowledging receivers then paced the senders
    on that backlog, not on the server. So: read until OpenSSL wants more bytes from the
    socket. Raises what the first ``recv`` raises (``SSLWantReadError`` when no whole
    record is there yet, ``OSError``); ``b""`` at the end of the stream. A later read that
    raises or finds the end only stops the loop: the next readiness reports it."""
    data = sock.recv(limit)
    if not data:
        return data
    parts = [data]
    n = len(data)
    while n < limit:
        try:
            more = sock.recv(limit - n)
        except OSError:  # SSLWantReadError (no whole record left) included
            break
        if not more:
            break
        parts.append(more)
        n += len(more)
    return b"".join(parts) if len(parts) > 1 else data


def tls_client_context(o: Options) -> ssl.SSLContext:
    """The load clients' TLS context: the server's certificate checked against
    ``o.cafile`` (or the system's CAs), or not checked at all with ``verify=False``."""
    context = ssl.create_default_context(cafile=o.cafile)
    if not o.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _worker(wid: int, o: Options, mine: list[int], storm_mine: list[int], ctl, counters, out) -> None:
    """One load process: owns the clients ``mine`` (global indices) and storm logins."""
    row = wid * NFIELDS
    sel = selectors.DefaultSelector()
    clients: list[_Client] = []
    for i in mine:
        mode, tls, port = client_kind(o, i)
        clients.append(_Client(i, f"{o.prefix}{i}", mode, tls=tls, port=port))
    tls_context = tls_client_context(o) if any(c.tls for c in clients) else None
    step = max(1, o.clients // max(1, o.probes))
    for c in clients:
        c.probe = c.idx % step == step // 2
    senders = [_Sender(c) for c in clients if c.idx < o.senders]
    for s in senders:
        s.client.sender = s
    by_name = {s.client.name.encode(): s for s in senders}
    non_senders = [c for c in clients if c.sender is None] or clients
    watcher_a = non_senders[0]
    watcher_b = next((c for c in clients if c is not watcher_a), watcher_a)
    ack_of: dict[bytes, _Client] = {}
    for name, s in by_name.items():
        w = watcher_b if s.client is watcher_a else watcher_a
        w.probe = True
        ack_of[name] = w
    storm = [_Client(j, f"{o.storm_prefix}{j}", "text", storm=True, port=o.port) for j in storm_mine]
    markers = {mode: MARKERS[mode] for mode in MARKERS}
    waiting = deque(clients)
    logging_in = 0
    lat = array.array("q")  # pairs: receive time - run start, latency (ns)
    lat_cap = 4_000_000
    cpu_run0 = None
    wall_run0 = 0.0
    storm_started = False
    storm_first = storm_last = 0
    entered = received = sent = failed = ready = dead = storm_ready = storm_failed = joined = 0
    to = b"#%s " % o.group.removeprefix("#").encode() if o.group else b""

    def kill(c: _Client) -> None:
        nonlocal dead, failed, storm_failed, logging_in
        if c.state == 4:
            return
        if c.state in (1, 2, 5):
            if c.storm:
                storm_failed += 1
            else:
                failed += 1
                logging_in -= 1
        elif c.state == 3:
            dead += 1
        c.state = 4
        if c.sock is not None:
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()

    def start(c: _Client) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sock = s
        c.state = 1
        if o.sources > 1:  # each source address has its own ephemeral ports (and the server's per-address view)
            try:
                s.bind((f"127.0.0.{1 + c.idx % o.sources}", 0))
            except OSError:
                kill(c)
                return
        err = s.connect_ex((o.host, c.port))
        if err not in (0, errno.EINPROGRESS):
            kill(c)
            return
        sel.register(s, selectors.EVENT_WRITE, c)

    def send(c: _Client, data: bytes) -> None:
        if c.out:
            c.out += data
            return
        try:
            n = c.sock.send(data)
        except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            n = 0  # TLS: retried later with the same bytes first (OpenSSL's rule), as c.out
        except OSError:
            kill(c)
            return
        if n < len(data):
            c.out = data[n:]
            c.writing = True
            sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    def tls_handshake(c: _Client) -> None:
        """Advance a TLS client's handshake; log in once it is done."""
        try:
            c.sock.do_handshake()
        except ssl.SSLWantReadError:
            sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        except ssl.SSLWantWriteError:
            sel.modify(c.sock, selectors.EVENT_WRITE, c)
            return
        except OSError as exc:  # ssl.SSLError too: a refused certificate, a reset
            if os.environ.get("BENCH_DEBUG"):
                print(f"TLS handshake of {c.name} failed: {exc}", file=sys.stderr)
            kill(c)
            return
        c.state = 2
        sel.modify(c.sock, selectors.EVENT_READ, c)
        send(c, _login_bytes(o, c))

    def consume(c: _Client, data: bytes, now: int) -> None:
        """Complete lines (WebSocket: complete frames) of a ready client."""
        nonlocal entered, received, joined
        m = markers[c.mode]
        if c.tail:
            data = c.tail + data
        cut = ws_cut(data) if c.mode == "ws" else data.rfind(b"\n") + 1
        if cut < len(data):
            c.tail = data[cut:]
            if not cut:
                return
            data = data[:cut]
        else:
            c.tail = b""
        if not c.counted:
            return
        entered += data.count(m["entered"])
        if to:
            joined += data.count(m["joined"])
        if c.mode == "irc" and b"PING " in data:
            for line in data.split(b"\r\n"):
                if line.startswith(b"PING "):
                    send(c, b"PONG " + line[5:] + b"\r\n")
        if ctl[PHASE] < RUN:  # replayed history at login is not a delivery (live read: select may have waited)
            return
        received += data.count(m["delivery"])
        if c.probe:
            base = ctl[RUN_START]
            for name, _seq, ns in SAMPLE.findall(data):
                if len(lat) < lat_cap:
                    lat.append(now - base)
                    lat.append(now - int(ns))
                w = ack_of.get(name)
                if w is c:
                    by_name[name].acked += 1

    phase = LOGIN
    hard_deadline = time.monotonic() + o.login_timeout + o.settle_timeout + o.duration + o.drain_timeout + 120
    while time.monotonic() < hard_deadline:
        phase = ctl[PHASE]
        if phase == STOP:
            break
        now = time.monotonic_ns()
        while waiting and logging_in < o.login_concurrency:
            c = waiting.popleft()
            logging_in += 1
            start(c)
        timeout = 0.05
        if phase in (RUN, DRAIN) and cpu_run0 is None:
            cpu_run0, wall_run0 = time.process_time(), time.monotonic()
        if phase == RUN:
            if storm and not storm_started and now >= ctl[STORM_AT]:
                storm_started = True
                storm_first = time.monotonic_ns()
                for c in storm:
                    start(c)
            end = ctl[RUN_END]
            if now < end:
                for s in senders:
                    c = s.client
                    if s.done or c.state != 3:
                        continue
                    if o.messages and s.seq >= o.messages:
                        s.done = True
                        continue
                    if o.rate:
                        if s.next_ns == 0:
                            s.next_ns = ctl[RUN_START] + int(1e9 / o.rate * (c.idx % 97) / 97)
                        while now >= s.next_ns and not (o.messages and s.seq >= o.messages):
                            send(c, _line(c, s.seq, to))
                            s.seq += 1
                            sent += 1
                            s.next_ns += int(1e9 / o.rate)
                        timeout = min(timeout, max(0.0, (s.next_ns - now) / 1e9))
                    else:
                        while s.seq - s.acked < (o.window or 1) and not (o.messages and s.seq >= o.messages):
                            send(c, _line(c, s.seq, to))
                            s.seq += 1
                            sent += 1
            else:
                timeout = 0.01
        for key, mask in sel.select(timeout):
            c = key.data
            if c.state == 1:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    kill(c)
                    continue
                if c.tls:
                    assert tls_context is not None
                    sel.unregister(c.sock)
                    try:
                        c.sock = tls_context.wrap_socket(c.sock, server_hostname=o.host, do_handshake_on_connect=False)
                    except OSError:
                        c.sock = None
                        kill(c)
                        continue
                    c.state = 5
                    sel.register(c.sock, selectors.EVENT_WRITE, c)
                    tls_handshake(c)
                    continue
                c.state = 2
                sel.modify(c.sock, selectors.EVENT_READ, c)
                send(c, _login_bytes(o, c))
                continue
            if c.state == 5:
                tls_handshake(c)
                continue
            if mask & selectors.EVENT_WRITE and c.out:
                try:
                    n = c.sock.send(c.out)
                except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    n = 0
                except OSError:
                    kill(c)
                    continue
                c.out = c.out[n:]
                if not c.out and c.writing:
                    c.writing = False
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            if not mask & selectors.EVENT_READ:
                continue
            try:
                data = tls_recv(c.sock) if c.tls else c.sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue  # TLS: no whole record yet (or only a session ticket)
            except OSError:
                kill(c)
                continue
            if not data:
                kill(c)
                continue
            if c.state == 2:
                c.buf += data
                m = markers[c.mode]
                at = c.buf.find(m["ready"])
                if at < 0:
                    if FAILURES[c.mode].search(c.buf):
                        kill(c)
                    continue
                if c.mode == "ws":  # a 101 with the right accept key, then count from the welcome frame
                    frame = _ws_frame_at(c.buf, at - 1)
                    if (frame is None or not c.buf.startswith(b"HTTP/1.1 101 ")
                            or b"\r\nSec-WebSocket-Accept: %s\r\n" % accept_key(c.key).encode() not in c.buf):
                        kill(c)
                        continue
                    at = frame[0]
                rest, c.buf = c.buf[at:], b""
                c.state = 3
                if c.storm:
                    storm_ready += 1
                    storm_last = time.monotonic_ns()
                else:
                    ready += 1
                    logging_in -= 1
                consume(c, rest, time.monotonic_ns())
            elif c.state == 3:
                consume(c, data, time.monotonic_ns())
        counters[row + F_READY] = ready
        counters[row + F_FAILED] = failed
        counters[row + F_ENTERED] = entered
        counters[row + F_SENT] = sent
        counters[row + F_RECEIVED] = received
        counters[row + F_STORM_READY] = storm_ready
        counters[row + F_STORM_FAILED] = storm_failed
        counters[row + F_SENDERS_DONE] = int(all(s.done or s.client.state != 3 for s in senders))
        counters[row + F_STORM_FIRST] = storm_first
        counters[row + F_STORM_LAST] = storm_last
        counters[row + F_DEAD] = dead
        counters[row + F_JOINED] = joined
    cpu_run1, wall_run1 = time.process_time(), time.monotonic()
    if os.environ.get("BENCH_DEBUG"):
        for c in clients + storm:
            if c.state in (1, 2):
                print(f"stuck {c.name} state {c.state}: {c.buf[-300:]!r}", file=sys.stderr)
    for c in clients + storm:
        if c.sock is not None and c.state != 4:
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
    sel.close()
    out.send({
        "cpu_run": (cpu_run1 - cpu_run0) if cpu_run0 is not None else 0.0,
        "wall_run": (wall_run1 - wall_run0) if cpu_run0 is not None else 0.0,
        "cpu_total": time.process_time(),
        "lat": lat.tobytes(),
    })
    out.close()


# --- the parent ----------------------------------------------------------------------------------

def _sum(counters, workers: int, f: int) -> int:
    return sum(counters[w * NFIELDS + f] for w in range(workers))


def _pct(sorted_values: list[int], p: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return round(sorted_values[k] / 1e6, 3)


def run(o: Options) -> dict:
    """Run one load test against the server at ``o.host:o.port``; returns the report."""
    if o.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("bench.load only targets this machine (127.0.0.1)")
    nofile = raise_nofile()
    if o.clients + o.storm + 64 > nofile:
        raise SystemExit(f"descriptor limit {nofile} is too low for {o.clients} clients")
    workers = max(1, min(o.workers, o.clients // 2))
    ctx = mp.get_context("fork")
    ctl = ctx.RawArray("q", 4)
    counters = ctx.RawArray("q", workers * NFIELDS)
    ctl[PHASE] = LOGIN
    procs, pipes = [], []
    # i -> worker (i + i // workers) % workers: with 2 workers, 0 1 1 0 0 1 1 0 ..., so that a
    # fraction of 0.5 (the odd clients) is split evenly between the workers too
    shares = [[i for i in range(o.clients) if (i + i // workers) % workers == w] for w in range(workers)]
    storm_shares = [list(range(w, o.storm, workers)) for w in range(workers)]
    wall0 = time.monotonic()
    cpu_start = proc_stats(o.server_pid)
    for w in range(workers):
        r, s = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_worker, args=(w, o, shares[w], storm_shares[w], ctl, counters, s), daemon=True)
        p.start()
        s.close()
        procs.append(p)
        pipes.append(r)
    kinds = [client_kind(o, i) for i in range(o.clients)]
    report: dict = {"label": o.label, "protocol": o.protocol, "clients": o.clients, "senders": o.senders,
                    "rate": o.rate, "window": None if o.rate else o.window, "duration": o.duration,
                    "json_fraction": o.json_fraction, "ws_fraction": o.ws_fraction, "tls_fraction": o.tls_fraction,
                    "clients_ws": sum(mode == "ws" for mode, _, _ in kinds),
                    "clients_tls": sum(tls for _, tls, _ in kinds), "workers": workers}
    report.update(o.extra)
    results = []
    try:
        # 1. log everyone in
        deadline = wall0 + o.login_timeout
        while time.monotonic() < deadline:
            done = _sum(counters, workers, F_READY) + _sum(counters, workers, F_FAILED)
            if done >= o.clients:
                break
            time.sleep(0.01)
        ready = _sum(counters, workers, F_READY)
        report["clients_ready"] = ready
        report["clients_failed"] = o.clients - ready
        report["ready_seconds"] = round(time.monotonic() - wall0, 3)
        # 2. wait for every entered notice (each client sees everyone who came after it)
        ctl[PHASE] = SETTLE
        expected_entered = ready * (ready - 1) // 2
        # --group: each of the ready - 1 joins (the first client creates the group) is
        # seen by the members so far, the joiner included
        expected_joined = ready * (ready - 1) // 2 + ready - 1 if o.group else 0
        deadline = time.monotonic() + o.settle_timeout
        entered, joined, last_change, seen = 0, 0, time.monotonic(), -1
        while time.monotonic() < deadline:
            entered = _sum(counters, workers, F_ENTERED)
            joined = _sum(counters, workers, F_JOINED)
            if entered >= expected_entered and joined >= expected_joined:
                break
            if entered + joined != seen:
                seen, last_change = entered + joined, time.monotonic()
            elif time.monotonic() - last_change > 3.0:  # stalled: some notice will never come
                break
            time.sleep(0.01)
        report["entered_expected"] = expected_entered
        report["entered_received"] = entered
        if o.group:
            report["group"] = o.group
            report["joined_expected"] = expected_joined
            report["joined_received"] = joined
        report["all_entered_seconds"] = round(time.monotonic() - wall0, 3)
        time.sleep(0.3)
        st = proc_stats(o.server_pid)
        if st and cpu_start:
            report["server_cpu_login_seconds"] = round(st[0] - cpu_start[0], 3)
            report["server_rss_ready_mib"] = round(st[1] / 2**20, 1)
        # 3. the measured run
        cpu0 = proc_stats(o.server_pid)
        start_ns = time.monotonic_ns() + 50_000_000
        ctl[RUN_START] = start_ns
        ctl[RUN_END] = start_ns + int(o.duration * 1e9)
        ctl[STORM_AT] = start_ns + int(o.storm_at * 1e9)
        ctl[PHASE] = RUN
        t_run0 = time.monotonic() + 0.05
        end = t_run0 + o.duration
        while time.monotonic() < end:
            time.sleep(0.02)
            if o.messages and all(counters[w * NFIELDS + F_SENDERS_DONE] for w in range(workers)):
                break
        ctl[RUN_END] = min(ctl[RUN_END], time.monotonic_ns())
        t_send_end = time.monotonic()
        ctl[PHASE] = DRAIN
        # 4. drain: wait for the deliveries still on their way
        deadline = time.monotonic() + o.drain_timeout
        while time.monotonic() < deadline:
            sent = _sum(counters, workers, F_SENT)
            expected = sent * (ready - 1)
            if _sum(counters, workers, F_RECEIVED) >= expected and (
                    not o.storm or _sum(counters, workers, F_STORM_READY) + _sum(counters, workers, F_STORM_FAILED) >= o.storm):
                break
            time.sleep(0.01)
        t_end = time.monotonic()
        cpu1 = proc_stats(o.server_pid)
        sent = _sum(counters, workers, F_SENT)
        received = _sum(counters, workers, F_RECEIVED)
        expected = sent * (ready - 1)
        report.update({
            "messages_sent": sent,
            "deliveries_expected": expected,
            "deliveries_received": received,
            "losses": expected - received,
            "clients_dropped": _sum(counters, workers, F_DEAD),
            "run_seconds": round(t_end - t_run0, 3),
            "send_seconds": round(t_send_end - t_run0, 3),
            "deliveries_per_second": round(received / max(1e-9, t_end - t_run0)),
        })
        if cpu0 and cpu1:
            cpu = cpu1[0] - cpu0[0]
            report["server_cpu_seconds"] = round(cpu, 3)
            report["server_cpu_us_per_delivery"] = round(cpu / received * 1e6, 3) if received else None
            report["server_cpu_share"] = round(cpu / max(1e-9, t_end - t_run0), 3)
            report["server_rss_mib"] = round(cpu1[1] / 2**20, 1)
        if o.storm:
            firsts = [counters[w * NFIELDS + F_STORM_FIRST] for w in range(workers) if counters[w * NFIELDS + F_STORM_FIRST]]
            lasts = [counters[w * NFIELDS + F_STORM_LAST] for w in range(workers)]
            report["storm_logins"] = o.storm
            report["storm_ok"] = _sum(counters, workers, F_STORM_READY)
            report["storm_seconds"] = round((max(lasts) - min(firsts)) / 1e9, 3) if firsts and max(lasts) else None
        ctl[PHASE] = STOP
        for r in pipes:
            if r.poll(30):
                results.append(r.recv())
    finally:
        ctl[PHASE] = STOP
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
                p.join(5)
    # latency
    lat_all: list[int] = []
    storm_lat: list[int] = []
    storm_lo = (ctl[STORM_AT] - ctl[RUN_START]) if o.storm else None
    storm_hi = storm_lo + int((report.get("storm_seconds") or 0) * 1e9) if o.storm else None
    for res in results:
        a = array.array("q")
        a.frombytes(res["lat"])
        lat_all.extend(a[1::2])
        if o.storm:
            storm_lat.extend(v for t, v in zip(a[0::2], a[1::2]) if storm_lo <= t <= storm_hi)
    lat_all.sort()
    report["latency_samples"] = len(lat_all)
    for p in (50, 90, 99):
        report[f"latency_p{p}_ms"] = _pct(lat_all, p)
    report["latency_max_ms"] = round(lat_all[-1] / 1e6, 3) if lat_all else None
    if o.storm:
        storm_lat.sort()
        report["storm_latency_samples"] = len(storm_lat)
        report["storm_latency_p99_ms"] = _pct(storm_lat, 99)
    shares_cpu = [r["cpu_run"] / r["wall_run"] for r in results if r["wall_run"] > 0]
    report["loadgen_cpu_seconds"] = round(sum(r["cpu_run"] for r in results), 3)
    report["loadgen_max_worker_cpu_share"] = round(max(shares_cpu), 3) if shares_cpu else None
    report["loadgen_saturated"] = bool(shares_cpu and max(shares_cpu) > 0.9)
    return report


TABLE_ROWS = [
    ("clients ready", "clients_ready"), ("ready after (s)", "ready_seconds"),
    ("all entered notices after (s)", "all_entered_seconds"), ("messages sent", "messages_sent"),
    ("deliveries expected", "deliveries_expected"), ("deliveries received", "deliveries_received"),
    ("losses", "losses"), ("deliveries/s", "deliveries_per_second"),
    ("latency p50 (ms)", "latency_p50_ms"), ("latency p90 (ms)", "latency_p90_ms"),
    ("latency p99 (ms)", "latency_p99_ms"), ("latency max (ms)", "latency_max_ms"),
    ("server CPU (s)", "server_cpu_seconds"), ("server CPU per delivery (us)", "server_cpu_us_per_delivery"),
    ("server RSS when ready (MiB)", "server_rss_ready_mib"), ("server RSS at end (MiB)", "server_rss_mib"),
    ("storm logins ok", "storm_ok"), ("storm duration (s)", "storm_seconds"),
    ("chat p99 during storm (ms)", "storm_latency_p99_ms"),
    ("load generator CPU (s)", "loadgen_cpu_seconds"), ("busiest load worker CPU share", "loadgen_max_worker_cpu_share"),
    ("load generator saturated", "loadgen_saturated"),
]


def table(report: dict) -> str:
    """A readable two-column table of ``report``."""
    rows = [(title, report[key]) for title, key in TABLE_ROWS if key in report and report[key] is not None]
    width = max(len(t) for t, _ in rows)
    lines = [f"{t:<{width}}  {v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{t:<{width}}  {v}"
             for t, v in rows]
    if report.get("loadgen_saturated"):
        lines.append("note: a load worker was saturated; the figures measure the load generator too")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--senders", type=int, default=10)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--rate", type=float, help="lines per second per sender")
    g.add_argument("--window", type=int, help="own lines in flight per sender (default 8)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    p.add_argument("--messages", type=int, default=0, help="stop each sender after this many lines (0: no limit)")
    p.add_argument("--server-pid", type=int, help="read the server's CPU and RSS from /proc/PID")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object (table on stderr)")
    p.add_argument("--irc", action="store_true", help="IRC server: NICK/USER, JOIN #bench, PRIVMSG #bench")
    p.add_argument("--irc-register", action="store_true",
                   help="with --irc: each client registers an account (REGISTER * * PASSWORD, IRCv3 "
                        "draft/account-registration) and is joined to the main channel (pollchat's "
                        "--irc-main-channel #bench) instead of NICK/USER and JOIN #bench")
    p.add_argument("--json-fraction", type=float, default=0.0, help="share of clients in JSON mode (0.5: every other one)")
    p.add_argument("--ws-fraction", type=float, default=0.0,
                   help="share of clients on the web port's WebSocket (0.5: every other one; needs --web-port)")
    p.add_argument("--web-port", type=int, help="the server's web port (HTTP and /ws)")
    p.add_argument("--wss", action="store_true", help="the WebSocket clients speak TLS (the web port of a TLS server)")
    p.add_argument("--tls-fraction", type=float, default=0.0,
                   help="share of line-protocol clients on the TLS port (1: all; needs --tls-port)")
    p.add_argument("--tls-port", type=int, help="the server's TLS port")
    p.add_argument("--cafile", help="PEM CA certificate to verify the server with (default: the system's)")
    p.add_argument("--no-verify", action="store_true", help="do not verify the server's certificate")
    p.add_argument("--login", action="store_true", help="log in to existing accounts instead of registering")
    p.add_argument("--prefix", default="b", help="client names: PREFIX0, PREFIX1, ...")
    p.add_argument("--password", default="benchpw")
    p.add_argument("--workers", type=int, default=2, help="load processes")
    p.add_argument("--probes", type=int, default=64, help="receivers that parse send times for latency")
    p.add_argument("--login-concurrency", type=int, default=64, help="logins in progress per worker")
    p.add_argument("--login-timeout", type=float, default=120.0)
    p.add_argument("--drain-timeout", type=float, default=10.0)
    p.add_argument("--storm", type=int, default=0, help="extra logins (existing accounts) started during the run")
    p.add_argument("--storm-at", type=float, default=2.0, help="seconds into the run")
    p.add_argument("--storm-prefix", default="storm")
    p.add_argument("--storm-password", default="stormpw")
    p.add_argument("--sources", type=int, default=1, metavar="N",
                   help="connect from 127.0.0.1 .. 127.0.0.N, client i from 127.0.0.(1 + i %% N)")
    p.add_argument("--group", default="", metavar="NAME",
                   help="send to this public group (every client creates or joins it at login) instead of the main chat")
    a = p.parse_args(argv)
    if a.clients < 2 or not 1 <= a.senders <= a.clients:
        p.error("need at least 2 clients and 1 <= senders <= clients")
    if a.ws_fraction and not a.web_port:
        p.error("--ws-fraction needs --web-port")
    if a.tls_fraction and not a.tls_port:
        p.error("--tls-fraction needs --tls-port")
    if a.irc and (a.ws_fraction or a.tls_fraction or a.group):
        p.error("--irc goes with neither --ws-fraction, --tls-fraction nor --group")
    o = Options(host=a.host, port=a.port, clients=a.clients, senders=a.senders, rate=a.rate,
                window=None if a.rate else (a.window or 8), duration=a.duration, messages=a.messages,
                server_pid=a.server_pid, protocol="irc" if a.irc else "text", json_fraction=a.json_fraction,
                ws_fraction=a.ws_fraction, web_port=a.web_port, wss=a.wss, tls_fraction=a.tls_fraction,
                tls_port=a.tls_port, cafile=a.cafile, verify=not a.no_verify,
                login=a.login, prefix=a.prefix, password=a.password, workers=a.workers, probes=a.probes,
                login_concurrency=a.login_concurrency, login_timeout=a.login_timeout,
                drain_timeout=a.drain_timeout, storm=a.storm, storm_at=a.storm_at,
                storm_prefix=a.storm_prefix, storm_password=a.storm_password, group=a.group,
                irc_register=a.irc_register,
                sources=max(1, min(a.sources, 254)))
    report = run(o)
    if a.json:
        print(json.dumps(report))
        print(table(report), file=sys.stderr)
    else:
        print(table(report))
    return 0 if report.get("losses") == 0 and report.get("clients_failed") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
