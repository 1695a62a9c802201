"""Two cluster nodes x N clients against one node x 2N clients, in the same run.

    python -m bench.cluster --clients 200 --senders 10 --rate 5 --duration 10 [--stagger] [--json]
    python -m bench.cluster --nodes 3 --clients 2000 --senders 1 --rate 1 --duration 5 --scenarios cluster

Starts a throwaway Redis (``redis-server``) and PostgreSQL (``initdb``/``pg_ctl``, as the
tests do: tests/redis.py, tests/postgres.py), then runs the same load twice on a fresh
database each time:

* ``single``: one ``pollchat-server --database postgresql://...`` with 2N clients;
* ``cluster``: two ``pollchat-server --cluster redis://... --database ...`` nodes with N
  clients each (a 1 s heartbeat, the default).

In each, ``--senders`` clients (spread over the nodes) send ``--rate`` lines a second
for ``--duration`` seconds (all at once each interval, or with ``--stagger`` each on its
own beat); every client counts what it receives and times each line
(its send time travels in it, ``time.monotonic_ns()``; one machine, one clock). The
report gives deliveries and losses, latency percentiles (in the cluster split into
receivers on the sender's node and on the other node), each server's CPU seconds per
1,000 deliveries to its own clients over the sending phase (from ``/proc``; the logins
and their entered notices are left out), the logins' time, each server's RSS, and, in the cluster, whether two
clients on different nodes saw the lines in the same order. Loopback only, bounded in
time; not run in CI. On a machine shared with other work the absolute figures move:
compare the two scenarios of one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "bench-pw"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres() -> Iterator[tuple[str, str]]:
    """A throwaway PostgreSQL: ``(url without password, conninfo)``; PGPASSWORD set."""
    sys.path.insert(0, str(REPO))
    from tests.postgres import USER, _as_owner, _bin_dir  # the tests' own way to start one

    bin_dir = _bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL binaries not found: apt-get install postgresql")
    prefix, owner = _as_owner()
    directory = Path(tempfile.mkdtemp(prefix="pollchat-bench-pg-"))
    pwfile = directory / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if owner is not None:
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    run = dict(check=True, capture_output=True, timeout=120, cwd=directory)
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(directory / "data"), "-U", USER, f"--pwfile={pwfile}",
                    "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"], **run)  # type: ignore[arg-type]
    options = f"-h 127.0.0.1 -p {port} -k {directory} -c fsync=off -c synchronous_commit=off -c max_connections=50"
    subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(directory / "data"), "-l", str(directory / "log"),
                    "-o", options, "-w", "start"], **run)  # type: ignore[arg-type]
    os.environ["PGPASSWORD"] = PASSWORD
    try:
        yield f"postgresql://{USER}@127.0.0.1:{port}", f"host=127.0.0.1 port={port} user={USER} password={PASSWORD}"
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(directory / "data"), "-m", "fast", "-w", "stop"], **run)  # type: ignore[arg-type]
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def redis() -> Iterator[str]:
    sys.path.insert(0, str(REPO))
    from tests.redis import RedisServer

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install redis-server")
    directory = Path(tempfile.mkdtemp(prefix="pollchat-bench-redis-"))
    server = RedisServer(binary, directory)
    server.start()
    try:
        yield server.url
    finally:
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def node(name: str, database: str, cluster: str | None, workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    args = [sys.executable, "-m", "pollchat.server", "--max-users", "20000", "--host", "127.0.0.1", "--port", "0",
            "--data-dir", str(workdir / name), "--kdf-iterations", "1000", "--replay", "0", "--no-game", "--no-web",
            "--no-irc", "--max-connections-per-address", "0", "--rate-limit", "0", "--login-timeout", "0",
            "--register-rate", "0", "--max-accounts", "0", "--database", database, "--log-level", "warning"]
    if cluster is not None:
        args += ["--cluster", cluster, "--node-name", name]
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        port = int(line.rsplit(":", 1)[1])
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@dataclass
class Client:
    index: int
    node: int
    sock: socket.socket
    buf: bytes = b""
    ready: bool = False
    order: list[bytes] = field(default_factory=list)


def run_load(
    ports: list[int], clients: int, senders: int, rate: float, duration: float, keep_order: bool, pids: list[int] = [],
    stagger: bool = False,
) -> dict:
    """``clients`` spread evenly over ``ports``; returns counts, latencies, the time the
    logins took and each of ``pids``' CPU seconds over the sending phase only (the
    logins and their entered notices, O(clients^2) deliveries, are left out)."""
    sel = selectors.DefaultSelector()
    conns: list[Client] = []
    for i in range(clients):
        n = i % len(ports)
        sock = socket.create_connection(("127.0.0.1", ports[n]), timeout=30)
        sock.sendall(b"register\nb%d,%s\n" % (i, PASSWORD.encode()))
        sock.setblocking(False)
        client = Client(i, n, sock)
        conns.append(client)
        sel.register(sock, selectors.EVENT_READ, client)
    latencies: dict[str, list[float]] = {"same": [], "other": []}
    received = 0

    def pump(timeout: float) -> None:
        nonlocal received
        for key, _ in sel.select(timeout):
            c: Client = key.data
            try:
                data = c.sock.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                raise SystemExit(f"client {c.index} was disconnected")
            c.buf += data
            *lines, c.buf = c.buf.split(b"\n")
            now = time.monotonic_ns()
            for line in lines:
                if line.startswith(b"active users are:"):
                    c.ready = True
                elif b": L " in line:
                    _, _, body = line.partition(b": L ")
                    sender_node, _seq, sent = body.split(b" ")[:3]
                    latencies["same" if int(sender_node) == c.node else "other"].append((now - int(sent)) / 1e6)
                    received += 1
                    if keep_order and c.index >= clients - len(ports):  # one watcher per node
                        c.order.append(body.split(b" ")[1])

    login_started = time.monotonic()
    limit = max(120.0, clients / 20)
    deadline = time.monotonic() + limit
    while not all(c.ready for c in conns):
        if time.monotonic() > deadline:
            raise SystemExit(f"logins did not finish in {limit:.0f} s")
        pump(0.1)
    login_seconds = time.monotonic() - login_started
    settle = time.monotonic() + 2.0  # entered notices still travelling
    while time.monotonic() < settle:
        pump(0.05)
    latencies = {"same": [], "other": []}
    received = 0
    cpu_before = [cpu_seconds(pid) for pid in pids]
    sending = conns[:senders]
    interval = 1.0 / rate
    if stagger:  # each sender on its own beat, spread over the interval: one line per pass
        sending, interval = [[s] for s in sending], interval / len(sending)
    else:  # every sender at once: the lines of a burst share loop passes
        sending = [sending]
    start = time.monotonic()
    next_send = start
    sent = 0
    seq = 0
    turn = 0
    while time.monotonic() < start + duration:
        now = time.monotonic()
        if now >= next_send:
            for s in sending[turn % len(sending)]:
                seq += 1
                s.sock.sendall(b"L %d %d-%d %d xxxxxxxx\n" % (s.node, s.index, seq, time.monotonic_ns()))
                sent += 1
            turn += 1
            next_send += interval
        pump(max(0.0, min(next_send - time.monotonic(), 0.05)))
    drain = time.monotonic() + 5
    expected = sent * (clients - 1)
    while received < expected and time.monotonic() < drain:
        pump(0.05)
    cpu = [round(cpu_seconds(pid) - before, 3) for pid, before in zip(pids, cpu_before)]
    order_agrees = None
    if keep_order and len(ports) > 1:
        a, b = conns[-2].order, conns[-1].order
        common = min(len(a), len(b))
        order_agrees = sum(1 for x, y in zip(a, b) if x == y), common
    for c in conns:
        c.sock.close()
    return {"sent": sent, "expected": expected, "received": received, "latencies": latencies, "order": order_agrees,
            "cpu": cpu, "login_seconds": round(login_seconds, 2)}


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 2)


def scenario(name: str, database: str, cluster: str | None, nodes: int, o: argparse.Namespace, workdir: Path) -> dict:
    with contextlib.ExitStack() as stack:
        procs = [stack.enter_context(node(f"{name}{i}", database, cluster, workdir)) for i in range(nodes)]
        time.sleep(1.5 if cluster else 0.2)  # the nodes join the engine
        result = run_load([port for _, port in procs], o.clients * o.nodes, o.senders, o.rate, o.duration, nodes > 1,
                          [p.pid for p, _ in procs], o.stagger)
        cpu = result["cpu"]
        rss = [_rss_mb(p.pid) for p, _ in procs]
    received = result["received"]
    per_node = received / nodes
    lat = result["latencies"]
    return {
        "scenario": name,
        "nodes": nodes,
        "clients": o.clients * o.nodes,
        "sent": result["sent"],
        "deliveries": received,
        "lost": result["expected"] - received,
        "p50_ms_same_node": pct(lat["same"], 50),
        "p99_ms_same_node": pct(lat["same"], 99),
        "p50_ms_other_node": pct(lat["other"], 50),
        "p99_ms_other_node": pct(lat["other"], 99),
        "login_s": result["login_seconds"],
        "rss_mb": rss,
        "cpu_s": [round(c, 2) for c in cpu],
        "cpu_ms_per_1000_deliveries_per_node": [round(c * 1e6 / max(1.0, per_node), 1) for c in cpu],
        "order_agreement": result["order"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200, help="N: clients per node in the cluster run (the single node gets K x N)")
    parser.add_argument("--nodes", type=int, default=2, help="K: nodes in the cluster run")
    parser.add_argument("--scenarios", default="single,cluster", help="which to run: single, cluster or both")
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--rate", type=float, default=5.0, help="lines per second per sender")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--stagger", action="store_true", help="spread the senders over each interval instead of all at once")
    parser.add_argument("--json", action="store_true")
    o = parser.parse_args(argv)
    import psycopg

    workdir = Path(tempfile.mkdtemp(prefix="pollchat-bench-cluster-"))
    results = []
    with postgres() as (url, conninfo), redis() as redis_url:
        for name, nodes in (("single", 1), ("cluster", o.nodes)):
            if name not in o.scenarios.split(","):
                continue
            with psycopg.connect(conninfo + " dbname=postgres", autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {name}")
            results.append(scenario(name, f"{url}/{name}", redis_url if nodes > 1 else None, nodes, o, workdir))
    shutil.rmtree(workdir, ignore_errors=True)
    for r in results:
        print(json.dumps(r) if o.json else "  ".join(f"{k}={v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
