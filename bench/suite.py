"""The benchmark suite: the scenarios of issue 7 against pollchat and, when installed, anchors.

    python -m bench.suite            # the full suite, under 15 minutes on 2 cores
    python -m bench.suite --quick    # smaller numbers, under 3 minutes

Starts each server itself (127.0.0.1, a free port; pollchat with a fresh data directory,
history on as shipped, the per-address and rate limits off so one address can be a
thousand clients), runs ``bench.load`` against it, stops it, and writes one JSON line per
run to ``--out``. Anchors: ngircd (Debian package ``ngircd``; the suite writes a
loopback-only configuration with flood penalties and per-address limits off) and
miniircd (PyPI, the ``bench`` extra); a missing one is skipped with a note. At the end it
prints the results table and each target of the issue, met or not. Not run in CI.

The front-end scenarios (issues 12 and 15) start pollchat with its web port on a free
port (``ws-mixed``) or with a certificate made for the run by ``trustme`` (the ``test``
extra) or ``openssl req`` (``tls-burst``, ``tls-mixed``); the other scenarios run it with
``--no-web``. ``--repeat N`` runs the chosen scenarios N times, one round after the other
(so that scenarios compared with each other ran side by side), and reports medians.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path

from bench.load import Options, raise_nofile, run, table
from bench.pg import LocalPostgres, local_postgres
from bench.pg import unavailable as pg_unavailable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ITERATIONS = 600_000
STORM_PASSWORD = "stormpw"


# --- servers -------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def bench_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A certificate for 127.0.0.1 and localhost made for this run: (cert, key, CA file).

    ``trustme`` (the ``test`` extra: a throwaway CA and a leaf it signs, ECDSA P-256) when
    installed, else a self-signed ECDSA P-256 certificate from ``openssl req`` (its own CA)."""
    cert, key, ca = directory / "bench-cert.pem", directory / "bench-key.pem", directory / "bench-ca.pem"
    if not cert.exists():
        try:
            import trustme
        except ImportError:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
                            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shutil.copyfile(cert, ca)
        else:
            authority = trustme.CA()
            leaf = authority.issue_cert("127.0.0.1", "localhost")
            cert.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
            leaf.private_key_pem.write_to_path(str(key))
            authority.cert_pem.write_to_path(str(ca))
    return cert, key, ca


SERVER_LINES = {"port": r"^listening on [\d.]+:(\d+)$", "tls_port": r"^tls: listening on [\d.]+:(\d+)$",
                "web_port": r"^web client: https?://[\d.]+:(\d+)/$", "irc_port": r"^irc: listening on [\d.]+:(\d+)$"}
"""What pollchat prints on stdout once it listens, one line per listener."""


