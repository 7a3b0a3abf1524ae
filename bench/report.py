"""Turn benchmark JSON into the Markdown tables the README shows.

    python bench/report.py bench/results/core.json [--baseline numpy]
    python bench/report.py bench/results/bench_*.json          # gpu-backend bench --cold-states --json

pytest-benchmark files: per group, the median of each backend and its ratio to the baseline's median
measured in the same run (ratio < 1: faster than the baseline).  `gpu-backend bench` reports: where the
first inference's time goes in each cold state, and the warm median.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


CATS = ("compile_link", "driver_jit", "gpu", "dispatch")


def bench_reports(files: list[Path]) -> None:
    """First inference by category in cold states a and b (and c, warm), one row per model and state."""
    print("| model | state | first inference | compile+link | driver JIT | GPU | dispatch | rest | programs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in files:
        r = json.loads(f.read_text())
        name = Path(r["model"]).parent.name if r["model"].endswith(".json") else Path(r["model"]).name
        cs = r.get("cold_states", {})
        rows = [(label, cs[key]["first_inference"]) for key, label in
                (("a_no_disk_cache", "a: fresh process, no disk cache"), ("b_disk_cache_warm", "b: fresh process, disk cache"))
                if key in cs]
        for label, fi in rows:
            c = fi["categories_ms"]
            rest = fi["wall_ms"] - sum(c[k] for k in CATS)
            print(f"| {name} | {label} | {fi['wall_ms']:.0f} | " + " | ".join(f"{c[k]:.0f}" for k in CATS)
                  + f" | {rest:.0f} | {fi['programs_compiled']} |")
        if "c_in_process" in cs:
            print(f"| {name} | c: in-process, new instance | {cs['c_in_process']['first_inference_ms']:.0f} "
                  f"| | | | | | |")
        print(f"| {name} | warm median ({r['warm']['runs']} runs) | {r['warm']['median_ms']:.1f} | | | | | | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json_file", type=Path, nargs="+")
    ap.add_argument("--baseline", default="numpy")
    args = ap.parse_args()
    first = json.loads(args.json_file[0].read_text())
    if "schema" in first:
        bench_reports(args.json_file)
        return
    data = first
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
