"""Fan-out benchmark: N logged-in clients, K of them sending, everyone counting deliveries.

Starts its own server (``python -m pollchat.server`` on 127.0.0.1, port 0, a fresh data
directory, ``--kdf-iterations 1000`` so set-up is quick), registers N clients, then each
sender sends ``--messages`` 64-byte lines with at most ``--window`` of its own lines in
flight (a sender waits for its own line to come back through a receiver before sending
more). Reports deliveries per second, the server's CPU seconds and CPU microseconds per
delivery (from ``/proc/PID/stat``), and its resident memory. Loopback only; bounded by
``--timeout`` seconds. Not run in CI.

    python -m bench.fanout --clients 200 --senders 5 --messages 500
    python -m bench.fanout --clients 200 --senders 5 --messages 500 --group   # to a group
"""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import time


def _proc_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds user+system, RSS bytes) of ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def _start_server(clients: int, data_dir: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pollchat.server", "--max-users", str(clients), "--host", "127.0.0.1",
         "--port", "0", "--data-dir", data_dir, "--kdf-iterations", "1000", "--log-level", "warning",
         "--max-connections-per-address", "0", "--rate-limit", "0", "--max-group-members", "0", "--register-rate", "0",
         "--input-budget", "0", "--address-input-budget", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    match = re.search(r"listening on [\d.]+:(\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, int(match.group(1))


def _read_until(sock: socket.socket, marker: bytes, deadline: float) -> bytes:
    data = b""
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("server closed a benchmark connection")
        data += chunk
    return data


def run(clients: int, senders: int, messages: int, window: int, timeout: float, group: bool = False) -> dict[str, float]:
    """Run one benchmark; returns the measurements (see module docstring). With
    ``group``, every client joins the public group #bench and the lines are sent to it
    (``#bench text``, issue 4) instead of the main chat."""
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory() as data_dir:
        proc, port = _start_server(clients, data_dir)
        try:
            socks = []
            start = time.monotonic()
            for i in range(clients):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(b"register\nb%d,pw\n" % i)
                _read_until(s, b"active users are:", deadline)
                socks.append(s)
            if group:
                _join_group(socks, deadline)
            ready_s = time.monotonic() - start
            time.sleep(0.5)  # let the entered (and joined) notices drain
            for s in socks:
                s.setblocking(False)
                try:
                    while s.recv(1 << 20):
                        pass
                except BlockingIOError:
                    pass
            sel = selectors.DefaultSelector()
            for i, s in enumerate(socks):
                sel.register(s, selectors.EVENT_READ, i)
            expected = senders * messages * (clients - 1)
            received = 0
            sent = [0] * senders
            acked = [0] * senders  # own lines seen by receiver 0 (or 1 for sender 0)
            payload = b"x" * 40
            prefix = b"#bench " if group else b""
            cpu0, _ = _proc_stats(proc.pid)
            t0 = time.monotonic()
            while received < expected and time.monotonic() < deadline:
                for k in range(senders):
                    while sent[k] < messages and sent[k] - acked[k] < window:
                        socks[k].sendall(b"%s%08d %s\n" % (prefix, sent[k], payload))
                        sent[k] += 1
                for key, _ in sel.select(0.5):
                    try:
                        data = key.fileobj.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    lines = data.count(b"\n")
                    received += lines
                    watcher = key.data
                    if watcher in (0, 1):
                        for k in range(senders):
                            if (k != watcher) and (watcher == 0 or k == 0):
                                acked[k] += data.count(b"b%d: " % k)
            elapsed = time.monotonic() - t0
            cpu1, rss = _proc_stats(proc.pid)
            for s in socks:
                s.close()
        finally:
            proc.terminate()
            proc.wait(10)
    server_cpu = cpu1 - cpu0
    return {
        "group": group,
        "clients": clients,
        "senders": senders,
        "messages_per_sender": messages,
        "ready_seconds": round(ready_s, 3),
        "deliveries_expected": expected,
        "deliveries_received": received,
        "seconds": round(elapsed, 3),
        "deliveries_per_second": round(received / elapsed) if elapsed else 0,
        "server_cpu_seconds": round(server_cpu, 3),
        "server_cpu_us_per_delivery": round(server_cpu / received * 1e6, 3) if received else 0,
        "server_rss_mib": round(rss / 2**20, 1),
    }


def _join_group(socks: list[socket.socket], deadline: float) -> None:
    """The first client creates #bench; the others join it one by one (each waits for
    its own joined line, and the creator for the last one)."""
    socks[0].sendall(b"/create #bench\n")
    _read_until(socks[0], b"group created", deadline)
    for i, s in enumerate(socks[1:], start=1):
        s.sendall(b"/join #bench\n")
        _read_until(s, b"b%d has joined the group" % i, deadline)
    _read_until(socks[0], b"b%d has joined the group" % (len(socks) - 1), deadline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--senders", type=int, default=5)
    parser.add_argument("--messages", type=int, default=500, help="lines per sender")
    parser.add_argument("--window", type=int, default=8, help="own lines in flight per sender")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    parser.add_argument("--group", action="store_true", help="send to a group everyone joined, not the main chat")
    args = parser.parse_args(argv)
    if not 2 <= args.clients or not 1 <= args.senders < args.clients:
        parser.error("need at least 2 clients and 1 <= senders < clients")
    result = run(args.clients, args.senders, args.messages, args.window, args.timeout, args.group)
    print(json.dumps(result))
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value}", file=sys.stderr)
    return 0 if result["deliveries_received"] == result["deliveries_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