@contextmanager
def pollchat_server(max_users: int, *, kdf_iterations: int | None, accounts: str | None = None, web: bool = False,
                    tls: tuple[Path, Path] | None = None, irc: bool = False,
                    extra: tuple[str, ...] = ()) -> Iterator[tuple[int, int, dict[str, int]]]:
    """A pollchat server in a fresh data directory; yields (pid, port, ports), ``ports``
    naming every listener's port (``port``, ``tls_port`` with ``tls`` = (cert, key),
    ``web_port`` with ``web``, ``irc_port`` with ``irc``: the IRC gateway on a free port,
    guests let in, ``#bench`` its main channel; otherwise it runs with ``--no-web`` and
    ``--no-irc``)."""
    with tempfile.TemporaryDirectory(prefix="pollchat-bench-") as tmp:
        args = [sys.executable, "-m", "pollchat.server", "--max-users", str(max_users), "--host", "127.0.0.1",
                "--port", "0", "--data-dir", f"{tmp}/data", "--log-level", "warning",
                "--max-connections-per-address", "0", "--rate-limit", "0", "--login-timeout", "0", "--register-rate", "0",
                "--input-budget", "0", "--address-input-budget", "0"]
        args += ["--web-port", "0"] if web else ["--no-web"]  # never the default 9000: it may be taken
        # never the default 6667 either; bench.load's IRC clients PRIVMSG #bench: the main
        # chat, as the line-protocol clients' lines are (guests: bench.load without --irc-register)
        args += ["--irc-port", "0", "--irc-guests", "--irc-main-channel", "#bench"] if irc else ["--no-irc"]
        if tls:
            args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1]), "--tls-port", "0"]
        if kdf_iterations:
            args += ["--kdf-iterations", str(kdf_iterations)]
        if accounts:
            args += ["--accounts", accounts]
        args += extra
        wanted = ["port"] + (["tls_port"] if tls else []) + (["web_port"] if web else []) + (["irc_port"] if irc else [])
        with open(f"{tmp}/stdout", "w") as out, open(f"{tmp}/stderr", "w") as err:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=ROOT)
        try:
            ports: dict[str, int] = {}
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and len(ports) < len(wanted):
                text = Path(f"{tmp}/stdout").read_text()
                for name in wanted:
                    match = re.search(SERVER_LINES[name], text, re.MULTILINE)
                    if match:
                        ports[name] = int(match.group(1))
                if len(ports) < len(wanted):
                    if proc.poll() is not None:
                        break
                    time.sleep(0.05)
            if len(ports) < len(wanted):
                raise RuntimeError(f"pollchat did not start: {Path(f'{tmp}/stderr').read_text()[-500:]}")
            yield proc.pid, ports["port"], ports
            if proc.poll() is not None:
                raise RuntimeError(f"pollchat exited during the run: {Path(f'{tmp}/stderr').read_text()[-500:]}")
        finally:
            _stop(proc)


NGIRCD_CONF = """\
[Global]
Name = bench.localhost
Info = pollchat benchmark anchor
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = bench
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
"""


@contextmanager
def ngircd_server() -> Iterator[tuple[int, int, dict[str, int]]]:
    """ngircd in the foreground with a loopback-only config, flood penalties off."""
    binary = shutil.which("ngircd") or ("/usr/sbin/ngircd" if os.path.exists("/usr/sbin/ngircd") else None)
    assert binary
    with tempfile.TemporaryDirectory(prefix="ngircd-bench-") as tmp:
        os.chmod(tmp, 0o755)  # ngircd drops root for "nobody", who must read the config
        port = _free_port()
        conf = Path(tmp, "ngircd.conf")
        conf.write_text(NGIRCD_CONF.format(port=port))
        conf.chmod(0o644)
        with open(f"{tmp}/log", "w") as log:
            proc = subprocess.Popen([binary, "-n", "-f", str(conf)], stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT)
        try:
            _wait_port(port, proc)
            yield proc.pid, port, {"port": port}
        finally:
            _stop(proc)


