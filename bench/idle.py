"""Bytes per idle logged-in connection: ``tracemalloc`` and RSS, in a server of its own.

    python -m bench.idle                      # 2,000 clients, RSS run then tracemalloc run
    python -m bench.idle --clients 10000 --top 15
    python -m bench.idle --clients 10000 --ws     # WebSocket clients on the web port instead

Starts a pollchat server in a child process (127.0.0.1, a free port, a fresh data
directory, ``--kdf-iterations 1000``, the per-address and rate limits and the login
timeout off, replay off), built as ``pollchat-server`` builds it and stepped with
``Server.run_once()``, so the child can answer "measure" requests on its stdin between
passes. The parent logs ``--clients`` clients in (``register``, ``bN,pw``), reads
everything they are sent until every ``has entered`` notice has arrived, lets the server
go idle, and asks for a measurement; the figure per connection is (measured with N
clients - measured with none) / N, after ``gc.collect()``.

``--ws`` connects WebSocket clients to the server's web port instead (an upgrade
without ``Origin``, the login in two masked text frames, JSON events in server frames):
the same figures for a WebSocket connection.

Two child runs: one plain, for RSS (``VmRSS``: tracemalloc's own records would inflate
it), and one with ``tracemalloc`` started after start-up, for the Python heap and, with
``--top``, the allocation sites that grew the most. Loopback only. Not run in CI.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --- the child: a server that can be asked to measure itself ------------------------------------


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _malloc_kib() -> dict[str, int]:
    """glibc's heap figures (``mallinfo2``): bytes held from the system by malloc (its
    arenas and large mappings) and bytes in use, in KiB; empty elsewhere."""
    try:
        import ctypes

        class MallInfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in
                        ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                         "fordblks", "keepcost")]

        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    return {"malloc_held_kib": (info.arena + info.hblkhd) // 1024, "malloc_used_kib": (info.uordblks + info.hblkhd) // 1024}


def serve(data_dir: str, max_users: int, trace: bool, top: int) -> None:
    """The child: run a server; on each stdin line ``measure`` print one JSON line."""
    from pollchat.server.app import Server
    from pollchat.server.cli import build_parser, config_from_args
    from pollchat.store.database import Database

    args = build_parser().parse_args(
        ["--max-users", str(max_users), "--host", "127.0.0.1", "--port", "0", "--data-dir", data_dir,
         "--kdf-iterations", "1000", "--max-connections-per-address", "0", "--rate-limit", "0",
         "--input-budget", "0", "--address-input-budget", "0",
         "--login-timeout", "0", "--register-rate", "0", "--replay", "0", "--no-game", "--web-port", "0",
         "--no-irc", "--max-accounts", "0"]
    )
    config = config_from_args(args, max_users)
    database = Database.open(Path(data_dir) / "pollchat.db")
    server = Server(config, [], database)
    import tracemalloc

    baseline = None
    if trace:
        tracemalloc.start(int(os.environ.get("IDLE_FRAMES", "1")))
    if hasattr(server, "after_start"):  # what serve_forever does before its first pass
        server.after_start()
    web = server.web_address
    print(json.dumps({"port": server.address[1], "web_port": web[1] if web else None}), flush=True)
    stop = False

    def command() -> None:
        nonlocal stop, baseline
        line = sys.stdin.readline().strip()
        if line in ("", "quit"):
            stop = True
            return
        gc.collect()
        report: dict[str, object] = {"rss_kib": _rss_kib(), "connections": len(server.loop.connections),
                                     "online": len(server.hub.online_names()), **_malloc_kib()}
        if trace:
            report["traced"] = tracemalloc.get_traced_memory()[0]
            snap = tracemalloc.take_snapshot()
            if baseline is None:
                baseline = snap
            elif top:
                stats = snap.compare_to(baseline, "traceback" if os.environ.get("IDLE_FRAMES") else "lineno")[:top]
                report["top"] = [(" <- ".join(str(f) for f in s.traceback), s.size_diff, s.count_diff) for s in stats]
        print(json.dumps(report), flush=True)

    server.loop.add_reader(sys.stdin, command)
    while not stop:
        server.run_once(0.5)
    server.loop.remove_reader(sys.stdin)
    server.close()


# --- the parent: clients -------------------------------------------------------------------------


def _connect_all(port: int, n: int, concurrency: int, timeout: float, ws: bool = False) -> tuple[list[socket.socket], float]:
    """Log ``n`` clients in and read until each saw every later client enter; returns the
    sockets and the seconds it took. ``ws``: WebSocket clients (``port`` is the web
    port); each frame holds one JSON event, so the markers are counted in the frames'
    bytes as they come (a marker never spans two frames' headers)."""
    from bench.load import _ws_frame
    from tests.wsclient import handshake

    ready_marker = b'"type":"welcome"' if ws else b"active users are:"
    entered_marker = b'"type":"entered"' if ws else b" has entered the chat\n"
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    state: dict[int, dict] = {}
    start = time.monotonic()
    started = logged_in = 0
    entered_total = 0
    expected_entered = n * (n - 1) // 2

    def open_one(i: int) -> None:
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        if ws:
            s.sendall(handshake(host=f"127.0.0.1:{port}", origin=None) + _ws_frame(b"register") + _ws_frame(b"b%d,pw" % i))
        else:
            s.sendall(f"register\nb{i},pw\n".encode())
        socks.append(s)
        state[s.fileno()] = {"i": i, "in": False, "tail": b""}
        sel.register(s, selectors.EVENT_READ, s)

    while time.monotonic() - start < timeout:
        while started < n and started - logged_in < concurrency:
            open_one(started)
            started += 1
        if logged_in == n and entered_total >= expected_entered:
            break
        for key, _ in sel.select(0.2):
            s = key.data
            try:
                data = s.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                raise RuntimeError("the server closed a client")
            st = state[s.fileno()]
            buf = st["tail"] + data
            cut = buf.rfind(b"}" if ws else b"\n") + 1  # a JSON event ends its frame
            whole, st["tail"] = buf[:cut], buf[cut:]
            if not st["in"] and ready_marker in whole:
                st["in"] = True
                logged_in += 1
                whole = whole[whole.find(ready_marker):]
            entered_total += whole.count(entered_marker)
    else:
        raise RuntimeError(f"only {logged_in} of {n} logged in ({entered_total}/{expected_entered} notices)")
    sel.close()
    return socks, time.monotonic() - start


def measure(clients: int, trace: bool, top: int, ws: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="pollchat-idle-") as tmp:
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.idle", "--serve", f"{tmp}/data", "--max-users", str(clients + 10)]
            + (["--trace"] if trace else []) + ["--top", str(top)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, cwd=ROOT,
        )
        assert child.stdin and child.stdout
        try:
            ports = json.loads(child.stdout.readline())
            port = ports["web_port"] if ws else ports["port"]

            def ask() -> dict:
                child.stdin.write("measure\n")  # type: ignore[union-attr]
                child.stdin.flush()  # type: ignore[union-attr]
                return json.loads(child.stdout.readline())  # type: ignore[union-attr]

            time.sleep(0.5)
            empty = ask()
            socks, seconds = _connect_all(port, clients, 64, 1200, ws)  # a busy shared machine needs minutes
            time.sleep(1.0)  # the last flush, the history and timers settle
            full = ask()
            child.stdin.write("quit\n")
            child.stdin.flush()
            child.wait(30)
            for s in socks:
                s.close()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    out = {"clients": clients, "front_end": "websocket" if ws else "tcp", "login_s": round(seconds, 2), "rss_empty_mib": round(empty["rss_kib"] / 1024, 1),
           "rss_full_mib": round(full["rss_kib"] / 1024, 1),
           "rss_per_conn_bytes": round((full["rss_kib"] - empty["rss_kib"]) * 1024 / clients),
           "online": full["online"]}
    for key in ("malloc_held_kib", "malloc_used_kib"):
        if key in full:
            out[key.replace("_kib", "_per_conn_bytes")] = round((full[key] - empty[key]) * 1024 / clients)
    if trace:
        out["traced_per_conn_bytes"] = round((full["traced"] - empty["traced"]) / clients)
        out["top"] = full.get("top", [])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=2000)
    p.add_argument("--top", type=int, default=0, help="show the N allocation sites that grew the most")
    p.add_argument("--serve", metavar="DATA_DIR", help=argparse.SUPPRESS)
    p.add_argument("--max-users", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="one JSON line per run")
    p.add_argument("--ws", action="store_true", help="WebSocket clients on the web port instead of TCP line clients")
    a = p.parse_args(argv)
    if a.serve:
        serve(a.serve, a.max_users, a.trace, a.top)
        return 0
    from bench.load import raise_nofile

    raise_nofile()
    for trace in (False, True):
        r = measure(a.clients, trace, a.top if trace else 0, a.ws)
        if a.json:
            print(json.dumps(r))
            continue
        if not trace:
            print(f"{r['clients']} idle {r['front_end']} clients logged in after {r['login_s']} s (online {r['online']}): RSS "
                  f"{r['rss_empty_mib']} -> {r['rss_full_mib']} MiB, {r['rss_per_conn_bytes']} bytes per connection")
            if "malloc_held_per_conn_bytes" in r:
                print(f"  malloc (objects over 512 bytes, sqlite, C libraries): {r['malloc_used_per_conn_bytes']} bytes "
                      f"in use, {r['malloc_held_per_conn_bytes']} held per connection")
        else:
            print(f"tracemalloc: {r['traced_per_conn_bytes']} bytes per connection (Python heap)")
            for where, size, count in r["top"]:
                print(f"  {size / a.clients:8.1f} B/conn  {count / a.clients:6.2f} blocks/conn  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
