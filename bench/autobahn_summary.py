"""Summarise an Autobahn|Testsuite fuzzing-client report: counts per section, and the
cases that are not plainly OK with the suite's own reason.

    python -m bench.autobahn_summary /tmp/pollchat-autobahn/reports

Reads the report folder's ``index.json`` (and each listed case's JSON for the reason).
Prints Markdown, ready for ``docs/websocket.md``. Exits 1 if any case FAILED.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

BEHAVIOURS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")


def case_key(case_id: str) -> list[int]:
    return [int(part) for part in case_id.split(".")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.autobahn_summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", type=Path, help="the fuzzing client's outdir (holds index.json)")
    parser.add_argument("--agent", default="pollchat")
    args = parser.parse_args(argv)
    index = json.loads((args.reports / "index.json").read_text("utf-8"))[args.agent]
    per_section: dict[str, Counter[str]] = defaultdict(Counter)
    notable = []
    for case_id in sorted(index, key=case_key):
        result = index[case_id]
        per_section[case_id.split(".")[0]][result["behavior"]] += 1
        if result["behavior"] != "OK" or result["behaviorClose"] != "OK":
            detail = json.loads((args.reports / result["reportfile"]).read_text("utf-8"))
            notable.append((case_id, result["behavior"], result["behaviorClose"], detail["description"], detail["result"]))
    total: Counter[str] = Counter()
    print("| section | cases | " + " | ".join(BEHAVIOURS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in BEHAVIOURS) + " |")
    for section in sorted(per_section, key=int):
        counts = per_section[section]
        total += counts
        print(f"| {section} | {sum(counts.values())} | " + " | ".join(str(counts[b]) for b in BEHAVIOURS) + " |")
    print(f"| all | {sum(total.values())} | " + " | ".join(str(total[b]) for b in BEHAVIOURS) + " |")
    if notable:
        print()
        for case_id, behaviour, close, description, why in notable:
            print(f"- {case_id} {behaviour} (close: {close}): {description}. Suite: {why}")
    return 1 if total["FAILED"] or total["UNIMPLEMENTED"] else 0


if __name__ == "__main__":
    sys.exit(main())