@contextmanager
def miniircd_server() -> Iterator[tuple[int, int, dict[str, int]]]:
    """miniircd (pure Python, select()) in the foreground on 127.0.0.1."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", "import sys, miniircd; sys.argv[0] = 'miniircd'; miniircd.main()",
                             "--listen", "127.0.0.1", "--ports", str(port)]
                            + (["--setuid", "nobody"] if os.geteuid() == 0 else []),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        yield proc.pid, port, {"port": port}
    finally:
        _stop(proc)


def anchors_available() -> dict[str, str | None]:
    """Anchor name -> None if usable, else why it is skipped."""
    found: dict[str, str | None] = {}
    found["ngircd"] = None if (shutil.which("ngircd") or os.path.exists("/usr/sbin/ngircd")) else \
        "ngircd is not installed (apt-get install ngircd)"
    found["miniircd"] = None if importlib.util.find_spec("miniircd") else \
        "miniircd is not installed (pip install -e '.[bench]')"
    found["pollchat-pg"] = pg_unavailable()
    return found


# --- scenarios -----------------------------------------------------------------------------------------

def scenarios(quick: bool) -> list[dict]:
    """Each: name, servers it runs on, and the load options."""
    q = quick
    n_burst = 200 if q else 1000
    dur = 4.0 if q else 10.0
    out = [
        {"name": "burst", "servers": ["pollchat", "pollchat-pg", "ngircd", "miniircd"],
         "opts": Options(clients=n_burst, senders=10, window=8, rate=None, duration=dur)},
        {"name": "steady", "servers": ["pollchat", "pollchat-pg", "ngircd", "miniircd"],
         "opts": Options(clients=n_burst, senders=10, rate=10.0, window=None, duration=5.0 if q else 15.0)},
        {"name": "mixed", "servers": ["pollchat"],
         "opts": Options(clients=n_burst, senders=10, window=8, rate=None, duration=dur, json_fraction=0.5)},
        # the front ends (issues 12 and 15): burst's parameters over WebSocket and TLS
        {"name": "ws-mixed", "servers": ["pollchat"], "web": True,
         "opts": Options(clients=n_burst, senders=10, window=8, rate=None, duration=dur, ws_fraction=0.5)},
        {"name": "tls-burst", "servers": ["pollchat"], "tls": True,
         "opts": Options(clients=n_burst, senders=10, window=8, rate=None, duration=dur, tls_fraction=1.0)},
        {"name": "tls-mixed", "servers": ["pollchat"], "tls": True,
         "opts": Options(clients=n_burst, senders=10, window=8, rate=None, duration=dur, tls_fraction=0.5)},
        # steady's rate over TLS: a line alone in its pass, so one TLS record per delivery (no batching)
        {"name": "tls-steady", "servers": ["pollchat"], "tls": True,
         "opts": Options(clients=n_burst, senders=10, rate=10.0, window=None, duration=5.0 if q else 15.0,
                         tls_fraction=1.0)},
        # issue 26: burst's parameters, every client in one public group, the lines sent to it
        {"name": "group-burst", "servers": ["pollchat"], "server_args": ("--max-group-members", "0"),
         "opts": Options(clients=n_burst, senders=10, window=8, rate=None, duration=dur, group="bench")},
        # issue 23: burst's parameters over the IRC gateway: accounts registered with REGISTER,
        # in #bench, the main channel (--irc-main-channel), so their lines are main-chat lines
        {"name": "irc-burst", "servers": ["pollchat"], "irc": True,
         "opts": Options(clients=n_burst, senders=10, window=8, rate=None, duration=dur, protocol="irc",
                         irc_register=True)},
        {"name": "capacity", "servers": ["pollchat", "ngircd"],
         "opts": Options(clients=2000 if q else 10000, senders=1, window=1, rate=None, messages=1, duration=10.0,
                         login_timeout=120.0, settle_timeout=120.0)},
        # issue 26: one node up to its open-file limit (hard RLIMIT_NOFILE 20,000 here): 19,000
        # logged-in clients from four source addresses, then one line to all of them
        {"name": "capacity-19k", "servers": ["pollchat"], "server_args": ("--max-accounts", "0"),
         "opts": Options(clients=4000 if q else 19000, senders=1, window=1, rate=None, messages=1, duration=10.0,
                         login_timeout=180.0, settle_timeout=180.0, sources=4, login_concurrency=512)},
        {"name": "storm", "servers": ["pollchat"],
         "opts": Options(clients=100, senders=10, rate=5.0, window=None, duration=10.0 if q else 15.0,
                         storm=30 if q else 100, storm_at=1.0)},
    ]
    for n in (10, 100, 1000) if q else (10, 100, 1000, 5000):
        out.append({"name": f"scale-{n}", "servers": ["pollchat", "ngircd"] + (["miniircd"] if n <= 1000 else []),
                    "opts": Options(clients=n, senders=min(10, n // 2), rate=5.0, window=None,
                                    duration=3.0 if q else 6.0, extra={"scale": True})})
    return out


def hash_seconds() -> float:
    """One PBKDF2-SHA256 hash at the default iterations, best of 3 (CPU time of one core)."""
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        hashlib.pbkdf2_hmac("sha256", b"password", b"saltsaltsaltsalt", DEFAULT_ITERATIONS)
        best = min(best, time.perf_counter() - t)
    return best


def _storm_accounts(path: Path, count: int) -> None:
    sys.path.insert(0, str(ROOT))
    from pollchat.core.passwords import hash_password  # the bench may use pollchat; pollchat never uses bench

    encoded = hash_password(STORM_PASSWORD, DEFAULT_ITERATIONS)
    path.write_text("".join(f'[[account]]\nname = "storm{i}"\npassword_hash = "{encoded}"\n\n' for i in range(count)))


def run_one(server: str, sc: dict, tmp: Path, pg: LocalPostgres | None = None) -> dict:
    o: Options = replace(sc["opts"], label=f"{sc['name']}/{server}")
    kdf = 1000
    accounts = None
    extra: tuple[str, ...] = ()
    if server == "pollchat-pg":  # the same server on a fresh PostgreSQL database
        assert pg is not None
        extra = ("--database", pg.new_database())
    elif server != "pollchat":
        o = replace(o, protocol="irc", login_concurrency=4 if server == "ngircd" else 2)
        if server == "miniircd":
            o = replace(o, workers=1)
    if sc["name"] == "storm":
        accounts = tmp / "storm-accounts.toml"
        if not accounts.exists():
            _storm_accounts(accounts, o.storm)
        o = replace(o, storm_password=STORM_PASSWORD)
        # The storm's logins all come from 127.0.0.1 and are checked in parallel; the
        # login throttle counts attempts under way per address, so with its default of
        # 30 the other 70 would be refused unchecked (a real storm comes from many
        # addresses). The storm measures hashing off the loop: the address limit is off.
        extra = ("--address-lockout-after", "0")
    extra += tuple(sc.get("server_args", ()))
    tls = None
    if sc.get("tls"):
        cert, key, ca = bench_certificate(tmp)
        tls = (cert, key)
        o = replace(o, cafile=str(ca))
    def ours() -> Iterator[tuple[int, int, dict[str, int]]]:
        return pollchat_server(o.clients + o.storm + 20, kdf_iterations=kdf, accounts=str(accounts) if accounts else None,
                               web=bool(sc.get("web")), tls=tls, irc=bool(sc.get("irc")), extra=extra)

    ctx = {"pollchat": ours, "pollchat-pg": ours, "ngircd": ngircd_server, "miniircd": miniircd_server}[server]
    with ctx() as (pid, port, ports):
        if sc.get("irc"):
            port = ports["irc_port"]
        report = run(replace(o, port=port, server_pid=pid, web_port=ports.get("web_port"),
                             tls_port=ports.get("tls_port")))
    report["scenario"] = sc["name"]
    report["server"] = server
    return report


# --- targets ---------------------------------------------------------------------------------------------

WORST_KEYS = ("losses", "clients_dropped", "clients_failed", "loadgen_max_worker_cpu_share", "loadgen_saturated")
"""Fields summarised over repeated runs by the worst run instead of the median."""


def medians(results: list[dict]) -> list[dict]:
    """One record per (scenario, server): the median of every number over its runs
    (``runs`` tells how many), the worst of :data:`WORST_KEYS` (a loss in any run
    counts), in the order the scenarios first ran."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["scenario"], r["server"]), []).append(r)
    out = []
    for rows in groups.values():
        merged = dict(rows[0])
        merged["runs"] = len(rows)
        for key, value in rows[0].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) or key in WORST_KEYS:
                values = [r[key] for r in rows if r.get(key) is not None]
                if not values:
                    continue
                if key in WORST_KEYS:
                    merged[key] = max(values)
                else:
                    m = statistics.median(values)
                    merged[key] = round(m, 3) if isinstance(m, float) else m
        out.append(merged)
    return out


