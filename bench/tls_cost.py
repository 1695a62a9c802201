"""What one ``send()`` costs the sender over TLS and in clear, by the number of chat lines it carries.

    python -m bench.tls_cost                      # 1, 2, 4, 8, 16, 64 lines of 68 bytes
    python -m bench.tls_cost --lines 1,8 --sends 50000

Over loopback (127.0.0.1, a free port): a child process connects and reads everything;
this process sends ``--sends`` times the same buffer of N lines, on a plain socket and
then on pollchat's own server TLS context (``pollchat.server.tls.server_context``, a
certificate made for the run as in ``bench.suite``), and prints the sending thread's CPU
time per send and per line. TLS costs a fixed amount per record (the record header and
tag, the cipher's set-up, the ``ssl`` module's call) plus the cipher's cost per byte, so
its cost per line falls as a send carries more lines: what the server's fan-out pays per
recipient per pass (docs/performance.md, "Front ends: WebSocket and TLS"). Not run in CI.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import ssl
import sys
import tempfile
import time
from pathlib import Path

from bench.suite import bench_certificate
from pollchat.server.tls import server_context

LINE = b"x" * 67 + b"\n"  # a 64-byte bench line plus "b3: ": the size of one text-mode delivery


def _reader(port: int, cafile: str | None) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    if cafile:
        sock = ssl.create_default_context(cafile=cafile).wrap_socket(sock, server_hostname="127.0.0.1")
    while sock.recv(1 << 18):
        pass


def measure(lines: int, sends: int, tls: tuple[Path, Path, Path] | None) -> tuple[float, str]:
    """(CPU microseconds per send, protocol and cipher) for ``sends`` sends of ``lines`` lines."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        child = mp.get_context("fork").Process(target=_reader, args=(listener.getsockname()[1], str(tls[2]) if tls else None))
        child.start()
        conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        conn = server_context(tls[0], tls[1]).wrap_socket(conn, server_side=True)
    data = bytearray(LINE * lines)
    try:
        start = time.thread_time()
        for _ in range(sends):
            conn.sendall(data)
        cpu = time.thread_time() - start
        what = f"{conn.version()} {conn.cipher()[0]}" if tls else "plain"  # type: ignore[attr-defined]
    finally:
        conn.close()
        child.join(30)
    return cpu / sends * 1e6, what


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tls_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", default="1,2,4,8,16,64", help="lines per send, comma-separated")
    p.add_argument("--sends", type=int, default=20000, help="sends per measurement")
    p.add_argument("--repeat", type=int, default=3, help="measurements per case; the lowest is printed")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tls-cost-") as tmp:
        tls = bench_certificate(Path(tmp))
        print("| lines per send | bytes | plain us/send | TLS us/send | plain us/line | TLS us/line | TLS extra us/line |")
        print("|---|---|---|---|---|---|---|")
        cipher = ""
        for n in (int(x) for x in a.lines.split(",")):
            plain = min(measure(n, a.sends, None)[0] for _ in range(a.repeat))
            runs = [measure(n, a.sends, tls) for _ in range(a.repeat)]
            secure, cipher = min(runs)
            print(f"| {n} | {n * len(LINE):,} | {plain:.2f} | {secure:.2f} | {plain / n:.3f} | {secure / n:.3f} | "
                  f"{(secure - plain) / n:.3f} |")
        print(f"\n({cipher}; CPU time of the sending thread, lowest of {a.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
