"""Warm inference time of one model at two revisions of this repository, measured in the same run.

    python bench/compare_revisions.py 691b5ac                  # that commit against the work tree
    python bench/compare_revisions.py 691b5ac HEAD --model ../shared/models/resnet_small

Each revision is checked out into a temporary git worktree and run in its own fresh process
(same Python, same driver); the processes alternate over several rounds so that drift on a shared
machine hits both sides alike.  Reported: the median (and min) of all warm runs of each side and
the ratio head / base (below 1: head is faster).  It answers "did this change make the static
models slower?" without trusting figures taken on another day.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKTREE = "worktree"

# Runs inside the checked-out revision: only APIs every revision since the loader landed has.
CHILD = r"""
import json, sys, time
import numpy as np
from loader import load_graph_model
model_json, runs = sys.argv[1], int(sys.argv[2])
model = load_graph_model(model_json)
folder = model_json.rsplit("/", 1)[0]
try:
    x = np.load(folder + "/input.npy")
    feed = x
except FileNotFoundError:
    z = np.load(folder + "/inputs.npz")
    feed = {k: z[k] for k in z.files}
for _ in range(3):
    model.predict(feed)
times = []
for _ in range(runs):
    t = time.perf_counter()
    model.predict(feed)
    times.append((time.perf_counter() - t) * 1e3)
print(json.dumps(times))
"""


def checkout(rev: str, tmp: Path) -> Path:
    if rev == WORKTREE:
        return ROOT
    path = tmp / rev.replace("/", "_")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(path), rev],
                   check=True, capture_output=True, text=True)
    return path


def run_side(tree: Path, model_json: Path, runs: int) -> list[float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    r = subprocess.run([sys.executable, "-c", CHILD, str(model_json), str(runs)], cwd=tree, env=env,
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"revision in {tree} failed: {r.stderr.strip()[-1500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="git revision measured as the baseline")
    ap.add_argument("head", nargs="?", default=WORKTREE, help="git revision (default: the work tree as it is)")
    ap.add_argument("--model", default=str(ROOT.parent / "shared" / "models" / "mobilenet_v2"))
    ap.add_argument("--runs", type=int, default=20, help="warm runs per side and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = ap.parse_args()
    model_json = Path(args.model).resolve()
    if model_json.is_dir():
        model_json = model_json / "model.json"
    times: dict[str, list[float]] = {"base": [], "head": []}
    with tempfile.TemporaryDirectory() as tmpdir:
        trees = {"base": checkout(args.base, Path(tmpdir)), "head": checkout(args.head, Path(tmpdir))}
        try:
            for r in range(args.rounds):
                for side in (("base", "head") if r % 2 == 0 else ("head", "base")):
                    times[side] += run_side(trees[side], model_json, args.runs)
                    print(f"round {r + 1} {side}: median {statistics.median(times[side]):.2f} ms", flush=True)
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                                   capture_output=True)
    result = {
        "date": datetime.date.today().isoformat(), "machine": platform.platform(), "cpus": os.cpu_count(),
        "model": str(model_json), "base": args.base, "head": args.head, "runs_per_side": len(times["base"]),
        "base_median_ms": round(statistics.median(times["base"]), 3), "base_min_ms": round(min(times["base"]), 3),
        "head_median_ms": round(statistics.median(times["head"]), 3), "head_min_ms": round(min(times["head"]), 3),
    }
    result["ratio_head_over_base"] = round(result["head_median_ms"] / result["base_median_ms"], 3)
    print(f"\n{model_json.parent.name}: base {args.base} median {result['base_median_ms']} ms (min "
          f"{result['base_min_ms']}), head {args.head} median {result['head_median_ms']} ms (min "
          f"{result['head_min_ms']}); head / base = {result['ratio_head_over_base']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
