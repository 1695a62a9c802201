"""pollchat side by side with the C floor: chatload runs and their ratios.

    python -m bench.floor --chatload-dir /tmp/chatload --variant after=. --variant before=/tmp/pollchat-main \\
        --scenarios burst,steady,capacity --reps 3 --out /tmp/floor.jsonl
    python -m bench.floor --summary /tmp/floor.jsonl

``chatload`` (a C epoll load generator) and ``c_epoll_chat`` (a minimal C epoll chat
server speaking pollchat's login dialect: the floor a chat server's fan-out can reach on
the machine) live outside this repository, in ``shared/tools/chatload``; build them with
``gcc -O2`` into ``--chatload-dir`` (its ``run_matrix.py`` must be there too). Every run
starts its server fresh on 127.0.0.1, port ``--port`` (default 3490) (pollchat: a fresh data directory,
``--kdf-iterations 1000``, the per-address, rate and login-time limits off, replay and
the game off), runs chatload, stops the server; the servers of one repetition run one
after the other, so their figures are compared within minutes of each other. A
``--variant NAME=DIR`` runs the pollchat source tree in DIR (``PYTHONPATH``), so the code
before and after a change can be measured in the same session.

Scenarios (chatload's, as its ``run_matrix.py`` sets them): ``burst`` (1,000 clients, 10
senders, window 8, 10 s), ``steady`` (1,000 clients, 10 senders at 10 lines/s, 10 s),
``capacity`` (10,000 idle clients log in, 64 at a time, then a probe must reach all),
``capacity-19k`` (issue 26: 19,000 clients log in, 1,024 at a time, each counted in when
its own welcome arrives; then a probe must reach all, every earlier ``has entered``
notice included; then one line to all, with its latency).
The summary gives, per scenario, each server's figures in every repetition, their
medians, and the ratio of each pollchat variant to the C server in the same repetition
(and the median of those ratios). Loopback only. Not run in CI.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

SCENARIOS = {
    "burst": lambda n, t: {"name": f"throughput-n{n}", "limit": 300 + t,
                           "args": ["--clients", str(n), "--senders", "10", "--duration", str(t), "--drain", "15",
                                    "--connect-timeout", "90", "--window", "8"]},
    "steady": lambda n, t: {"name": f"rate-n{n}", "limit": 300 + t,
                            "args": ["--clients", str(n), "--senders", "10", "--duration", str(t), "--drain", "15",
                                     "--connect-timeout", "90", "--rate", "10"]},
    "capacity": lambda n, t: {"name": f"capacity-n{n}", "limit": 320,
                              "args": ["--clients", str(n), "--senders", "0", "--hold", "3", "--concurrency", "64",
                                       "--connect-timeout", "120", "--quiesce-timeout", "60"]},
    # issue 26: one node up to its open-file limit (hard RLIMIT_NOFILE 20,000 here). A client
    # is in when its own welcome arrives (--ready-match, set per server), not when someone
    # sees its entered notice: "logged in" and "everyone told" are two figures. Then one
    # line from client 0 (rate 1 for 1 s) to all, with its latency percentiles.
    "capacity-19k": lambda n, t: {"name": f"capacity19k-n{n}", "limit": 900,
                                  "args": ["--clients", str(n), "--senders", "1", "--rate", "1", "--duration", "1",
                                           "--hold", "1", "--concurrency", "1024", "--connect-timeout", "400",
                                           "--quiesce-timeout", "300", "--drain", "60", "--idle-end", "20"]},
}
READY_MATCH = {"c_epoll": "Welcome ", "pollchat": "Access Provided"}
"""The line each server sends a client when its login succeeds (``capacity-19k``)."""


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run(a: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(a.chatload_dir).resolve()))
    import run_matrix  # chatload's runner: starts a server, runs chatload, stops it

    run_matrix.raise_nofile()
    variants = [v.split("=", 1) for v in a.variant]

    class Args:
        hs = None

    with open(a.out, "a") as out:
        for rep in range(a.reps):
            for name in a.scenarios.split(","):
                n = {"capacity": a.capacity_clients, "capacity-19k": a.capacity_19k_clients}.get(name, a.clients)
                servers = [("c_epoll", [str(Path(a.chatload_dir) / "c_epoll_chat"), str(a.port), "127.0.0.1"], None)]
                servers += [(label, None, src) for label, src in variants]
                for label, argv, src in servers:
                    scen = SCENARIOS[name](n, a.duration)
                    if name == "capacity-19k":
                        match = READY_MATCH["c_epoll" if label == "c_epoll" else "pollchat"]
                        scen = {**scen, "args": scen["args"] + ["--ready-match", match]}
                    for _ in range(30):
                        if _port_free(a.port):
                            break
                        time.sleep(1)
                    else:
                        print(f"port {a.port} stays busy", file=sys.stderr)
                        return 1
                    tmp = tempfile.mkdtemp(prefix="pollchat-floor-")
                    if src is not None:
                        argv = ["env", f"PYTHONPATH={Path(src).resolve()}", sys.executable, "-m", "pollchat.server",
                                "--max-users", "20000", "--max-accounts", "0", "--port", str(a.port), "--host",
                                "127.0.0.1", "--data-dir",
                                f"{tmp}/data", "--kdf-iterations", "1000", "--max-connections-per-address", "0",
                                "--rate-limit", "0", "--login-timeout", "0", "--register-rate", "0", "--replay", "0",
                                "--no-game", "--no-web", "--no-irc",
                                "--input-budget", "0", "--address-input-budget", "0",
                                "--log-level", "warning"]
                    record = run_matrix.run_one(label, argv, a.port, "pollchat", scen, Args, out)
                    print(rep, run_matrix.summarize(record), flush=True)
                    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def summary(path: str) -> str:
    """Per scenario: each server's figures per repetition, medians, ratios to C."""
    by: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
    for line in Path(path).read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            by[(r["scenario"], r["anchor"])].append(r)
    out = []
    for scenario in sorted({s for s, _ in by}):
        capacity = scenario.startswith("capacity")
        big = scenario.startswith("capacity19k")
        anchors = ["c_epoll"] + sorted(a for s, a in by if s == scenario and a != "c_epoll")
        anchors = [a for a in anchors if (scenario, a) in by]
        n = min(len(by[(scenario, a)]) for a in anchors)
        out.append(f"## {scenario} ({n} runs)")

        def fig(r: dict) -> float:
            if big:  # logged in: every client has its own welcome
                return r["connect"]["ready_s"]
            return r["connect"]["quiesced_s"] if capacity else r["run"]["server_cpu_us_per_delivery"]

        for a in anchors:
            rs = by[(scenario, a)][:n]
            figs = [round(fig(r), 3) for r in rs]
            line = f"{a:10s} {'login s' if capacity else 'CPU us/delivery'} {figs} median {statistics.median(figs):g}"
            rss = [round(r["server"]["rss_kib_ready"] / 1024, 1) for r in rs]
            if big:
                told = [round(r["connect"]["quiesced_s"], 1) for r in rs]
                reached = [f"{r['run']['delivered']}/{r['run']['expected']}" for r in rs]
                p99 = [round(r["run"]["lat_us"]["p99"] / 1000, 1) for r in rs]
                line += (f" | every entered notice s {told} | RSS MiB {rss} | the line reached {reached}, p99 ms {p99}"
                         f" | ok {[r.get('ok') for r in rs]}")
            elif capacity:
                alive = [r.get("hold", {}).get("alive") for r in rs]
                line += f" | RSS MiB {rss} median {statistics.median(rss):g} | verified {alive}"
            else:
                p99 = [round(r["run"]["lat_us"]["p99"] / 1000, 1) for r in rs]
                lost = [r["run"]["lost"] for r in rs]
                line += f" | p99 ms {p99} median {statistics.median(p99):g} | lost {lost} | RSS median {statistics.median(rss):g}"
            out.append(line)
        for a in anchors[1:]:
            ratios = [fig(x) / fig(c) for x, c in zip(by[(scenario, a)][:n], by[(scenario, "c_epoll")][:n])]
            out.append(f"  {a} / C: {[round(x, 2) for x in ratios]} median {statistics.median(ratios):.2f}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    p.add_argument("--chatload-dir", help="where chatload, c_epoll_chat and run_matrix.py are")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=DIR", help="a pollchat source tree to run")
    p.add_argument("--scenarios", default="burst,steady,capacity")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--capacity-clients", type=int, default=10000)
    p.add_argument("--capacity-19k-clients", type=int, default=19000)
    p.add_argument("--port", type=int, default=3490, help="the port every server listens on (127.0.0.1)")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--out", default="floor.jsonl")
    p.add_argument("--summary", metavar="FILE", help="only print the summary of a results file")
    a = p.parse_args(argv)
    if a.summary:
        print(summary(a.summary))
        return 0
    if not a.chatload_dir or not os.path.exists(Path(a.chatload_dir) / "chatload"):
        p.error("--chatload-dir must hold the built chatload, c_epoll_chat and run_matrix.py")
    status = run(a)
    print(summary(a.out))
    return status


if __name__ == "__main__":
    sys.exit(main())
