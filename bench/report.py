"""Turn a suite's results into the Markdown table and the plot of docs/performance.md.

    python -m bench.report [bench/results/RESULTS.jsonl] [--plot docs/performance.png]
    python -m bench.report run1.jsonl run2.jsonl run3.jsonl --median-out RESULTS.jsonl

With several results files (repeated runs of the suite), each scenario and server is
represented by its median run: the run whose key figure (CPU per delivery; for the
capacity scenario the seconds until all are in, for the storm its seconds) is the median
of the runs, so every figure of a row comes from one real run.

The plot (matplotlib, from the ``bench`` extra) shows, for each server, the server CPU per
delivery and the latency (p50, p99) against the number of clients, from the suite's
``scale-N`` runs (10 senders at 5 lines/s each). Not run in CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.suite import ROOT, markdown_table, medians, targets


def load(path: Path) -> tuple[list[dict], dict]:
    """(run records, summary line) of a suite results file."""
    runs, summary = [], {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if record.get("kind") == "summary":
            summary = record
        elif "error" not in record:
            runs.append(record)
    return runs, summary


KEY = {"capacity": "all_entered_seconds", "capacity-19k": "all_entered_seconds", "storm": "storm_seconds"}
"""The figure a scenario's median run is chosen by (default: server CPU per delivery)."""


def median_runs(results: list[list[dict]]) -> list[dict]:
    """One run per (scenario, server): the median by its key figure, in first-file order."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for runs in results:
        for r in runs:
            groups.setdefault((r["scenario"], r["server"]), []).append(r)
    out = []
    for (scenario, _), runs in groups.items():
        key = KEY.get(scenario, "server_cpu_us_per_delivery")
        ranked = sorted(runs, key=lambda r: (r.get(key) is None, r.get(key) or 0))
        chosen = dict(ranked[(len(ranked) - 1) // 2])
        chosen["median_of"] = len(runs)
        chosen["runs_" + key] = [r.get(key) for r in runs]
        out.append(chosen)
    return out


def plot(runs: list[dict], out: Path) -> None:
    """CPU per delivery and latency against clients, one line per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale = [r for r in runs if r["scenario"].startswith("scale-")]
    servers = sorted({r["server"] for r in scale}, key=lambda s: (s != "pollchat", s))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for server in servers:
        rows = sorted((r for r in scale if r["server"] == server), key=lambda r: r["clients"])
        xs = [r["clients"] for r in rows]
        ax1.plot(xs, [r.get("server_cpu_us_per_delivery") or None for r in rows], marker="o", label=server)
        line, = ax2.plot(xs, [r.get("latency_p99_ms") for r in rows], marker="o", label=f"{server} p99")
        ax2.plot(xs, [r.get("latency_p50_ms") for r in rows], marker=".", linestyle="--", color=line.get_color(),
                 label=f"{server} p50")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("logged-in clients (10 senders, 5 lines/s each)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_ylabel("server CPU per delivery (µs)")
    ax1.set_title("cost per delivery")
    ax2.set_ylabel("end-to-end latency (ms)")
    ax2.set_title("latency")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


RATIO_BASES = {"tls-burst": ("burst", 1.5), "tls-mixed": ("burst", None), "tls-steady": ("steady", 1.2),
               "ws-mixed": ("burst", 1.3), "group-burst": ("burst", 1.15), "mixed": ("burst", 1.3)}
"""Scenarios drawn as a ratio to their plain TCP base, with the target (``None``: none)."""


def plot_ratios(runs: list[dict], out: Path) -> None:
    """Server CPU per delivery of each front-end scenario as a ratio to its plain TCP
    base measured in the same round (one dot per round, a bar at the median), with the
    issues' targets; from the runs of ``--repeat``."""
    import statistics

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.suite import paired_ratios

    names = [name for name in RATIO_BASES if paired_ratios(runs, name, RATIO_BASES[name][0])]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for i, name in enumerate(names):
        base, bound = RATIO_BASES[name]
        ratios = paired_ratios(runs, name, base)
        ax.bar(i, statistics.median(ratios), color="#9ecae1", width=0.6)
        ax.plot([i] * len(ratios), ratios, "o", color="#08519c", markersize=4)
        if bound is not None:
            ax.plot([i - 0.35, i + 0.35], [bound, bound], color="#d62728", linewidth=2)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(names)), [f"{n}\n/ {RATIO_BASES[n][0]}" for n in names], fontsize=8)
    ax.set_ylabel("server CPU per delivery, x plain TCP")
    ax.set_title("each round against its own plain run (bars: median; red: target)")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="*", default=[str(ROOT / "bench" / "results" / "RESULTS.jsonl")])
    p.add_argument("--plot", help="write the plot to this PNG file")
    p.add_argument("--ratio-plot", help="write the front ends' ratios to plain TCP (same round) to this PNG file")
    p.add_argument("--median-out", help="with several results files: write the median runs here")
    a = p.parse_args(argv)
    loaded = [load(Path(path)) for path in a.results]
    summary = loaded[0][1]
    runs = loaded[0][0] if len(loaded) == 1 else median_runs([r for r, _ in loaded])
    if a.median_out:
        with open(a.median_out, "w") as f:
            for r in runs:
                f.write(json.dumps(r) + "\n")
            f.write(json.dumps(dict(summary, median_of=[p for p in a.results])) + "\n")
    print(markdown_table(medians(runs)))  # one row per scenario and server: medians when it ran several times
    print()
    for name, met, measured in targets(runs, summary.get("hash_seconds", 0.14)):
        print(f"- {'reported' if met is None else 'met' if met else '**not met**'}: {name} -- {measured}")
    if a.plot:
        plot(runs, Path(a.plot))
        print(f"\nplot written to {a.plot}", file=sys.stderr)
    if a.ratio_plot:
        plot_ratios(loaded[0][0] if len(loaded) == 1 else [r for rs, _ in loaded for r in rs], Path(a.ratio_plot))
        print(f"ratio plot written to {a.ratio_plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