def paired_ratios(results: list[dict], scenario: str, base: str = "burst", key: str = "server_cpu_us_per_delivery",
                  server: str = "pollchat") -> list[float]:
    """``key`` of ``scenario`` on ``server`` over ``key`` of ``base`` on pollchat (SQLite)
    within each round, so that each ratio compares runs made minutes apart on the same
    machine."""
    by_round: dict[int, dict[tuple[str, str], dict]] = {}
    for r in results:
        if r["server"] in ("pollchat", server) and r.get(key):
            by_round.setdefault(r.get("round", 0), {})[(r["scenario"], r["server"])] = r
    mine, theirs = (scenario, server), (base, "pollchat")
    return [round(rows[mine][key] / rows[theirs][key], 3) for rows in by_round.values() if mine in rows and theirs in rows]


def targets(results: list[dict], hash_s: float) -> list[tuple[str, bool | None, str]]:
    """(target, met?, measured) for each target of issue 13 (those of issue 7, with the
    steady CPU target now a ratio to the C floor, measured with chatload) and of issues 12
    and 15, from pollchat's runs (medians when a scenario ran several times); met is
    ``None`` for a figure that is only reported."""
    by = {(r["scenario"], r["server"]): r for r in medians(results)}
    out: list[tuple[str, bool | None, str]] = []

    def get(sc: str, server: str = "pollchat") -> dict | None:
        return by.get((sc, server))

    b = get("burst")
    if b:
        cpu = b.get("server_cpu_us_per_delivery")
        out.append(("1 burst: <= 0.20 us CPU/delivery, zero losses", cpu is not None and cpu <= 0.20 and b["losses"] == 0,
                    f"{cpu} us, {b['losses']} lost"))
    s = get("steady")
    if s:  # issue 13 sets its CPU part against the C floor in the same chatload run (docs/performance.md)
        cpu, p99 = s.get("server_cpu_us_per_delivery"), s.get("latency_p99_ms")
        out.append(("2 steady: p99 <= 10 ms (CPU: <= 1.3 x the C floor, see chatload)",
                    p99 is not None and p99 <= 10, f"{cpu} us, p99 {p99} ms"))
    c = get("capacity")
    if c:
        ok = (c["clients_ready"] == c["clients"] and c["entered_received"] >= c["entered_expected"]
              and c["losses"] == 0 and c["deliveries_received"] == c["clients"] - 1)
        t, rss = c["all_entered_seconds"], c.get("server_rss_ready_mib")
        out.append((f"3 capacity: {c['clients']} held, all in within 15 s, RSS <= 48 MiB",
                    ok and t <= 15 and rss is not None and rss <= 48,
                    f"{c['clients_ready']} ready, all entered after {t} s, RSS {rss} MiB, final broadcast "
                    f"{c['deliveries_received']}/{c['clients'] - 1}"))
    c = get("capacity-19k")
    if c:  # issue 26: one node up to its open-file limit
        ok = (c["clients_ready"] == c["clients"] and c["entered_received"] >= c["entered_expected"]
              and c["losses"] == 0 and c["deliveries_received"] == c["clients"] - 1)
        t, ready, rss = c["all_entered_seconds"], c["ready_seconds"], c.get("server_rss_ready_mib")
        out.append((f"issue 26 capacity-19k: {c['clients']} logged in within 20 s, RSS <= 70 MiB, one line to all",
                    ok and ready <= 20 and rss is not None and rss <= 70,
                    f"{c['clients_ready']} logged in after {ready} s (every entered notice after {t} s), RSS {rss} MiB, "
                    f"the line reached {c['deliveries_received']}/{c['clients'] - 1}, p99 {c.get('latency_p99_ms')} ms"))
    st = get("storm")
    if st:
        cores = os.cpu_count() or 1
        bound = 1.3 * st["storm_logins"] * hash_s / cores
        p99 = st.get("latency_p99_ms")
        secs = st.get("storm_seconds")
        out.append((f"4 storm: chat p99 <= 20 ms, {st['storm_logins']} logins within {bound:.2f} s",
                    p99 is not None and secs is not None and p99 <= 20 and secs <= bound and st["storm_ok"] == st["storm_logins"],
                    f"p99 {p99} ms (during the storm {st.get('storm_latency_p99_ms')} ms), storm {secs} s "
                    f"({st['storm_ok']} ok; one hash {hash_s:.3f} s)"))
    m = get("mixed")
    if m and b and b.get("server_cpu_us_per_delivery") and m.get("server_cpu_us_per_delivery"):
        ratio = m["server_cpu_us_per_delivery"] / b["server_cpu_us_per_delivery"]
        out.append(("5 mixed: <= 1.3 x scenario 1", ratio <= 1.3 and m["losses"] == 0,
                    f"{m['server_cpu_us_per_delivery']} us = {ratio:.2f} x, {m['losses']} lost"))
    for name, base_name, title, bound in (
            ("ws-mixed", "burst", "issue 12 ws-mixed: <= 1.3 x burst CPU/delivery, zero losses", 1.3),
            ("group-burst", "burst", "issue 26 group-burst: <= 1.15 x burst CPU/delivery, zero losses", 1.15),
            ("irc-burst", "burst", "issue 23 irc-burst: <= 1.15 x burst CPU/delivery, zero losses", 1.15),
            ("tls-burst", "burst", "issue 26 tls-burst: <= 1.5 x burst CPU/delivery, zero losses", 1.5),
            ("tls-mixed", "burst", "issue 15 tls-mixed: CPU/delivery beside burst (reported)", None),
            ("tls-steady", "steady", "issue 26 tls-steady: <= 1.2 x steady CPU/delivery, zero losses", 1.2)):
        r, base_run = get(name), get(base_name)
        base = base_run.get("server_cpu_us_per_delivery") if base_run else None
        if not r or not base or not r.get("server_cpu_us_per_delivery"):
            continue
        ratio = r["server_cpu_us_per_delivery"] / base
        paired = paired_ratios(results, name, base_name)
        measured = (f"{r['server_cpu_us_per_delivery']} us against {base} us = {ratio:.2f} x"
                    + (f" (per round: {', '.join(f'{x:.2f}' for x in paired)}; median {statistics.median(paired):.2f})"
                       if len(paired) > 1 else "") + f", {r['losses']} lost")
        if bound is not None:  # the target is a ratio to the base scenario (per round, median)
            ratio_judged = statistics.median(paired) if len(paired) > 1 else ratio
            out.append((title, ratio_judged <= bound and r["losses"] == 0, measured))
        else:
            out.append((title, None, measured))
    for name in ("burst", "steady"):  # issue 21: the PostgreSQL port against SQLite in the same run
        r, base_run = get(name, "pollchat-pg"), get(name)
        base = base_run.get("server_cpu_us_per_delivery") if base_run else None
        if not r or not base or not r.get("server_cpu_us_per_delivery"):
            continue
        paired = paired_ratios(results, name, name, server="pollchat-pg")
        ratio = statistics.median(paired) if paired else r["server_cpu_us_per_delivery"] / base
        out.append((f"issue 21 {name} on PostgreSQL: <= 1.2 x SQLite CPU/delivery, zero losses",
                    ratio <= 1.2 and r["losses"] == 0,
                    f"{r['server_cpu_us_per_delivery']} us against {base} us = {ratio:.2f} x"
                    + (f" (per round: {', '.join(f'{x:.2f}' for x in paired)})" if len(paired) > 1 else "")
                    + f", {r['losses']} lost"))
    return out


