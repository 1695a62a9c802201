"""1,000 registrations per store engine, side by side (issue 21).

    python -m bench.registrations            # 1,000 per engine, 50 at a time
    python -m bench.registrations --count 200 --concurrency 20

Starts pollchat on SQLite (its data directory) and then on a fresh database of a local
PostgreSQL (``bench.pg``: default durability, ``synchronous_commit`` on), both with
``--kdf-iterations 1000`` so the hashing does not hide the store. ``count`` clients
register (``register`` / ``nameN,password``) with at most ``concurrency`` waiting for
their ``Access Provided`` at a time; every reply is read. On PostgreSQL ``Access
Provided`` leaves only after the account's row is committed, so the time includes the
commits. Prints, per engine: wall seconds, registrations per second, server CPU per
registration (``/proc``), and the accounts found in the database afterwards. Not run
in CI; never asserts timings.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import time

from bench.load import proc_stats, raise_nofile
from bench.pg import local_postgres, unavailable
from bench.suite import pollchat_server

PASSWORD = "benchpw12"


def register_all(port: int, count: int, concurrency: int) -> tuple[float, int]:
    """Register ``count`` accounts, ``concurrency`` at a time; (seconds, refused)."""
    selector = selectors.DefaultSelector()
    started = time.monotonic()
    next_index, done, refused = 0, 0, 0
    buffers: dict[socket.socket, bytes] = {}

    def open_one(i: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(f"register\nbench{i},{PASSWORD}\n".encode())
        sock.setblocking(False)
        buffers[sock] = b""
        selector.register(sock, selectors.EVENT_READ)

    while next_index < min(concurrency, count):
        open_one(next_index)
        next_index += 1
    while done < count:
        for key, _ in selector.select(30):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            chunk = sock.recv(65536)
            buffers[sock] += chunk
            data = buffers[sock]
            if b"Access Provided\n" in data or not chunk or data.count(b"\n") >= 2:  # the greeting, then a reply
                if b"Access Provided\n" not in data:
                    refused += 1
                selector.unregister(sock)
                sock.close()
                del buffers[sock]
                done += 1
                if next_index < count:
                    open_one(next_index)
                    next_index += 1
    return time.monotonic() - started, refused


def measure(label: str, count: int, concurrency: int, extra: tuple[str, ...], url: str | None) -> None:
    with pollchat_server(count + 10, kdf_iterations=1000, extra=extra) as (pid, port, _):
        before = proc_stats(pid)
        seconds, refused = register_all(port, count, concurrency)
        after = proc_stats(pid)
    cpu = (after[0] - before[0]) if before and after else float("nan")
    stored = "-"
    if url is not None:
        import psycopg

        with psycopg.connect(url) as conn:
            stored = str(conn.execute("SELECT count(*) FROM account WHERE kind = 'registered'").fetchone()[0])
    print(f"| {label} | {count} | {seconds:.2f} | {count / seconds:.0f} | {cpu / count * 1e3:.2f} | {refused} | {stored} |",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.registrations", description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--rounds", type=int, default=1, help="alternate the engines this many times")
    a = p.parse_args(argv)
    raise_nofile()
    why = unavailable()
    print("| engine | registrations | seconds | per second | server CPU ms / registration | refused | rows |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    if why:
        print(f"(PostgreSQL skipped: {why})")
    with local_postgres() if not why else _nothing() as pg:
        for _ in range(a.rounds):
            measure("SQLite", a.count, a.concurrency, (), None)
            if pg is not None:
                url = pg.new_database()
                measure("PostgreSQL", a.count, a.concurrency, ("--database", url), url)
    return 0


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
