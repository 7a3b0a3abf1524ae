"""Turn a pytest-benchmark JSON file into the Markdown table the README shows.

    python bench/report.py bench/results/core.json [--baseline numpy]

Per group: the median of each backend, and its ratio to the baseline's median measured in
the same run (ratio < 1: faster than the baseline).
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json_file", type=Path)
    ap.add_argument("--baseline", default="numpy")
    args = ap.parse_args()
    data = json.loads(args.json_file.read_text())
    groups: dict[str, dict[str, float]] = defaultdict(dict)
    for b in data["benchmarks"]:
        groups[b["group"]][b["extra_info"]["backend"]] = b["stats"]["median"] * 1e3
    backends = sorted({k for g in groups.values() for k in g}, key=lambda k: (k != args.baseline, k))
    info = data.get("machine_info", {})
    print(f"Measured {data.get('datetime', '?')[:10]} on {info.get('cpu', {}).get('brand_raw', '?')} "
          f"({info.get('cpu', {}).get('count', '?')} cores); medians in ms, (x) = ratio to {args.baseline}.\n")
    print("| kernel | " + " | ".join(backends) + " |")
    print("|---|" + "---|" * len(backends))
    for group, row in groups.items():
        base = row.get(args.baseline)
        cells = []
        for k in backends:
            if k not in row:
                cells.append("-")
            elif k == args.baseline or base is None:
                cells.append(f"{row[k]:.2f}")
            else:
                cells.append(f"{row[k]:.2f} ({row[k] / base:.2f}x)")
        print(f"| {group} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
