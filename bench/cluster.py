"""K cluster nodes x N clients against one node x K*N clients, in the same run.

    python -m bench.cluster --clients 200 --senders 10 --rate 5 --duration 10 [--stagger] [--json]
    python -m bench.cluster --nodes 3 --clients 16667 --senders 1 --rate 1 --duration 5 --scenarios cluster \\
        --load-processes 4 --announce-limit 1000

Starts a throwaway Redis (``redis-server``, as tests/redis.py does) and PostgreSQL
(:mod:`bench.pg`, shared with tests/postgres.py), then runs the same load on a fresh
database for each scenario:

* ``single``: one ``pollchat-server --database postgresql://...`` with K*N clients;
* ``cluster``: K (``--nodes``, default 2) ``pollchat-server --cluster redis://...
  --database ...`` nodes with N clients each (a 1 s heartbeat, the default).

The clients are held by ``--load-processes`` worker processes (each a ``selectors`` loop
with its slice of the clients, spread over the nodes; one process holds at most about
19,900 sockets under a 20,000 open-file limit, and one Python loop reads only so much).
Each worker binds its sockets to its own loopback source address (127.0.1.W), so the
ephemeral ports (28,232 per source address and destination) do not run out. A worker
logs its clients in with at most ``--login-window`` logins outstanding at once; the
login time is from the first connect to the last ``active users are:`` line of any
worker. With ``--preregister`` the accounts are registered first (each client
registers and quits, untimed) and the timed phase logs them in; otherwise the timed
phase registers them.

Then ``--senders`` clients (the first ones, spread over the nodes) send ``--rate``
lines a second for ``--duration`` seconds (all at once each interval, or with
``--stagger`` each on its own beat); every client counts what it receives and times
each line (its send time travels in it, ``time.monotonic_ns()``; one machine, one
clock for every process). The report gives deliveries and losses, latency percentiles
(in the cluster split into receivers on the sender's node and on the others, and over
all receivers), each server's CPU seconds per 1,000 deliveries to its own clients over
the sending phase (from ``/proc``; the logins and their entered notices are left
out), the logins' time, each server's RSS at the end and its peak, and, in the
cluster, whether two clients on different nodes saw the lines in the same order.

Server flags a large run needs pass through: ``--announce-limit``, ``--max-accounts``
(default here 0: no cap), ``--max-connections``, ``--register-rate`` (default 0), and
anything else with ``--server-args "..."``. ``--max-users`` is the total number of
clients. Loopback only, bounded in time; not run in CI. On a machine shared with other
work the absolute figures move: compare the scenarios of one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.pg import LocalPostgres, local_postgres

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "bench-pw"
GREETING = b"type login or register and then give user,password"
READ_SIZE = 262144
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux: pick the port at connect()


# --- the engines and the nodes ------------------------------------------------------------------


@contextlib.contextmanager
def postgres() -> Iterator[LocalPostgres]:
    """A throwaway PostgreSQL (no fsync: the chat's costs are measured, not the disk's);
    ``PGPASSWORD`` set for the nodes."""
    with local_postgres(password=PASSWORD, durable=False, max_connections=100) as pg:
        os.environ["PGPASSWORD"] = PASSWORD
        yield pg


@contextlib.contextmanager
def redis() -> Iterator[str]:
    sys.path.insert(0, str(REPO))
    from tests.redis import RedisServer

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install redis-server")
    directory = Path(tempfile.mkdtemp(prefix="pollchat-bench-redis-"))
    server = RedisServer(binary, directory)
    try:
        server.start()
        yield server.url
    finally:
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)


def server_flags(o: argparse.Namespace, total: int) -> list[str]:
    """The flags every node of a run gets besides its name, ports and engines."""
    flags = ["--max-users", str(total + 10), "--max-accounts", str(o.max_accounts), "--register-rate", str(o.register_rate),
             "--announce-limit", str(o.announce_limit)]
    if o.max_connections is not None:
        flags += ["--max-connections", str(o.max_connections)]
    return flags + shlex.split(o.server_args)


@contextlib.contextmanager
def node(
    name: str, database: str, cluster: str | None, workdir: Path, flags: list[str]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    args = [sys.executable, "-m", "pollchat.server", "--host", "127.0.0.1", "--port", "0",
            "--data-dir", str(workdir / name), "--kdf-iterations", "1000", "--replay", "0", "--no-game", "--no-web",
            "--no-irc", "--max-connections-per-address", "0", "--rate-limit", "0", "--login-timeout", "0",
            # one worker's thousands of logins come from one address, all under way at
            # once: the login throttle would take them for guesses (attempts under way count)
            "--throttle-after", "0", "--lockout-after", "0", "--address-lockout-after", "0",
            "--account-throttle-after", "0", "--database", database, "--log-level", "warning", *flags]
    if cluster is not None:
        args += ["--cluster", cluster, "--node-name", name]
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if "listening on" not in line:
            raise SystemExit(f"node {name} did not start: {(workdir / f'{name}.log').read_text()[-2000:]}")
        port = int(line.rsplit(":", 1)[1])
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_mb(pid: int, key: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (the peak) of process ``pid``, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# --- a load worker (a subprocess: python -m bench.cluster --worker) ------------------------------


@dataclass
class Client:
    index: int
    node: int
    sock: socket.socket
    buf: bytes = b""
    ready: bool = False
    order: list[bytes] = field(default_factory=list)


class Worker:
    """One load process: the clients ``first`` to ``last - 1`` of ``clients``, client
    ``i`` on node ``i % len(ports)``, driven by the coordinator's commands on stdin
    (JSON lines), answering on stdout (JSON lines)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.ports: list[int] = spec["ports"]
        self.first, self.last = spec["first"], spec["last"]
        self.source = spec["source"]
        self.sel = selectors.DefaultSelector()
        self.clients: list[Client] = []
        self.latencies: dict[str, list[float]] = {"same": [], "other": []}
        self.received = 0
        self.counting = False
        self.watchers = set(spec["watchers"])
        self.commands: list[dict[str, Any]] = []
        self._stdin = b""
        self.bytes_in = 0
        self.welcomed = 0
        self.last_welcome = 0.0
        os.set_blocking(sys.stdin.fileno(), False)
        self.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, None)

    def say(self, **message: Any) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def log(self, text: str) -> None:
        print(f"worker {self.spec['number']}: {text}", file=sys.stderr, flush=True)

    def _connect(self, index: int, verb: bytes) -> Client:
        n = index % len(self.ports)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((self.source, 0))
        sock.setblocking(False)
        err = sock.connect_ex(("127.0.0.1", self.ports[n]))
        if err not in (0, 115):  # EINPROGRESS
            raise OSError(err, os.strerror(err))
        client = Client(index, n, sock)
        client.buf = verb + b"\nb%d,%s\n" % (index, PASSWORD.encode())  # sent once connected
        self.sel.register(sock, selectors.EVENT_WRITE, client)
        return client

    def pump(self, timeout: float) -> None:
        for key, events in self.sel.select(timeout):
            c = key.data
            if c is None:
                self._read_command()
                continue
            if events & selectors.EVENT_WRITE:  # connected (or not): send the credentials
                error = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    self.fail(c, f"connect: {os.strerror(error)}")
                c.sock.sendall(c.buf)  # a few bytes: the kernel takes them
                c.buf = b""
                self.sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            try:
                data = c.sock.recv(READ_SIZE)
            except BlockingIOError:
                continue
            except OSError as exc:
                self.fail(c, f"{exc}")
            if not data:
                self.fail(c, "disconnected")
            self.bytes_in += len(data)
            c.buf += data
            if b"\n" not in data:
                continue
            *lines, c.buf = c.buf.split(b"\n")
            now = time.monotonic_ns()
            for line in lines:
                if not c.ready:
                    if line.startswith(b"active users are:"):
                        c.ready = True
                        self.welcomed += 1
                        self.last_welcome = time.monotonic()
                    elif line not in (GREETING, b"Access Provided"):
                        self.fail(c, f"refused: {line[:200]!r}")
                elif self.counting and b": L " in line:
                    _, _, body = line.partition(b": L ")
                    sender_node, seq, sent = body.split(b" ")[:3]
                    self.latencies["same" if int(sender_node) == c.node else "other"].append(
                        round((now - int(sent)) / 1e6, 2))
                    self.received += 1
                    if c.index in self.watchers:
                        c.order.append(seq)

    def fail(self, c: Client, why: str) -> None:
        self.say(event="error", message=f"client {c.index} (node {c.node}): {why}; {self.welcomed} of this "
                 f"worker's {self.last - self.first} logged in; last bytes {c.buf[-200:]!r}")
        raise SystemExit(1)

    def _read_command(self) -> None:
        try:
            data = os.read(sys.stdin.fileno(), 65536)
        except BlockingIOError:
            return
        if not data:
            raise SystemExit(0)  # the coordinator is gone
        self._stdin += data
        self._read_buffered()

    def _read_buffered(self) -> None:
        *lines, self._stdin = self._stdin.split(b"\n")
        self.commands += [json.loads(line) for line in lines if line.strip()]

    def command(self, timeout: float | None = None) -> dict[str, Any]:
        """The coordinator's next command, pumping the clients while waiting."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.commands:
            if deadline is not None and time.monotonic() > deadline:
                raise SystemExit("no command from the coordinator")
            self.pump(0.05)
        return self.commands.pop(0)

    def log_in(self, verb: bytes, keep: bool) -> tuple[float, float]:
        """Connect and log in every client of the slice, ``--login-window`` at a time;
        without ``keep`` each quits once welcomed (the registration phase). Returns the
        first connect's and the last welcome's monotonic times."""
        window = self.spec["window"] or (self.last - self.first)
        self.welcomed = 0
        self.last_welcome = 0.0
        pending: list[Client] = []
        started = time.monotonic()
        next_note = started + 10
        index = self.first
        done = 0
        while done < self.last - self.first:
            while index < self.last and len(pending) < window:
                pending.append(self._connect(index, verb))
                index += 1
            self.pump(0.05)
            still = []
            for c in pending:
                if not c.ready:
                    still.append(c)
                    continue
                done += 1
                if keep:
                    self.clients.append(c)
                else:
                    self.sel.unregister(c.sock)
                    c.sock.close()
            pending = still
            if time.monotonic() > next_note:
                next_note += 10
                what = "registered" if verb == b"register" else "logged in"
                self.log(f"{done} of {self.last - self.first} {what}, {self.bytes_in / 1e6:.0f} MB read")
        return started, self.last_welcome

    def run(self) -> None:
        spec = self.spec
        if spec["preregister"]:
            self.command()  # "register"
            started, ended = self.log_in(b"register", keep=False)
            self.say(event="registered", first_connect=started, last_welcome=ended)
        self.command()  # "login"
        started, ended = self.log_in(b"login" if spec["preregister"] else b"register", keep=True)
        self.say(event="logged_in", first_connect=started, last_welcome=ended, bytes_in=self.bytes_in)
        go = self.command()  # after the settle: "go"
        self.latencies = {"same": [], "other": []}
        self.received = 0
        self.counting = True
        senders = [c for c in self.clients if c.index < spec["senders"]]
        interval = 1.0 / spec["rate"]
        start = go["start"]
        beats: list[tuple[float, Client]] = []  # (when, who): every sender's lines in time order
        offset = interval / spec["senders"] if spec["stagger"] else 0.0
        t = 0.0
        while t < spec["duration"]:
            for s in senders:
                beats.append((start + t + s.index * offset, s))
            t += interval
        beats.sort(key=lambda beat: beat[0])
        sent = 0
        seq = 0
        for when, s in beats:
            while (now := time.monotonic()) < when:
                self.pump(min(when - now, 0.05))
            seq += 1
            s.sock.sendall(b"L %d %d-%d %d xxxxxxxx\n" % (s.node, s.index, seq, time.monotonic_ns()))
            sent += 1
        while time.monotonic() < start + spec["duration"]:
            self.pump(0.05)
        self.say(event="sent", sent=sent)
        drain = self.command()
        expected = drain["sent"] * len(self.clients) - sent  # a sender does not get its own lines
        deadline = time.monotonic() + drain["seconds"]
        while self.received < expected and time.monotonic() < deadline:
            self.pump(0.05)
        self.say(event="result", received=self.received, expected=expected, latencies=self.latencies,
                 orders={str(c.index): [s.decode() for s in c.order] for c in self.clients if c.index in self.watchers})
        self.command()  # "stop"
        for c in self.clients:
            c.sock.close()


def worker_main() -> int:
    """A load worker: its spec is the first JSON line on stdin, the commands follow (read
    unbuffered: a buffered reader would keep them from the worker's loop)."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(sys.stdin.fileno(), 65536)
        if not chunk:
            return 1
        data += chunk
    line, rest = data.split(b"\n", 1)
    worker = Worker(json.loads(line))
    worker._stdin = rest
    worker._read_buffered()
    worker.run()
    return 0


# --- the coordinator -----------------------------------------------------------------------------


class Workers:
    """The load processes of one scenario."""

    def __init__(self, specs: list[dict[str, Any]]) -> None:
        self.procs = [
            subprocess.Popen([sys.executable, "-m", "bench.cluster", "--worker"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
            for _ in specs
        ]
        for proc, spec in zip(self.procs, specs):
            self.tell(proc, spec)

    @staticmethod
    def tell(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()

    def all(self, **message: Any) -> None:
        for proc in self.procs:
            self.tell(proc, message)

    def answers(self, event: str, timeout: float, nodes: list[subprocess.Popen[bytes]]) -> list[dict[str, Any]]:
        """Every worker's next answer, which must be ``event`` (a worker's ``error``, a
        dead node or the timeout stop the run with the reason)."""
        sel = selectors.DefaultSelector()
        for i, proc in enumerate(self.procs):
            assert proc.stdout is not None
            sel.register(proc.stdout, selectors.EVENT_READ, i)
        got: dict[int, dict[str, Any]] = {}
        buffers = {i: b"" for i in range(len(self.procs))}
        deadline = time.monotonic() + timeout
        while len(got) < len(self.procs):
            if time.monotonic() > deadline:
                raise SystemExit(f"{event}: no answer from {len(self.procs) - len(got)} worker(s) in {timeout:.0f} s")
            for n, proc in enumerate(nodes):
                if proc.poll() is not None:
                    raise SystemExit(f"node {n} exited with status {proc.returncode} while waiting for {event}")
            for key, _ in sel.select(1.0):
                i = key.data
                chunk = os.read(key.fileobj.fileno(), 1 << 20)  # type: ignore[union-attr]
                if not chunk:
                    raise SystemExit(f"worker {i} exited while waiting for {event}")
                buffers[i] += chunk
                if b"\n" in buffers[i]:
                    line, buffers[i] = buffers[i].split(b"\n", 1)
                    answer = json.loads(line)
                    if answer.get("event") == "error":
                        raise SystemExit(f"worker {i}: {answer['message']}")
                    if answer.get("event") != event:
                        raise SystemExit(f"worker {i}: {answer} (waiting for {event})")
                    got[i] = answer
                    sel.unregister(key.fileobj)
        sel.close()
        return [got[i] for i in range(len(self.procs))]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 2)


def run_load(ports: list[int], nodes: list[subprocess.Popen[bytes]], o: argparse.Namespace, total: int) -> dict[str, Any]:
    """The load of one scenario over ``ports``, held by ``o.load_processes`` workers."""
    count = max(1, o.load_processes)
    per = -(-total // count)
    watchers = list(range(total - len(ports), total)) if len(ports) > 1 else []
    specs = [
        {"number": w, "ports": ports, "first": w * per, "last": min(total, (w + 1) * per), "source": f"127.0.1.{w + 1}",
         "window": o.login_window, "preregister": o.preregister, "senders": o.senders, "rate": o.rate,
         "duration": o.duration, "stagger": o.stagger, "watchers": watchers}
        for w in range(count) if w * per < total
    ]
    workers = Workers(specs)
    result: dict[str, Any] = {}
    limit = max(300.0, total / 20)
    try:
        if o.preregister:
            workers.all(cmd="register")
            done = workers.answers("registered", limit, nodes)
            result["register_seconds"] = round(max(a["last_welcome"] for a in done) - min(a["first_connect"] for a in done), 2)
        workers.all(cmd="login")
        done = workers.answers("logged_in", limit, nodes)
        result["login_seconds"] = round(max(a["last_welcome"] for a in done) - min(a["first_connect"] for a in done), 2)
        result["login_mb_read"] = round(sum(a["bytes_in"] for a in done) / 1e6)
        result["open_files"] = [_open_files(p.pid) for p in nodes]
        time.sleep(o.settle)  # the logins' last notices still travel (the workers keep reading)
        cpu_before = [cpu_seconds(p.pid) for p in nodes]
        start = time.monotonic() + 0.5
        workers.all(cmd="go", start=start)
        sent = sum(a["sent"] for a in workers.answers("sent", o.duration + 60, nodes))
        workers.all(cmd="drain", sent=sent, seconds=5 + total / 10_000)
        results = workers.answers("result", o.duration + 120 + total / 1000, nodes)
        result["cpu"] = [round(cpu_seconds(p.pid) - before, 3) for p, before in zip(nodes, cpu_before)]
        workers.all(cmd="stop")
    finally:
        workers.close()
    latencies: dict[str, list[float]] = {"same": [], "other": []}
    orders: dict[str, list[str]] = {}
    for r in results:
        for key in latencies:
            latencies[key] += r["latencies"][key]
        orders.update(r["orders"])
    order = None
    if len(watchers) > 1:
        a, b = orders[str(watchers[-2])], orders[str(watchers[-1])]
        order = (sum(1 for x, y in zip(a, b) if x == y), min(len(a), len(b)))
    result.update(sent=sent, expected=sent * (total - 1), received=sum(r["received"] for r in results),
                  latencies=latencies, order=order)
    return result


def scenario(name: str, database: str, cluster: str | None, nodes: int, o: argparse.Namespace, workdir: Path) -> dict:
    total = o.clients * o.nodes
    flags = server_flags(o, total)
    with contextlib.ExitStack() as stack:
        procs = [stack.enter_context(node(f"{name}{i}", database, cluster, workdir, flags)) for i in range(nodes)]
        time.sleep(1.5 if cluster else 0.2)  # the nodes join the engine
        result = run_load([port for _, port in procs], [p for p, _ in procs], o, total)
        rss = [_status_mb(p.pid, "VmRSS") for p, _ in procs]
        peak = [_status_mb(p.pid, "VmHWM") for p, _ in procs]
    received = result["received"]
    per_node = received / nodes
    lat = result["latencies"]
    cpu = result["cpu"]
    return {
        "scenario": name,
        "nodes": nodes,
        "clients": total,
        "load_processes": o.load_processes,
        "announce_limit": o.announce_limit,
        "sent": result["sent"],
        "deliveries": received,
        "lost": result["expected"] - received,
        "p50_ms": pct(lat["same"] + lat["other"], 50),
        "p99_ms": pct(lat["same"] + lat["other"], 99),
        "p50_ms_same_node": pct(lat["same"], 50),
        "p99_ms_same_node": pct(lat["same"], 99),
        "p50_ms_other_node": pct(lat["other"], 50),
        "p99_ms_other_node": pct(lat["other"], 99),
        "register_s": result.get("register_seconds"),
        "login_s": result["login_seconds"],
        "login_mb_read": result["login_mb_read"],
        "open_files": result["open_files"],
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "cpu_s": [round(c, 2) for c in cpu],
        "cpu_ms_per_1000_deliveries_per_node": [round(c * 1e6 / max(1.0, per_node), 1) for c in cpu],
        "order_agreement": result["order"],
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main()
    # SIGTERM (a timeout, Ctrl+C's cousin) runs the clean-up too: nodes, Redis, PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200, help="N: clients per node in the cluster run (the single node gets K x N)")
    parser.add_argument("--nodes", type=int, default=2, help="K: nodes in the cluster run")
    parser.add_argument("--scenarios", default="single,cluster", help="which to run: single, cluster or both")
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--rate", type=float, default=5.0, help="lines per second per sender")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--stagger", action="store_true", help="spread the senders over each interval instead of all at once")
    parser.add_argument("--load-processes", type=int, default=1, help="worker processes holding the clients (default 1)")
    parser.add_argument("--login-window", type=int, default=1000, help="logins outstanding at once per worker (0: all)")
    parser.add_argument("--preregister", action="store_true", help="register the accounts first, untimed; the timed phase logs in")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between the last welcome and the first line")
    parser.add_argument("--announce-limit", type=int, default=0, help="the nodes' --announce-limit (default 0: the seed's rule)")
    parser.add_argument("--max-accounts", type=int, default=0, help="the nodes' --max-accounts (default 0: no cap)")
    parser.add_argument("--max-connections", type=int, default=None, help="the nodes' --max-connections (default: theirs)")
    parser.add_argument("--register-rate", type=int, default=0, help="the nodes' --register-rate (default 0: off)")
    parser.add_argument("--server-args", default="", help="more flags for every node, as one shell-quoted string")
    parser.add_argument("--json", action="store_true")
    o = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="pollchat-bench-cluster-"))
    results = []
    try:
        with postgres() as pg, redis() as redis_url:
            for name, nodes in (("single", 1), ("cluster", o.nodes)):
                if name not in o.scenarios.split(","):
                    continue
                database = pg.new_database(name)
                results.append(scenario(name, database, redis_url if nodes > 1 else None, nodes, o, workdir))
    except BaseException:
        for log in sorted(workdir.glob("*.log")):  # what the nodes said before the run stopped
            lines = log.read_text(errors="replace").splitlines()
            print(f"--- {log.name}, last {min(20, len(lines))} of {len(lines)} lines:", *lines[-20:], sep="\n", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for r in results:
        print(json.dumps(r) if o.json else "  ".join(f"{k}={v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