def verdict(met: bool | None) -> str:
    """``MET``, ``NOT MET`` or ``INFO`` (a figure without a target), 7 wide."""
    return "INFO   " if met is None else "MET    " if met else "NOT MET"


SUMMARY_COLS = [("scenario", "scenario"), ("server", "server"), ("runs", "runs"), ("clients", "clients"),
                ("sent", "messages_sent"), ("deliveries", "deliveries_received"), ("lost", "losses"),
                ("deliv/s", "deliveries_per_second"), ("p50 ms", "latency_p50_ms"), ("p99 ms", "latency_p99_ms"),
                ("CPU us/deliv", "server_cpu_us_per_delivery"), ("RSS MiB", "server_rss_ready_mib"),
                ("ready s", "all_entered_seconds"), ("loadgen busy", "loadgen_max_worker_cpu_share")]


def markdown_table(results: list[dict]) -> str:
    """The results as a Markdown table."""
    head = "| " + " | ".join(t for t, _ in SUMMARY_COLS) + " |"
    lines = [head, "|" + "---|" * len(SUMMARY_COLS)]
    for r in results:
        cells = []
        for _, key in SUMMARY_COLS:
            v = r.get(key)
            cells.append("" if v is None else f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller numbers (under 3 minutes)")
    p.add_argument("--out", help="JSON lines file (default bench/results/RESULTS.jsonl, QUICK.jsonl with --quick)")
    p.add_argument("--only", help="comma-separated scenario names (e.g. burst,steady)")
    p.add_argument("--servers", default="pollchat,ngircd,miniircd",
                   help="comma-separated servers to run (pollchat-pg: pollchat with --database on a local PostgreSQL)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run the chosen scenarios this many rounds, one round after the other; report medians")
    a = p.parse_args(argv)
    out = Path(a.out) if a.out else ROOT / "bench" / "results" / ("QUICK.jsonl" if a.quick else "RESULTS.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    raise_nofile()
    wanted = set(a.servers.split(","))
    only = set(a.only.split(",")) if a.only else None
    avail = anchors_available()
    for name, why in avail.items():
        if why and name in wanted:
            print(f"skipping {name}: {why}", file=sys.stderr)
    run_id = time.strftime("%Y-%m-%dT%H:%M:%S")
    meta = {"run_id": run_id, "quick": a.quick, "python": platform.python_version(), "cpus": os.cpu_count(),
            "cpu_model": _cpu_model()}
    hash_s = hash_seconds()
    results: list[dict] = []
    t0 = time.monotonic()
    rounds = max(1, a.repeat)
    postgres = local_postgres() if "pollchat-pg" in wanted and not avail.get("pollchat-pg") else nullcontext(None)
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp, open(out, "w") as f, postgres as pg:
        for rnd, sc in ((rnd, sc) for rnd in range(rounds) for sc in scenarios(a.quick)):
            if only and sc["name"] not in only:
                continue
            for server in sc["servers"]:
                if server not in wanted or (server != "pollchat" and avail.get(server)):
                    continue
                print(f"[{time.monotonic() - t0:6.1f}s] {sc['name']} on {server}"
                      + (f" (round {rnd + 1} of {rounds})" if rounds > 1 else "") + " ...", file=sys.stderr, flush=True)
                try:
                    report = run_one(server, sc, Path(tmp), pg)
                except Exception as exc:  # one failed run must not lose the others
                    report = {"scenario": sc["name"], "server": server, "error": f"{type(exc).__name__}: {exc}"}
                    print(f"  failed: {report['error']}", file=sys.stderr)
                report.update(meta)
                report["round"] = rnd
                if sc["name"] == "storm":
                    report["hash_seconds"] = round(hash_s, 4)
                results.append(report)
                f.write(json.dumps(report) + "\n")
                f.flush()
                if "error" not in report:
                    print(table(report), file=sys.stderr)
        meta_line = dict(meta, kind="summary", seconds=round(time.monotonic() - t0, 1), hash_seconds=round(hash_s, 4),
                         skipped={k: v for k, v in avail.items() if v})
        f.write(json.dumps(meta_line) + "\n")
    ok = [r for r in results if "error" not in r]
    if rounds > 1:
        print("Every run:\n")
        print(markdown_table(ok))
        print(f"\nMedians of {rounds} rounds (lost, loadgen busy: the worst run):\n")
    print(markdown_table(medians(ok)))
    print()
    for name, met, measured in targets(ok, hash_s):
        print(f"{verdict(met)}  {name}: {measured}")
    if a.quick:
        print("(--quick: smaller scenarios than the targets are set for; run the full suite to judge them)")
    print(f"\nsuite took {time.monotonic() - t0:.0f} s; results in {out}")
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
